"""Bad arguments are Python exceptions with the CLI's clear messages: ValueError for values,
OSError for files, TypeError for keywords that do not exist."""

import numpy as np
import pytest

import epchip
from conftest import task

X, Y = task(60, 12, 3)
ARRAYS = dict(x_train=X, y_train=Y, x_test=X, y_test=Y)


def train(**kwargs):
    base = dict(profile="ideal", layers=[12, 6, 3], epochs=1, quiet=True)
    return epchip.train(**{**base, **ARRAYS, **kwargs})


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(tau="lognormal"), "tau"),
        (dict(profile="loihi3"), "unknown profile `loihi3`"),
        (dict(layers=[12]), "layer"),
        (dict(layers=[784, 500, 10]), "x_train has 12 inputs per example, the network's input layer has 784"),
        (dict(layers=[12, 6, 2]), "y_train[0] = 2: labels must be classes 0..=1 of the 2-neuron output layer"),
        (dict(beta=-1.0), "invalid beta = -1"),
        (dict(t2=0), "invalid t2 = 0"),
        (dict(lr=[0.1, 0.2, 0.3]), "one learning rate, or one per projection (2 for layers 12-6-3)"),
        (dict(lr="fast"), "invalid lr = fast"),
        (dict(neuron="tanh"), "tanh"),
        (dict(beta_sign="negative"), "invalid beta_sign='negative': use random or positive"),
        (dict(positive_beta=True, beta_sign="random"), "positive_beta=True contradicts beta_sign='random'"),
        (dict(symmetric=True, estimate="one-sided"), "symmetric=True contradicts estimate='one-sided'"),
        (dict(lr_schedule="linear"), "lr_schedule"),
        (dict(placement="random"), "random"),
        (dict(train_limit=0), "invalid train_limit=0"),
        (dict(threads=0), "threads"),
        (dict(callback=3), "callback must be a function"),
        (dict(dataset="synthetic"), "give either dataset="),
        (dict(x_test=None), "missing: x_test"),
        (dict(x_train=X * 2), "x_train[0, "),
        (dict(x_train=X.astype(np.int64)), "x_train has dtype int64: give uint8 pixels (0..255) or floats in [0, 1]"),
        (dict(y_train=Y[:10]), "x_train has 60 examples but y_train has 10 labels"),
        (dict(y_train=Y.astype(float)), "y_train has dtype float64: labels must be integers"),
        (dict(x_train=X[None, None]), "x_train has shape [1, 1, 60, 12]"),
    ],
)
def test_bad_values_are_value_errors_with_clear_messages(kwargs, message):
    with pytest.raises(ValueError) as error:
        train(**kwargs)
    assert message in str(error.value)


def test_unknown_keywords_are_type_errors():
    with pytest.raises(TypeError, match="learning_rate"):
        train(learning_rate=0.1)


def test_unknown_dataset_spec():
    with pytest.raises(ValueError, match="unknown dataset `mnist60k`"):
        epchip.train(profile="ideal", dataset="mnist60k", layers=[784, 10, 10], epochs=1, quiet=True)


def test_files_that_cannot_be_read_or_written_are_os_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        epchip.train(profile="ideal", dataset=f"idx:{tmp_path / 'none'}", layers=[784, 10, 10], quiet=True)
    with pytest.raises(OSError, match="cannot read profile"):
        epchip.Profile.load(str(tmp_path / "chip.ron"))
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError, match="cannot write"):
        train(out=blocker / "run")
    with pytest.raises(ValueError, match="a run directory with a checkpoint.json"):
        epchip.Run.load(tmp_path)


def test_networks_that_do_not_fit_name_the_limit():
    with pytest.raises(ValueError, match="core"):
        epchip.map(profile="mixed-signal", layers=[784, 2000, 10])


def test_evaluate_checks_its_data():
    run = train()
    with pytest.raises(ValueError, match="x has 5 inputs per example, the network's input layer has 12"):
        run.evaluate(np.zeros((3, 5)), [0, 1, 2])
    with pytest.raises(ValueError, match=r"y\[1\] = 7"):
        run.evaluate(X[:2], [0, 7])
    with pytest.raises(ValueError, match="invalid format 'onnx'"):
        run.export("onnx", "model.onnx")
