"""The low-level chip: populations, numpy weight matrices, inputs, steps with and without a nudge,
states, learning, counters and energy."""

import numpy as np
import pytest

import epchip


def sigma(u):
    return 1.0 / (1.0 + np.exp(2.0 - 4.0 * u))


@pytest.fixture
def chip():
    chip = epchip.Chip("ideal", seed=1)
    assert chip.add_input("x", 3) == 0
    assert chip.add_neurons("h", 2, dt=0.5, bias=[0.1, -0.1]) == 1
    chip.connect(0, 1, np.array([[0.5, -0.2], [0.3, 0.4], [-0.1, 0.6]]))
    chip.set_batch_size(2)
    chip.apply_input(0, np.array([[1.0, 0.0, 0.5], [0.2, 0.9, 0.0]]))
    return chip


def test_free_run_settles_at_the_sigmoid_fixed_point(chip):
    w = np.array([[0.5, -0.2], [0.3, 0.4], [-0.1, 0.6]])
    x = np.array([[1.0, 0.0, 0.5], [0.2, 0.9, 0.0]])
    assert chip.run(100) == 100
    np.testing.assert_allclose(chip.state(1), sigma(x @ w + [0.1, -0.1]), atol=1e-5)
    np.testing.assert_allclose(chip.activity(1), chip.state(1), atol=1e-6)
    assert chip.residual < 1e-5
    assert chip.populations == [("x", 3), ("h", 2)] and chip.batch_size == 2


def test_a_nudge_pulls_the_state_toward_the_target_and_states_can_be_restored(chip):
    chip.run(100)
    free = chip.state(1)
    saved = chip.save_state()
    chip.run(50, nudge=1, target=np.ones((2, 2)), beta=0.5)
    assert (chip.state(1) > free + 1e-3).all()
    chip.restore_state(saved)
    np.testing.assert_array_equal(chip.state(1), free)
    assert chip.run(1000, tolerance=1e-6) < 1000


def test_counters_energy_and_cores(chip):
    chip.reset_counters()
    chip.run(10)
    counts = chip.counters()
    assert counts["neuron_updates"] == 10 * 2 * 2
    assert counts["synaptic_ops"] > 0
    assert set(chip.energy()) >= {"synaptic_ops_j", "neuron_updates_j"}
    assert sum(c["neurons"] for c in chip.cores()) == 2
    chip.reset_counters()
    assert chip.counters()["synaptic_ops"] == 0


def test_local_learning_updates_weights_and_biases(chip):
    chip.run(100)
    chip.latch_traces(0)
    before, bias = chip.weights(0), chip.bias(1)
    chip.learn(0, [(0.1, 0, 0)])
    chip.learn_bias(1, [(0.1, None, 0)])
    assert (chip.weights(0) >= before).all() and (chip.weights(0) > before).any()
    assert (chip.bias(1) > bias).all()


def test_a_digital_chip_stores_weights_in_its_format():
    chip = epchip.Chip("loihi2", seed=2)
    chip.add_input("x", 4)
    chip.add_neurons("h", 3, dt=np.array([1.0, 0.5, 0.25]), model="clip")
    w = np.full((4, 3), 0.3333)
    chip.connect(0, 1, w, weight_range=1.0)
    stored = chip.weights(0)
    assert not np.allclose(stored, w, atol=1e-6) and np.allclose(stored, w, atol=0.01)
    assert len(chip.time_steps(1)) == 3
    assert repr(chip).startswith('Chip("loihi2"')


def test_populations_spread_over_cores_with_the_profiles_limit():
    chip = epchip.Chip("mixed-signal")
    chip.add_input("x", 10)
    chip.add_neurons("h", 300)
    neurons = [c["neurons"] for c in chip.cores()]
    assert neurons[:2] == [256, 44]
    with pytest.raises(ValueError, match="does not fit"):
        chip.add_neurons("too many", 10_000)


def test_bad_requests_are_value_errors(chip):
    with pytest.raises(ValueError, match="population 5 does not exist"):
        chip.state(5)
    with pytest.raises(ValueError, match="expected"):
        chip.connect(0, 1, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="cannot receive synapses"):
        chip.connect(1, 0, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="nudge"):
        chip.run(5, nudge=1)
    with pytest.raises(ValueError, match="invalid model"):
        chip.add_neurons("z", 2, model="relu")
    with pytest.raises(ValueError, match="trace slot 9"):
        chip.latch_traces(9)
    with pytest.raises(ValueError, match="has 3 values for 2 neurons"):
        chip.add_neurons("z", 2, dt=[1.0, 1.0, 1.0])
