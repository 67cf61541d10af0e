"""AMFF-HT: adaptive multimodal fusion with hierarchical transformers.

The public API used by the CLI, the dashboard and users::

    import amff
    cohort = amff.read_cohort("my_cohort/")
    predictor = amff.load("checkpoints/amff-default")
    result = predictor.predict(cohort, modalities=("tabular", "image"))
"""

from __future__ import annotations

import logging
from typing import Any

from amff.config import ModelConfig, TrainConfig
from amff.data.cohort import Cohort, Patient, read_cohort
from amff.errors import InputError
from amff.modalities import MODALITIES, Modality

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {
    "load": ("amff.predictor", "load"),
    "Predictor": ("amff.predictor", "Predictor"),
    "simulate": ("amff.simulate", "simulate"),
    "SimConfig": ("amff.simulate", "SimConfig"),
}


def __getattr__(name: str) -> Any:
    """Import the torch-heavy parts on first use, so `import amff` stays light."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'amff' has no attribute {name!r}")


__all__ = [
    "MODALITIES",
    "Cohort",
    "InputError",
    "Modality",
    "ModelConfig",
    "Patient",
    "TrainConfig",
    "__version__",
    "load",
    "read_cohort",
    "simulate",
]
