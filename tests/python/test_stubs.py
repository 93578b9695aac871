"""The type stubs describe the module as it is: every name, member and keyword, with defaults."""

import ast
import inspect
from pathlib import Path

import epchip
import epchip._native as native

STUB = ast.parse((Path(native.__file__).parent / "_native.pyi").read_text())


def stub_functions(body):
    return {n.name: n for n in body if isinstance(n, ast.FunctionDef)}


def stub_classes():
    return {n.name: n for n in STUB.body if isinstance(n, ast.ClassDef)}


def public(obj):
    return {n for n in dir(obj) if not n.startswith("_")}


def test_every_public_name_is_in_the_stubs_and_exported():
    names = set(stub_functions(STUB.body)) | set(stub_classes())
    assert names == public(native) - {"epchip"}
    assert set(epchip.__all__) - {"__version__"} == names


def test_every_member_of_every_class_is_in_the_stubs():
    for name, node in stub_classes().items():
        members = {n.name for n in node.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")}
        assert members == public(getattr(native, name)), name


def check_signature(function, node):
    runtime = inspect.signature(function)
    args = node.args
    stub = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs if a.arg != "self"]
    assert [p for p in runtime.parameters if p != "self"] == stub, node.name
    defaults = dict(zip([a.arg for a in args.kwonlyargs], args.kw_defaults))
    positional = args.posonlyargs + args.args
    defaults.update(zip([a.arg for a in positional[len(positional) - len(args.defaults):]], args.defaults))
    for p in runtime.parameters.values():
        if p.default is not inspect.Parameter.empty and p.name in defaults:
            assert ast.literal_eval(defaults[p.name]) == p.default, (node.name, p.name)


def test_signatures_and_defaults_match():
    for name, node in stub_functions(STUB.body).items():
        check_signature(getattr(native, name), node)
        assert getattr(native, name).__doc__, name
    for name, node in stub_classes().items():
        cls = getattr(native, name)
        for method in stub_functions(node.body).values():
            if method.name == "__init__":
                check_signature(cls, method)
            elif not any(isinstance(d, ast.Name) and d.id == "property" for d in method.decorator_list):
                check_signature(getattr(cls, method.name), method)
                assert getattr(cls, method.name).__doc__, (name, method.name)
