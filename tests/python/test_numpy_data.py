"""Training on the user's own numpy arrays, of shapes other than MNIST's, and what a Run offers."""

import math
import threading
import time

import numpy as np
import pytest

import epchip
from conftest import task


@pytest.fixture(scope="module")
def run():
    """20 inputs, 3 classes, floats in [0, 1]: a network that learns the task."""
    x, y = task(600, 20, 3, seed=3)
    return epchip.train(profile="loihi2", layers=[20, 16, 3], x_train=x[:450], y_train=y[:450], x_test=x[450:],
                        y_test=y[450:], epochs=3, seed=1, quiet=True)


def test_a_20_input_3_class_task_trains(run):
    assert len(run.metrics) == 3
    assert [m["epoch"] for m in run.metrics] == [1, 2, 3]
    assert run.summary["test_accuracy"] > 0.8, run.summary
    assert run.summary["layers"] == [20, 16, 3] and run.summary["dataset"].startswith("numpy:")
    assert not run.diverged and run.divergence_reason is None
    assert run.config["neuron"] == "sigmoid" and run.layers == [20, 16, 3]
    assert "test accuracy" in repr(run)


def test_weights_biases_and_time_steps_are_numpy_as_the_chip_holds_them(run):
    w = run.weights()
    assert [a.shape for a in w] == [(20, 16), (16, 3)] and all(a.dtype == np.float32 for a in w)
    fb = run.weights(feedback=True)
    assert fb[0] is None and fb[1].shape == (3, 16)
    # The digital chip stores mantissa × step: every weight of a projection is a multiple of one step.
    steps = np.unique(np.abs(w[0][w[0] != 0]))
    assert np.allclose(steps / steps.min(), np.round(steps / steps.min()), atol=1e-3)
    assert [b.shape for b in run.biases()] == [(16,), (3,)]
    assert [d.shape for d in run.time_steps()] == [(16,), (3,)]


def test_evaluate_and_predict_on_new_data(run):
    x, y = task(200, 20, 3, seed=9)
    accuracy = run.evaluate(x, y)
    assert 0.8 < accuracy <= 1.0
    predicted = run.predict(x)
    assert predicted.shape == (200,) and predicted.dtype == np.int64
    assert math.isclose(float(np.mean(predicted == y)), accuracy)
    # Lists work as well as arrays.
    assert run.evaluate(x.tolist(), y.tolist()) == accuracy


def test_uint8_images_and_3d_arrays():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=120)
    x = np.zeros((120, 4, 5), dtype=np.uint8)
    x[y == 0, :2, :] = 230
    x[y == 1, 2:, :] = 230
    run = epchip.train(profile="ideal", layers=[20, 8, 2], x_train=x[:80], y_train=y[:80], x_test=x[80:],
                       y_test=y[80:], epochs=2, quiet=True)
    assert run.summary["test_accuracy"] == 1.0


def test_train_limit_applies_to_arrays():
    x, y = task(100, 12, 2)
    run = epchip.train(profile="ideal", layers=[12, 6, 2], x_train=x, y_train=y, x_test=x, y_test=y, epochs=1,
                       train_limit=30, batch=10, quiet=True)
    assert run.metrics[0]["synaptic_ops_per_example"] > 0


def test_to_pandas(run):
    pd = pytest.importorskip("pandas")
    frame = run.to_pandas()
    assert isinstance(frame, pd.DataFrame) and list(frame["epoch"]) == [1, 2, 3]


def test_callback_sees_each_epoch_and_can_stop_training(tmp_path):
    x, y = task(200, 12, 2)
    seen = []
    run = epchip.train(profile="ideal", layers=[12, 6, 2], x_train=x, y_train=y, x_test=x, y_test=y, epochs=5,
                       quiet=True, out=tmp_path, checkpoint_every=0,
                       callback=lambda m: seen.append(m["epoch"]) or m["epoch"] == 2)
    assert seen == [1, 2] and len(run.metrics) == 2
    # Stopped early, the run directory still has a checkpoint to resume from.
    again = epchip.Run.load(tmp_path)
    assert again.metrics == run.metrics


def test_training_releases_the_gil():
    x, y = task(400, 30, 3)
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    started = time.perf_counter()
    epchip.train(profile="loihi2", layers=[30, 64, 3], x_train=x, y_train=y, x_test=x, y_test=y, epochs=2,
                 quiet=True)
    took = time.perf_counter() - started
    done.set()
    counter.join()
    during = [t for t in ticks if started < t < started + took]
    # A thread that held the GIL for the whole run would let the counter tick only at its few
    # call-backs into Python.
    assert len(during) > 0.3 * took / 0.0015, (len(during), took)
