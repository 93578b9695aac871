"""Checks epchip's exports with the official `nir` package and h5py (run by tests/interop/nir.sh).

usage: nir_check.py WORKDIR EPCHIP_BINARY

WORKDIR holds rate.nir, spiking.nir, model.netx, spiking.netx and mapping.json exported from one run. The mapping
file is the reference: it carries the weights, biases and per-neuron time steps in plain JSON.
"""

import json
import subprocess
import sys
from pathlib import Path

import h5py
import nir
import numpy as np

work, binary = Path(sys.argv[1]), sys.argv[2]
mapping = json.loads((work / "mapping.json").read_text())
layers = mapping["layers"]
n = len(layers)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def projection(kind, pre, post):
    for p in mapping["projections"]:
        if p["kind"] == kind and p["pre"] == pre and p["post"] == post:
            return p
    raise KeyError((kind, pre, post))


names = ["input"] + [f"h{l}" for l in range(1, n - 1)] + ["output"]
for variant, neuron_type in (("rate", nir.LI),):
    path = work / f"{variant}.nir"
    graph = nir.read(str(path))  # with nir's own type checks
    dt = float(graph.metadata["dt"])
    check(dt > 0, f"{variant}: graph metadata dt = {dt}")
    expected_edges = {("input", "fwd1"), (f"layer{n - 1}", "output")}
    for l in range(1, n):
        expected_edges |= {(f"layer{l}", f"fwd{l + 1}")} if l + 1 < n else set()
        expected_edges |= {(f"fwd{l}", f"layer{l}")}
        if l >= 2:
            expected_edges |= {(f"layer{l}", f"fb{l}"), (f"fb{l}", f"layer{l - 1}")}
    check(set(map(tuple, graph.edges)) == expected_edges, f"{variant}: edges {sorted(graph.edges)}")
    check(list(graph.nodes["input"].input_type["input"]) == [layers[0]], f"{variant}: input shape")
    check(list(graph.nodes["output"].output_type["output"]) == [layers[-1]], f"{variant}: output shape")
    for l in range(1, n):
        pop = mapping["populations"][l - 1]
        fwd = projection("forward", names[l - 1], names[l])
        affine = graph.nodes[f"fwd{l}"]
        check(isinstance(affine, nir.Affine), f"{variant}: fwd{l} is {type(affine).__name__}")
        w = np.array(fwd["weight"], dtype=np.float32)  # post x pre
        check(affine.weight.shape == w.shape, f"{variant}: fwd{l} weight shape {affine.weight.shape} vs {w.shape}")
        check(np.allclose(affine.weight, w, rtol=1e-6, atol=1e-7), f"{variant}: fwd{l} weights differ")
        check(np.allclose(affine.bias, pop["bias"], rtol=1e-6, atol=1e-7), f"{variant}: fwd{l} bias differs")
        node = graph.nodes[f"layer{l}"]
        check(type(node) is neuron_type, f"{variant}: layer{l} is {type(node).__name__}")
        tau = dt / np.array(pop["dt"], dtype=np.float64)
        check(node.tau.shape == (layers[l],), f"{variant}: layer{l} tau shape {node.tau.shape}")
        check(np.allclose(node.tau, tau, rtol=1e-6), f"{variant}: layer{l} per-neuron tau differs")
        check(np.all(node.r == 1) and np.all(node.v_leak == 0), f"{variant}: layer{l} r / v_leak")
        check("activation" in node.metadata, f"{variant}: layer{l} has no activation metadata")
        if l >= 2:
            fb = projection("feedback", names[l], names[l - 1])
            linear = graph.nodes[f"fb{l}"]
            check(isinstance(linear, nir.Linear), f"{variant}: fb{l} is {type(linear).__name__}")
            check(np.allclose(linear.weight, np.array(fb["weight"]), rtol=1e-6, atol=1e-7), f"{variant}: fb{l}")
    if variant == "rate":
        hts = np.concatenate([graph.nodes[f"layer{l}"].tau for l in range(1, n)])
        check(hts.std() > 0, "rate: time constants are heterogeneous (lognormal tau was trained)")

# The spiking deployment (export --spiking): a feed-forward chain of Affine and IF nodes in integer
# units, the same numbers as the spiking netx file (CUBA neurons without current memory or leak).
spiking = nir.read(str(work / "spiking.nir"))
chain = {("input", "fwd1"), (f"layer{n - 1}", "output")}
for l in range(1, n):
    chain |= {(f"fwd{l}", f"layer{l}")} | ({(f"layer{l}", f"fwd{l + 1}")} if l + 1 < n else set())
