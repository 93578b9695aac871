"""Type stubs of epchip's compiled core (import ``epchip``, which re-exports all of it)."""

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pathlib import Path

__version__: str

StrPath = str | os.PathLike[str]
ArrayLike = npt.ArrayLike
ProfileLike = str | Profile
Layers = Sequence[int] | str
LearningRate = float | Sequence[float] | str
EpochMetrics = dict[str, Any]

def profiles() -> dict[str, str]:
    """The built-in hardware profiles, name -> description (``epchip profile list``)."""

class Profile:
    """A hardware profile: cores and their limits, number formats, device mismatch, learning engine
    and energy per operation (docs/profiles.md). Every field is in ``to_dict()``."""

    @staticmethod
    def load(name_or_path: str) -> Profile:
        """Loads a built-in profile (``ideal``, ``loihi2``, ``loihi1``, ``analog-rram``,
        ``mixed-signal``) or a .ron file, and validates it (``ValueError`` naming the field,
        ``OSError`` for a file that cannot be read)."""
    @staticmethod
    def from_ron(text: str, origin: str = "<string>") -> Profile:
        """Reads a profile from RON text and validates it."""
    @staticmethod
    def from_dict(fields: Mapping[str, Any]) -> Profile:
        """Builds a profile from a dict shaped like ``to_dict()`` and validates it."""
    def check(self) -> str:
        """Validates the profile and returns the summary ``epchip profile check`` prints."""
    def to_ron(self) -> str:
        """The profile as RON (``epchip profile show``)."""
    def to_dict(self) -> dict[str, Any]:
        """Every field, as nested dicts."""
    def save(self, path: StrPath) -> None:
        """Writes the profile as a .ron file (atomically)."""
    @property
    def name(self) -> str:
        """Short name, e.g. ``loihi2``."""
    @property
    def description(self) -> str:
        """One-line description."""
    @property
    def cores(self) -> int:
        """Cores per chip."""
    @property
    def chips_per_board(self) -> int:
        """Chips on one board."""
    @property
    def arithmetic(self) -> Literal["float", "digital", "analog"]:
        """The kind of core."""
    @property
    def core_limits(self) -> dict[str, int | None]:
        """Per-core limits (None: unlimited): max_neurons, max_input_axons, max_output_axons,
        synapse_memory_bits."""
    @property
    def non_idealities(self) -> list[str]:
        """The device non-idealities the profile turns on, in words."""

def train(
    *,
    profile: ProfileLike = "loihi2",
    layers: Layers | None = None,
    dataset: str | None = None,
    x_train: ArrayLike | None = None,
    y_train: ArrayLike | None = None,
    x_test: ArrayLike | None = None,
    y_test: ArrayLike | None = None,
    tau: str = "constant",
    epochs: int = 5,
    seed: int = 1,
    out: StrPath | None = None,
    threads: int = 1,
    neuron: Literal["sigmoid", "clip"] | None = None,
    beta_sign: Literal["random", "positive"] | None = None,
    positive_beta: bool = False,
    estimate: Literal["one-sided", "symmetric"] | None = None,
    symmetric: bool = False,
    t1: int | None = None,
    t2: int | None = None,
    beta: float | None = None,
    batch: int | None = None,
    lr: LearningRate | None = None,
    lr_schedule: str | None = None,
    dt: float | None = None,
    weight_headroom: float | None = None,
    train_limit: int | None = None,
    settle_tol: float | None = None,
    target_accuracy: float = 0.9,
    placement: Literal["greedy", "traffic-aware"] = "greedy",
    checkpoint_every: int = 1,
    callback: Callable[[EpochMetrics], object] | None = None,
    quiet: bool = False,
) -> Run:
    """Trains an HTS-EP network on an emulated chip with on-chip local learning (``epchip train``).

    Data: ``dataset`` (``mnist10k``, ``mnist10k:pool=N``, ``synthetic``, ``idx:DIR``; default
    ``mnist10k``) or the four arrays ``x_train, y_train, x_test, y_test`` (recorded as
    ``numpy:`` and a fingerprint of their contents): examples as
    ``(n, inputs)`` or ``(n, rows, cols)``, uint8 pixels 0..255 or floats in [0, 1] (stored to
    1/255, as every epchip dataset), labels as integers ``0 .. layers[-1] - 1``.

    ``layers`` defaults to 784-500-10; ``tau`` is ``constant``, ``lognormal:cv=X``, ``gamma:cv=X``
    or ``uniform:min=A,max=B``. Every other keyword is the CLI flag of the same name; settings not
    given take the neuron model's defaults for the network and chip, so the same seed and
    settings give the same metrics and summary as ``epchip train``. ``out`` writes the run
    directory (metrics.csv, summary.json, checkpoint.json) after every epoch, atomically.

    ``callback(metrics)`` is called after every epoch with that epoch's metrics; a true return
    value stops training there. The GIL is released while the chip computes; Ctrl-C stops
    between two mini-batches with ``KeyboardInterrupt`` (``out`` keeps the last finished epoch).
    A progress bar and one line per epoch go to ``sys.stderr`` unless ``quiet``. A run that
    diverges returns normally with ``run.diverged`` and a ``RuntimeWarning``.

    Raises ``ValueError`` for arguments, data or networks that are not allowed (with the CLI's
    message), ``OSError`` when a file cannot be read or written.
    """

