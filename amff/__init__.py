"""AMFF-HT: adaptive multimodal fusion with hierarchical transformers.

The public API used by the CLI, the dashboard and users (the app imports nothing else)::

    import amff
    cohort = amff.read_cohort("my_cohort/")
    predictor = amff.load("checkpoints/amff-default")
    result = predictor.predict(cohort, modalities=("tabular", "image"))

A new modality is a `ModalitySpec` registered with `amff.register` (see amff.modalities).
Torch-heavy names are imported on first use, so `import amff` loads no torch.
"""

from __future__ import annotations

import logging
from typing import Any

from amff.config import MODEL_KINDS, ModelConfig, TrainConfig
from amff.data.cohort import Cohort, Patient
from amff.data.folder import read_cohort, read_index
from amff.errors import InputError
from amff.modalities import (
    MODALITIES,
    NAMES,
    Modality,
    ModalitySpec,
    all_subsets,
    parse_modalities,
    register,
    registered,
    subset_name,
)
from amff.palette import METHOD_NAMES

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

# name -> (module, attribute); attribute None: the module itself. Imported on first use, so
# `import amff` loads no torch and internals can move without changing the names.
_LAZY: dict[str, tuple[str, str | None]] = {
    "load": ("amff.predictor", "load"),
    "Predictor": ("amff.predictor", "Predictor"),
    "train": ("amff.trainer", "train"),
    "save_checkpoint": ("amff.checkpoint", "save_checkpoint"),
    "simulate": ("amff.simulator", "simulate"),
    "SimConfig": ("amff.simulator", "SimConfig"),
    # one file's bytes (uploads)
    "parse_clinical": ("amff.modalities.tabular", "parse_clinical"),
    "parse_rnaseq": ("amff.modalities.rna_file", "parse_rnaseq"),
    "decode_image": ("amff.data.images", "decode_image"),
    "encode_png": ("amff.data.images", "encode_png"),
    "MAX_NOTE_CHARS": ("amff.modalities.text", "MAX_NOTE_CHARS"),
    # submodules: amff.explain.attribute(...), amff.metrics.auroc(...), amff.figures.build_all(...)
    "explain": ("amff.explain", None),
    "metrics": ("amff.metrics", None),
    "modalities": ("amff.modalities", None),
    "palette": ("amff.palette", None),
    "figures": ("amff.experiments.figures", None),
    "PAPER_TABLE1": ("amff.experiments.paper", "PAPER_TABLE1"),
}


def __getattr__(name: str) -> Any:
    """Import the torch-heavy parts on first use, so `import amff` stays light."""
    import importlib

    if name in _LAZY:
        module, attr = _LAZY[name]
        found = importlib.import_module(module)
        return found if attr is None else getattr(found, attr)
    raise AttributeError(f"module 'amff' has no attribute {name!r}")


__all__ = [
    "MAX_NOTE_CHARS",
    "METHOD_NAMES",
    "MODALITIES",
    "MODEL_KINDS",
    "NAMES",
    "PAPER_TABLE1",
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
    "decode_image",
    "encode_png",
    "explain",
    "figures",
    "load",
    "metrics",
    "modalities",
    "palette",
    "parse_clinical",
    "parse_modalities",
    "parse_rnaseq",
    "read_cohort",
    "read_index",
    "register",
    "registered",
    "save_checkpoint",
    "simulate",
    "subset_name",
    "train",
]
