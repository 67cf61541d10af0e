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

# name -> (module, attribute); attribute None: the module itself. Imported on first use, so
# `import amff` loads no torch and internals can move without changing the names.
_LAZY: dict[str, tuple[str, str | None]] = {
    "load": ("amff.predictor", "load"),
    "Predictor": ("amff.predictor", "Predictor"),
    "simulate": ("amff.data.simulate", "simulate"),
    "SimConfig": ("amff.data.simulate", "SimConfig"),
    # the cohort folder, and one file's bytes (uploads)
    "read_index": ("amff.data.cohort", "read_index"),
    "parse_clinical": ("amff.data.cohort", "parse_clinical"),
    "parse_rnaseq": ("amff.data.cohort", "parse_rnaseq"),
    "decode_image": ("amff.data.images", "decode_image"),
    "encode_png": ("amff.data.images", "encode_png"),
    "MAX_NOTE_CHARS": ("amff.data.preprocess", "MAX_NOTE_CHARS"),
    # modality subsets
    "all_subsets": ("amff.modalities", "all_subsets"),
    "subset_name": ("amff.modalities", "subset_name"),
    # submodules: amff.explain.attribute(...), amff.metrics.auroc(...), amff.figures.build_all(...)
    "explain": ("amff.explain", None),
    "metrics": ("amff.metrics", None),
    "figures": ("amff.figures", None),
}


def __getattr__(name: str) -> Any:
    """Import the torch-heavy parts on first use, so `import amff` stays light."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        found = importlib.import_module(module)
        return found if attr is None else getattr(found, attr)
    raise AttributeError(f"module 'amff' has no attribute {name!r}")


__all__ = [
    "Cohort",
    "InputError",
    "MAX_NOTE_CHARS",
    "MODALITIES",
    "Modality",
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
    "parse_clinical",
    "parse_rnaseq",
    "read_cohort",
    "read_index",
    "simulate",
    "subset_name",
]