class Run:
    """A training run: the trained network on its emulated chip, with its metrics and summary."""

    @property
    def metrics(self) -> list[EpochMetrics]:
        """One dict per epoch, with the columns of metrics.csv."""
    @property
    def summary(self) -> dict[str, Any]:
        """The run summary, as summary.json."""
    @property
    def config(self) -> dict[str, Any]:
        """The training configuration, every setting included."""
    @property
    def profile(self) -> Profile:
        """The hardware profile the run trained on."""
    @property
    def layers(self) -> list[int]:
        """Layer sizes, input first."""
    @property
    def diverged(self) -> bool:
        """True if training stopped because it diverged."""
    @property
    def divergence_reason(self) -> str | None:
        """Why training diverged, or None."""
    @property
    def out(self) -> Path | None:
        """The run directory written during training (or loaded), or None."""
    def to_pandas(self) -> Any:
        """The metrics as a pandas DataFrame (needs pandas)."""
    def weights(self, feedback: bool = False) -> list[np.ndarray[Any, np.dtype[np.float32]] | None]:
        """Forward weights of every projection as the chip applies them, each ``(pre, post)``;
        with ``feedback=True`` the feedback copies, ``(post, pre)`` (None for the input
        projection)."""
    def biases(self) -> list[np.ndarray[Any, np.dtype[np.float32]]]:
        """Biases of every neuron layer, as the chip holds them."""
    def time_steps(self) -> list[np.ndarray[Any, np.dtype[np.float32]]]:
        """Per-neuron time steps dt_i = Δt/τ_i of every neuron layer, as realised on the chip."""
    def evaluate(self, x: ArrayLike, y: ArrayLike) -> float:
        """Accuracy (0..1) on examples ``x`` with labels ``y`` (free phase only)."""
    def predict(self, x: ArrayLike) -> np.ndarray[Any, np.dtype[np.int64]]:
        """The class the network gives each example of ``x``."""
    def export(
        self,
        format: Literal["nir", "lava-netx", "mapping"],
        path: StrPath,
        spiking: bool = False,
        dt: float | None = None,
    ) -> None:
        """Writes the network for a chip toolchain, as ``epchip export``: NIR (``dt`` seconds per
        step), Lava-dl netx, or the core mapping (JSON); ``spiking`` (NIR, netx) writes the spiking
        deployment (integrate-and-fire network in Loihi's integer formats, default options)."""
    def save(self, path: StrPath) -> None:
        """Writes the run as ``epchip train`` would: metrics.csv, summary.json, checkpoint.json."""
    @staticmethod
    def load(path: StrPath, threads: int = 1) -> Run:
        """Reads a run directory written by ``epchip train`` or ``Run.save``."""