check(set(map(tuple, spiking.edges)) == chain, f"spiking: edges {sorted(spiking.edges)} (feed-forward chain)")
check(int(spiking.metadata["steps_per_example"]) > 0, "spiking: steps_per_example in metadata")
with h5py.File(work / "spiking.netx", "r") as f:
    for l in range(1, n):
        affine, node, layer = spiking.nodes[f"fwd{l}"], spiking.nodes[f"layer{l}"], f["layer"][str(l - 1)]
        check(type(node) is nir.IF, f"spiking: layer{l} is {type(node).__name__}")
        check(np.array_equal(affine.weight, np.round(affine.weight)), f"spiking: fwd{l} weights are not integers")
        check(np.abs(affine.weight).max() <= 254, f"spiking: fwd{l} weights exceed 8-bit synapses")
        check(np.array_equal(affine.weight, layer["weight"][()]), f"spiking: fwd{l} and netx layer {l - 1} differ")
        check(np.array_equal(affine.bias, layer["bias"][()]), f"spiking: fwd{l} bias and netx differ")
        check(np.all(node.v_threshold == int(layer["neuron"]["vThMant"][()])), f"spiking: layer{l} threshold")
        check(int(layer["neuron"]["iDecay"][()]) == 4096 and int(layer["neuron"]["vDecay"][()]) == 0,
              f"spiking netx {l - 1}: iDecay 4096 (no current memory) and vDecay 0 (no leak)")

# Lava-dl netx layout: integer weights (the chip's mantissas), per-neuron decays.
with h5py.File(work / "model.netx", "r") as f:
    group = f["layer"]
    check(sorted(group.keys(), key=int) == [str(k) for k in range(n - 1)], f"netx layers {list(group.keys())}")
    for k in range(n - 1):
        layer = group[str(k)]
        pop = mapping["populations"][k]
        fwd = projection("forward", names[k], names[k + 1])
        check(layer["type"][0].decode("ascii") == "dense", f"netx {k}: type {layer['type'][()]}")
        check(list(layer["shape"][()]) == [layers[k + 1]], f"netx {k}: shape {layer['shape'][()]}")
        w = layer["weight"][()]
        check(w.shape == (layers[k + 1], layers[k]), f"netx {k}: weight shape {w.shape}")
        check(np.array_equal(w, np.round(w)), f"netx {k}: weights are not integers")
        check(np.array_equal(w.astype(int), np.array(fwd["weight_mantissa"])), f"netx {k}: weights != mantissas")
        check(int(layer["weightExp"][()]) == fwd["weight_exponent"], f"netx {k}: weight exponent")
        neuron = layer["neuron"]
        check(np.array_equal(neuron["vDecay"][()], np.array(pop["decay"])), f"netx {k}: vDecay != decays")
        check(0 < int(neuron["iDecay"][()]) <= 4096, f"netx {k}: iDecay")
        check(np.all((neuron["vDecay"][()] >= 0) & (neuron["vDecay"][()] <= 4096)), f"netx {k}: vDecay range")

# A graph written by nir.write() in Python imports into epchip and evaluates.
rng = np.random.default_rng(7)
py_graph = nir.NIRGraph(
    nodes={
        "x": nir.Input(input_type=np.array([784])),
        "a1": nir.Affine(weight=rng.normal(0, 0.05, (16, 784)).astype(np.float32), bias=np.zeros(16, np.float32)),
        "n1": nir.LI(tau=np.full(16, 2e-3), r=np.ones(16), v_leak=np.zeros(16)),
        "a2": nir.Affine(weight=rng.normal(0, 0.3, (10, 16)).astype(np.float32), bias=np.zeros(10, np.float32)),
        "n2": nir.LI(tau=np.linspace(2e-3, 4e-3, 10), r=np.ones(10), v_leak=np.zeros(10)),
        "y": nir.Output(output_type=np.array([10])),
    },
    edges=[("x", "a1"), ("a1", "n1"), ("n1", "a2"), ("a2", "n2"), ("n2", "y")],
    metadata={"dt": 1e-3},
)
nir.write(str(work / "python.nir"), py_graph)
run = subprocess.run([binary, "import", str(work / "python.nir")], capture_output=True, text=True)
check(run.returncode == 0 and "784-16-10" in run.stdout, f"import of a nir.write() graph: {run.stdout} {run.stderr}")

# A node type epchip does not model is refused, naming the node.
bad = nir.NIRGraph(
    nodes={
        "x": nir.Input(input_type=np.array([784])),
        "a1": nir.Affine(weight=np.zeros((10, 784), np.float32), bias=np.zeros(10, np.float32)),
        "th": nir.Threshold(threshold=np.ones(10)),
        "y": nir.Output(output_type=np.array([10])),
    },
    edges=[("x", "a1"), ("a1", "th"), ("th", "y")],
    metadata={"dt": 1e-3},
)
nir.write(str(work / "unsupported.nir"), bad)
run = subprocess.run([binary, "import", str(work / "unsupported.nir")], capture_output=True, text=True)
check(run.returncode != 0 and "`th`" in run.stderr and "Threshold" in run.stderr, f"unsupported node: {run.stderr}")

if failures:
    print(f"nir-interop: {len(failures)} check(s) failed")
    sys.exit(1)
print(f"nir-interop: OK (nir {nir.__version__ if hasattr(nir, '__version__') else ''}: rate and spiking graphs "
      f"read with type checks, {n - 1} layers, netx and a Python-written graph)")
