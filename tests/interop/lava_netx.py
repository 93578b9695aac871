"""Runs epchip's spiking lava-netx export in stock Lava-dl and compares with epchip's emulation.

Usage: lava_netx.py NETX_FILE REPORT_JSON COUNTS_JSON TEST_IMAGES_GZ

The file is loaded with lava.lib.dl.netx.hdf5.Network (no custom process) and run in Lava's
fixed-point CPU simulation (Loihi2SimCfg(select_tag="fixed_pt")). All digits run back to back in one
Lava run: every digit's graded pixel spikes are sent for steps_per_example steps, and netx's
reset_interval resets every layer once per digit, each layer one step after the layer below (the
dense synapses delay spikes by one step), so each layer sees every digit from rest. Checks that the
output spike counts of every digit equal epchip's emulation (COUNTS_JSON) bit for bit and that
Lava's accuracy equals epchip's deployed_test_accuracy (REPORT_JSON); prints both run times.
"""

import gzip
import json
import sys
import time

import numpy as np


def read_idx_images(path, count):
    with gzip.open(path, "rb") as f:
        data = f.read()
    n, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    pixels = np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows * cols)
    return pixels[:count]


def payloads(pixels, bits):
    """The graded input spike of every pixel: round(byte / 2^(8 - bits)), at most 2^bits - 1."""
    shift = 8 - bits
    values = pixels.astype(np.int64)
    if shift == 0:
        return values
    return np.minimum((values + (1 << (shift - 1))) >> shift, (1 << bits) - 1)


def main():
    netx_file, report_path, counts_path, images_path = sys.argv[1:5]
    with open(report_path) as f:
        report = json.load(f)
    with open(counts_path) as f:
        ours = json.load(f)
    started = time.time()
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    steps = report["steps_per_example"]
    bits = report["options"]["input_bits"]
    digits = report["examples"]
    labels = np.array(ours["labels"])
    layers = len(report["layers"]) - 1
    inputs = payloads(read_idx_images(images_path, digits), bits)

    # Digit d is sent in steps d*steps + 1 ..= (d + 1)*steps (Lava counts steps from 1); the last
    # digit needs `layers` more steps to reach the output.
    total = digits * steps + layers
    stream = np.zeros((inputs.shape[1], total), dtype=np.int32)
    for d in range(digits):
        stream[:, d * steps:(d + 1) * steps] = inputs[d][:, None]

    # reset_offset=1: netx adds 1 (steps count from 1) and 1 per layer, so layer k (from 0) resets
    # at the step its first input of a digit arrives, k + 2 steps after the digit's first step.
    net = netx.hdf5.Network(net_config=netx_file, input_message_bits=bits, reset_interval=steps, reset_offset=1)
    source = Source(data=stream)
    sink = Sink(shape=net.out.shape, buffer=total)
    source.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    net.run(condition=RunSteps(num_steps=total), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    spikes = sink.data.get().astype(np.int64)  # outputs x steps; column j is step j + 1
    net.stop()
    lava_seconds = time.time() - started

    # The output layer's window for digit d: steps d*steps + layers + 1 ..= d*steps + layers + steps
    # (1-based), i.e. columns d*steps + layers .. d*steps + layers + steps - 1.
    counts = np.stack([spikes[:, d * steps + layers:d * steps + layers + steps].sum(axis=1) for d in range(digits)])
    expected = np.array(ours["output_spike_counts"], dtype=np.int64)
    mismatching = [d for d in range(digits) if not np.array_equal(counts[d], expected[d])]
    predictions = counts.argmax(axis=1)
    lava_accuracy = float((predictions == labels).mean())
    epchip_accuracy = report["deployed_test_accuracy"]
    lava_steps_per_second = total / lava_seconds
    epchip_steps_per_second = report["emulated_steps_per_second"]
    print(f"lava-netx: {digits} digits x {steps} steps ({total} Lava steps, {layers} layers): "
          f"output spike counts equal on {digits - len(mismatching)} of {digits} digits; "
          f"accuracy Lava {100 * lava_accuracy:.2f} %, epchip {100 * epchip_accuracy:.2f} % "
          f"(trained network {100 * report['trained_test_accuracy']:.2f} %)")
    print(f"lava-netx: speed: Lava {lava_seconds:.1f} s for {total} steps, start-up included "
          f"({lava_steps_per_second:.0f} steps/s); epchip emulation {report['emulation_seconds']:.4f} s for "
          f"{digits * steps} steps ({epchip_steps_per_second:.0f} steps/s): "
          f"{epchip_steps_per_second / lava_steps_per_second:.0f}x")
    failed = False
    if mismatching:
        d = mismatching[0]
        print(f"lava-netx: FAIL: digit {d}: Lava counts {counts[d].tolist()}, epchip {expected[d].tolist()}")
        failed = True
    if abs(lava_accuracy - epchip_accuracy) > 1e-12:
        print("lava-netx: FAIL: Lava's accuracy differs from epchip's deployed_test_accuracy")
        failed = True
    if counts.sum() == 0:
        print("lava-netx: FAIL: no output spike at all")
        failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