def study(
    *,
    out: StrPath,
    profile: ProfileLike = "loihi2",
    layers: Layers | None = None,
    dataset: str | None = None,
    x_train: ArrayLike | None = None,
    y_train: ArrayLike | None = None,
    x_test: ArrayLike | None = None,
    y_test: ArrayLike | None = None,
    tau: str | Sequence[str] | None = None,
    mismatch: float | Sequence[float] | str | None = None,
    mismatch_mode: Literal["tau", "all", "scale"] | None = None,
    seeds: int = 3,
    epochs: int = 10,
    jobs: int | None = None,
    shard: str | None = None,
    fidelity_every: int = 0,
    burn_in: int = 2,
    baseline: str | None = None,
    vary: Mapping[str, Sequence[object] | str] | Sequence[str] | str | None = None,
    heatmap_axes: Sequence[str] | str | None = None,
    drift_times: Sequence[str] | str | None = None,
    finetune_epochs: int = 0,
    neuron: Literal["sigmoid", "clip"] | None = None,
    beta_sign: Literal["random", "positive"] | None = None,
    positive_beta: bool = False,
    estimate: Literal["one-sided", "symmetric"] | None = None,
    symmetric: bool = False,
    t1: int | None = None,
    t2: int | None = None,
    beta: float | None = None,
    batch: int | None = None,
    lr: LearningRate | None = None,
    lr_schedule: str | None = None,
    dt: float | None = None,
    weight_headroom: float | None = None,
    train_limit: int | None = None,
    settle_tol: float | None = None,
    target_accuracy: float = 0.9,
    placement: Literal["greedy", "traffic-aware"] = "greedy",
    quiet: bool = False,
) -> Study:
    """Runs a stability study (``epchip study``): every τ distribution (default ``constant`` and
    ``lognormal:cv=0.5``) × mismatch level (default 0) × ``vary`` point × seed 1..``seeds``, on
    ``jobs`` threads (default: every core), into ``out``; runs already finished there are
    skipped. ``vary`` maps a setting to its values, e.g. ``{"lr": ["x0.5", "x2"], "beta": [0.1,
    0.5]}``; ``baseline`` is ``"tau=SPEC"`` or ``"KEY=VALUE"`` of a ``vary`` setting. The data
    (``dataset`` or the four arrays) and every training keyword are those of ``train``. Ctrl-C raises ``KeyboardInterrupt`` at once; the runs under way finish in the
    background and a later call resumes."""

class Study:
    """The tables of a study directory."""

    @staticmethod
    def load(out: StrPath) -> Study:
        """Reads a study directory written by ``epchip study`` or ``epchip.study``."""
    @property
    def out(self) -> Path:
        """The study directory."""
    @property
    def missing(self) -> list[str]:
        """Ids of runs of the grid that have not finished."""
    @property
    def results(self) -> list[dict[str, Any]]:
        """results.csv: one row per run."""
    @property
    def summary(self) -> list[dict[str, Any]]:
        """summary.csv: one row per condition."""
    @property
    def comparisons(self) -> list[dict[str, Any]]:
        """comparisons.csv: paired comparisons with the baseline τ."""
    @property
    def robustness(self) -> list[dict[str, Any]]:
        """robustness.csv: share of runs that trained per τ and mismatch level."""
    @property
    def report(self) -> Path:
        """The HTML report."""
    def to_pandas(self, table: Literal["results", "summary", "comparisons", "robustness"] = "summary") -> Any:
        """A table as a pandas DataFrame (needs pandas)."""

def map(
    *,
    profile: ProfileLike = "loihi2",
    layers: Layers | None = None,
    placement: Literal["greedy", "traffic-aware"] = "greedy",
    json: StrPath | None = None,
) -> dict[str, Any]:
    """Places a network on a chip's cores and returns the report of ``epchip map --json`` (also
    written to ``json``); ``ValueError`` naming the core and the limit if it does not fit."""

