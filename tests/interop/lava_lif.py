"""Random Dense + LIF networks run in Lava's fixed-point CPU simulation and in `epchip lif-trace`;
every u, v and spike of every step must agree. Usage: lava_lif.py EPCHIP_BINARY NETWORKS STEPS SEED"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.dense.process import Dense
from lava.proc.io.source import RingBuffer
from lava.proc.lif.process import LIF
from lava.proc.monitor.process import Monitor


def random_spec(rng, steps):
    """Parameters across their full ranges, with a share of networks that saturate or wrap."""
    n_in = int(rng.integers(1, 9))
    n_out = int(rng.integers(1, 9))
    mode = rng.choice(["mixed", "excitatory", "inhibitory", "large"])
    if mode == "excitatory":
        w = rng.integers(0, 300, (n_out, n_in))
    elif mode == "inhibitory":
        w = -rng.integers(0, 300, (n_out, n_in))
    else:
        w = rng.integers(-300, 300, (n_out, n_in))
    weight_exp = int(rng.integers(-8, 8)) if mode != "large" else int(rng.integers(4, 8))
    return {
        "weights": w.tolist(),
        "weight_exp": weight_exp,
        "weight_bits": int(rng.integers(1, 9)),
        "du": int(rng.integers(0, 4096)),
        "dv": int(rng.integers(0, 4096)),
        "vth": int(rng.integers(0, 131072)) if rng.random() < 0.5 else int(rng.integers(0, 2000)),
        "bias_mant": rng.integers(-4096, 4096, n_out).tolist(),
        "bias_exp": rng.integers(0, 8, n_out).tolist(),
        "input_spikes": (rng.random((steps, n_in)) < rng.uniform(0.05, 0.9)).astype(int).tolist(),
    }


def run_lava(spec, steps):
    w = np.array(spec["weights"], dtype=np.int32)
    spikes = np.array(spec["input_spikes"], dtype=np.int32).T  # inputs × steps
    n_out = w.shape[0]
    source = RingBuffer(data=spikes)
    dense = Dense(weights=w, weight_exp=spec["weight_exp"], num_weight_bits=spec["weight_bits"])
    lif = LIF(
        shape=(n_out,),
        du=spec["du"],
        dv=spec["dv"],
        vth=spec["vth"],
        bias_mant=np.array(spec["bias_mant"], dtype=np.int32),
        bias_exp=np.array(spec["bias_exp"], dtype=np.int32),
    )
    source.s_out.connect(dense.s_in)
    dense.a_out.connect(lif.a_in)
    monitors = {name: Monitor() for name in ("u", "v", "s_out")}
    monitors["u"].probe(lif.u, steps)
    monitors["v"].probe(lif.v, steps)
    monitors["s_out"].probe(lif.s_out, steps)
    lif.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    out = {}
    for name, monitor in monitors.items():
        data = monitor.get_data()
        series = next(iter(data.values()))[name]
        out[name] = np.asarray(series).astype(np.int64).reshape(steps, n_out)
    lif.stop()
    return out


def main():
    binary, networks, steps, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(seed)
    mismatches = 0
    values = 0
    coverage = {"spikes": 0, "|u| > 2^22": 0, "v saturated": 0, "u sign changes (wraps included)": 0}
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(networks):
            spec = random_spec(rng, steps)
            lava = run_lava(spec, steps)
            path = os.path.join(tmp, f"spec{k}.json")
            with open(path, "w") as f:
                json.dump(spec, f)
            result = subprocess.run([binary, "lif-trace", "--spec", path, "--steps", str(steps)],
                                    capture_output=True, text=True, check=True)
            ours = json.loads(result.stdout)
            u = lava["u"]
            coverage["spikes"] += int(lava["s_out"].sum())
            coverage["|u| > 2^22"] += int((np.abs(u) > 2**22).sum())
            coverage["v saturated"] += int((np.abs(lava["v"]) == 2**23 - 1).sum())
            coverage["u sign changes (wraps included)"] += int((np.sign(u[1:]) * np.sign(u[:-1]) < 0).sum())
            for name, key in (("u", "u"), ("v", "v"), ("s_out", "spikes")):
                a = lava[name]
                b = np.array(ours[key], dtype=np.int64)
                bad = np.argwhere(a != b)
                values += a.size
                if len(bad):
                    mismatches += len(bad)
                    step, neuron = bad[0]
                    print(f"network {k}: {name} differs at step {step} neuron {neuron}: "
                          f"lava {a[step, neuron]} epchip {b[step, neuron]}; spec {json.dumps(spec)[:400]}")
                    break
    print(f"{networks} networks x {steps} steps: {values} values compared, {mismatches} mismatching "
          f"({time.time() - start:.0f} s); exercised: {coverage}")
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
