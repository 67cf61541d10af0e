"""AMFF-HT: adaptive multimodal fusion with hierarchical transformers.

The public API used by the CLI, the dashboard and users::

    import amff
    cohort = amff.read_cohort("my_cohort/")
    predictor = amff.load("checkpoints/amff-default")
    result = predictor.predict(cohort, modalities=("tabular", "image"))

A new modality is a `ModalitySpec` registered with `amff.register` (see amff.modalities).
Torch-heavy names are imported on first use, so `import amff` stays light.
"""

from __future__ import annotations

import logging
from typing import Any

from amff.config import ModelConfig, TrainConfig
from amff.data.cohort import Cohort, Patient
from amff.data.folder import read_cohort, read_index
from amff.errors import InputError
from amff.modalities import (
    MODALITIES,
    Modality,
    ModalitySpec,
    all_subsets,
    parse_modalities,
    register,
    registered,
    subset_name,
)

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {
    "load": ("amff.predictor", "load"),
    "Predictor": ("amff.predictor", "Predictor"),
    "train": ("amff.train", "train"),
    "save_checkpoint": ("amff.checkpoint", "save_checkpoint"),
    "simulate": ("amff.simulator", "simulate"),
    "SimConfig": ("amff.simulator", "SimConfig"),
}
_SUBMODULES = ("explain", "metrics", "modalities")


def __getattr__(name: str) -> Any:
    """Import the torch-heavy parts on first use, so `import amff` stays light."""
    import importlib

    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name in _SUBMODULES:
        return importlib.import_module(f"amff.{name}")
    raise AttributeError(f"module 'amff' has no attribute {name!r}")


__all__ = [
    "MODALITIES",
    "Cohort",
    "InputError",
    "Modality",
    "ModalitySpec",
    "ModelConfig",
    "Patient",
    "Predictor",
    "SimConfig",
    "TrainConfig",
    "__version__",
    "all_subsets",
    "explain",
    "load",
    "metrics",
    "parse_modalities",
    "read_cohort",
    "read_index",
    "register",
    "registered",
    "save_checkpoint",
    "simulate",
    "subset_name",
    "train",
]
