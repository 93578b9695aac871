"""Profiles, maps, exports and saved runs read the same as through the CLI."""

import json

import epchip
from conftest import run_cli


def test_profiles_read_as_the_cli_prints_them(cli):
    listed = [line.split()[0] for line in run_cli(cli, "profile", "list").stdout.splitlines()]
    assert list(epchip.profiles()) == listed
    for name in listed:
        profile = epchip.Profile.load(name)
        assert profile.check() == run_cli(cli, "profile", "check", name).stdout
        assert profile.to_ron() + "\n" == run_cli(cli, "profile", "show", name).stdout
        assert epchip.Profile.from_ron(profile.to_ron()) == profile
        assert epchip.Profile.from_dict(profile.to_dict()) == profile
    loihi = epchip.Profile.load("loihi2")
    assert (loihi.name, loihi.arithmetic, loihi.cores) == ("loihi2", "digital", 128)
    assert loihi.core_limits["max_neurons"] == 8192 and isinstance(loihi.non_idealities, list)


def test_a_changed_profile_is_validated_and_trains(tmp_path):
    fields = epchip.Profile.load("loihi2").to_dict()
    fields["name"] = "small-loihi"
    fields["core_limits"]["max_neurons"] = 20
    small = epchip.Profile.from_dict(fields)
    small.save(tmp_path / "small.ron")
    assert epchip.Profile.load(str(tmp_path / "small.ron")) == small
    assert epchip.map(profile=small, layers=[16, 50, 4])["cores_used"] > 3
    run = epchip.train(profile=small, dataset="synthetic", layers=[16, 50, 4], epochs=1, quiet=True)
    assert run.profile == small and run.summary["profile"] == "small-loihi"
    fields["arithmetic"]["Digital"]["weight_bits"] = 99
    try:
        epchip.Profile.from_dict(fields)
    except ValueError as e:
        assert "weight_bits" in str(e)
    else:
        raise AssertionError("an invalid profile was accepted")


def test_map_returns_the_cli_report(cli, tmp_path):
    run_cli(cli, "map", "--profile", "loihi1", "--layers", "784,500,10", "--placement", "traffic-aware", "--json",
            str(tmp_path / "cli.json"))
    report = epchip.map(profile="loihi1", layers="784,500,10", placement="traffic-aware", json=tmp_path / "py.json")
    assert report == json.loads((tmp_path / "cli.json").read_text())
    assert (tmp_path / "py.json").read_bytes() == (tmp_path / "cli.json").read_bytes()


def test_exports_equal_the_cli_exports_of_the_saved_run(cli, tmp_path):
    run = epchip.train(profile="loihi2", dataset="synthetic", layers=[16, 12, 4], tau="lognormal:cv=0.5",
                       epochs=1, quiet=True)
    run.save(tmp_path / "run")
    for fmt, ext, extra in [("nir", "nir", []), ("nir", "nir", ["--spiking"]), ("lava-netx", "netx", []),
                            ("lava-netx", "netx", ["--spiking"]),
                            ("mapping", "json", [])]:
        name = f"{fmt}{''.join(extra)}.{ext}"
        run.export(fmt, tmp_path / f"py-{name}", spiking=bool(extra))
        run_cli(cli, "export", "--run", str(tmp_path / "run"), "--format", fmt, *extra, "--out",
                str(tmp_path / f"cli-{name}"))
        assert (tmp_path / f"py-{name}").read_bytes() == (tmp_path / f"cli-{name}").read_bytes(), name
    loaded = epchip.Run.load(tmp_path / "run")
    assert loaded.metrics == run.metrics and loaded.summary == run.summary
    assert all((a == b).all() for a, b in zip(loaded.weights(), run.weights()))
