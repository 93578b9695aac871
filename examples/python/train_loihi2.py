"""Train an HTS-EP network on the emulated Loihi-like chip from Python, plot its accuracy curve and
export it to NIR.

    pip install .[plot]          # from the repository root (matplotlib is optional)
    python examples/python/train_loihi2.py [OUT_DIR]

Small and fast settings: MNIST shrunk to 14x14 (mnist10k:pool=2), 3,000 training examples, three
epochs (a few seconds on one core). Drop `train_limit` and use `dataset="mnist10k"`,
`layers=[784, 500, 10]` for the README's run.
"""

import sys
from pathlib import Path

import epchip

out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/python-loihi2")

run = epchip.train(
    profile="loihi2",
    dataset="mnist10k:pool=2",
    layers=[196, 100, 10],
    tau="lognormal:cv=0.5",
    epochs=3,
    train_limit=3000,
    seed=1,
    out=out,
)
print(run)
print(f"energy per training example: {run.summary['energy_per_example_uj']:.2f} uJ "
      f"on {run.summary['cores_used']} cores")

epochs = [m["epoch"] for m in run.metrics]
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: no plot (pip install matplotlib)")
else:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(epochs, [100 * m["train_accuracy"] for m in run.metrics], "o-", label="train")
    ax.plot(epochs, [100 * m["test_accuracy"] for m in run.metrics], "s-", label="test")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_xticks(epochs)
    ax.set_title("HTS-EP on loihi2, 196-100-10")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "accuracy.png", dpi=120)
    print(f"wrote {out / 'accuracy.png'}")

run.export("nir", out / "model.nir")
print(f"wrote {out / 'model.nir'} (NIR graph: leaky integrators with the chip's weights and time constants)")
