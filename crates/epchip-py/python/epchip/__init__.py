"""epchip: emulate neuromorphic chips and train HTS equilibrium-propagation networks on them.

The functions mirror the command line: ``train`` (``epchip train``), ``study`` (``epchip study``),
``map`` (``epchip map``), ``profiles`` (``epchip profile list``); ``Profile``, ``Run`` and ``Study``
hold their results, and ``Chip`` is the emulated chip itself. Data in and out are numpy arrays.
See docs/python.md.
"""

from epchip._native import (
    Chip,
    ChipState,
    Profile,
    Run,
    Study,
    __version__,
    map,
    profiles,
    study,
    train,
)

__all__ = [
    "Chip",
    "ChipState",
    "Profile",
    "Run",
    "Study",
    "__version__",
    "map",
    "profiles",
    "study",
    "train",
]