class ChipState:
    """Every neuron's state on a chip, saved by ``Chip.save_state``."""

class Chip:
    """One instance of a hardware profile, devices drawn from ``seed``. Populations and synapse
    groups are numbered in the order they are added."""

    def __init__(self, profile: ProfileLike = "ideal", seed: int = 1) -> None: ...
    @property
    def profile(self) -> Profile:
        """The chip's profile."""
    @property
    def batch_size(self) -> int:
        """Examples run side by side."""
    @property
    def residual(self) -> float:
        """RMS state change in the last step of the last run."""
    @property
    def populations(self) -> list[tuple[str, int]]:
        """The populations, in order, as (name, size)."""
    def add_input(self, name: str, size: int) -> int:
        """Adds input channels; returns the population's number."""
    def add_neurons(
        self,
        name: str,
        size: int,
        dt: float | ArrayLike = 1.0,
        bias: float | ArrayLike = 0.0,
        model: Literal["sigmoid", "clip"] = "sigmoid",
        core: int | None = None,
    ) -> int:
        """Adds rate neurons with per-neuron time steps ``dt`` in (0, 1] and biases, on consecutive
        cores from ``core``; returns the population's number."""
    def connect(
        self,
        pre: int,
        post: int,
        weights: ArrayLike,
        weight_range: float | None = None,
        mirror_of: int | None = None,
    ) -> int:
        """Dense synapses ``(pre size, post size)`` in real units; returns the group's number."""
    def set_batch_size(self, batch: int) -> None:
        """Sets how many examples run side by side."""
    def reset_state(self) -> None:
        """Sets every state and activity to 0."""
    def apply_input(self, population: int, values: ArrayLike) -> None:
        """Writes ``(batch, size)`` values in [0, 1] to an input population."""
    def run(
        self,
        steps: int,
        nudge: int | None = None,
        target: ArrayLike | None = None,
        beta: float = 0.0,
        tolerance: float | None = None,
    ) -> int:
        """Runs time steps, optionally nudging population ``nudge`` toward ``target`` with
        strength ``beta``, or until no state changes by more than ``tolerance``; returns the
        steps taken."""
    def state(self, population: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        """States ``(batch, size)`` in real units."""
    def activity(self, population: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Output activity ``(batch, size)``."""
    def weights(self, group: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        """A group's weights as stored, ``(pre, post)``."""
    def effective_weights(self, group: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        """A group's weights as applied (device gains, faults)."""
    def write_weights(self, group: int, weights: ArrayLike) -> None:
        """Overwrites a group's weights."""
    def bias(self, population: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        """A population's biases."""
    def write_bias(self, population: int, bias: ArrayLike) -> None:
        """Overwrites a population's biases."""
    def time_steps(self, population: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Per-neuron time steps as realised."""
    def save_state(self) -> ChipState:
        """Copies every neuron's state."""
    def restore_state(self, state: ChipState) -> None:
        """Restores states saved by ``save_state``."""
    def latch_traces(self, slot: int) -> None:
        """Latches every population's activity into trace slot ``slot`` (0..4)."""
    def learn(
        self, group: int, terms: Sequence[tuple[float, int | None, int | None]], global_: float = 1.0
    ) -> None:
        """Local update ``Δw = global_ · Σ c · pre[a] · post[b]`` with terms ``(c, a, b)``."""
    def learn_bias(
        self, population: int, terms: Sequence[tuple[float, int | None, int | None]], global_: float = 1.0
    ) -> None:
        """The same for a population's biases."""
    def counters(self) -> dict[str, int]:
        """Operation counts since the last reset."""
    def cores(self) -> list[dict[str, Any]]:
        """Per core: resources in use and counters."""
    def energy(self) -> dict[str, float]:
        """Estimated energy of the operations counted, in joules, by kind."""
    def reset_counters(self) -> None:
        """Sets every counter to 0."""
