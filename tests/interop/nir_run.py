"""Runs epchip's spiking NIR export in Norse (through Norse's own importer, norse.torch.from_nir, which
builds the graph with nirtorch) and compares with epchip's emulation.

Usage: nir_run.py NIR_FILE REPORT_JSON COUNTS_JSON TEST_IMAGES_GZ

The graph is read with nir.read() and imported with the graph's own dt. Every digit starts from a
fresh state and gets its graded pixel spikes (the file's metadata says how: round(byte / 2^(8 -
input_bits))) for steps_per_example steps; the prediction is the output neuron with the most spikes.
Checks that Norse's accuracy is within 1 point of epchip's deployed_test_accuracy and reports on how
many digits the output spike counts are equal.
"""

import sys

import numpy as np

from lava_netx import payloads, read_idx_images


def main():
    import json

    import nir
    import norse.torch
    import torch

    nir_file, report_path, counts_path, images_path = sys.argv[1:5]
    with open(report_path) as f:
        report = json.load(f)
    with open(counts_path) as f:
        ours = json.load(f)
    graph = nir.read(nir_file)
    dt = float(graph.metadata["dt"])
    steps = int(graph.metadata["steps_per_example"])
    bits = int(graph.metadata["input_bits"])
    assert steps == report["steps_per_example"], "the file and the report disagree on the steps"
    module = norse.torch.from_nir(graph, dt=dt)
    digits = report["examples"]
    labels = np.array(ours["labels"])
    x = torch.from_numpy(payloads(read_idx_images(images_path, digits), bits).astype(np.float32))
    counts = None
    state = None
    with torch.no_grad():
        for _ in range(steps):
            out, state = module(x, state)
            counts = out if counts is None else counts + out
    counts = counts.numpy().astype(np.int64)
    expected = np.array(ours["output_spike_counts"], dtype=np.int64)
    equal = int(sum(np.array_equal(a, b) for a, b in zip(counts, expected)))
    norse_accuracy = float((counts.argmax(axis=1) == labels).mean())
    epchip_accuracy = report["deployed_test_accuracy"]
    print(f"nir-run: Norse {norse.__version__ if hasattr(norse, '__version__') else ''} from_nir, {digits} digits x "
          f"{steps} steps: accuracy Norse {100 * norse_accuracy:.2f} %, epchip {100 * epchip_accuracy:.2f} % "
          f"(trained network {100 * report['trained_test_accuracy']:.2f} %); output spike counts equal on "
          f"{equal} of {digits} digits")
    failed = False
    if abs(norse_accuracy - epchip_accuracy) > 0.01:
        print("nir-run: FAIL: Norse's accuracy is more than 1 point from epchip's prediction")
        failed = True
    if counts.sum() == 0:
        print("nir-run: FAIL: no output spike at all")
        failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
