"""The fitted preprocessors of a model, one per modality, saved as JSON in the checkpoint.

Each modality's own preprocessor lives in its module (`amff.modalities.<name>`): the record's
standardisation and missing flags, the note's WordPiece tokenizer, the image's resizing and
normalisation, the RNA log-CPM of variable genes. `Preprocessor` holds them in registry order,
fitted on training patients only; `transform(cohort)` gives a Batch. A cohort whose features
or genes do not fit the fitted schema gets an InputError that says what differs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from amff.data.cohort import Cohort
from amff.data.dataset import Batch
from amff.errors import InputError
from amff.modalities import BUILTIN, MODALITIES, NAMES, Modality
from amff.modalities.spec import ModalityPreprocessor
from amff.modalities.text import MAX_NOTE_CHARS

# config.json's schema keys in the order the first checkpoints wrote them
_SCHEMA_ORDER = (
    "numeric_features",
    "categorical_features",
    "n_genes",
    "image_size",
    "vocab_size",
    "text_max_len",
)


class Preprocessor:
    """The fitted preprocessors of a model's modalities; `transform` turns a cohort into a Batch.

    `preprocessor.tabular` (etc.) is one modality's preprocessor.
    """

    def __init__(self, parts: dict[str, ModalityPreprocessor]) -> None:
        self.parts = {Modality(name).value: part for name, part in parts.items()}

    def __getattr__(self, name: str) -> Any:
        parts = self.__dict__.get("parts", {})
        if name in parts:
            return parts[name]
        raise AttributeError(f"Preprocessor has no attribute or modality {name!r}")

    @property
    def modalities(self) -> tuple[Modality, ...]:
        return tuple(Modality(name) for name in self.parts)

    @classmethod
    def fit(
        cls,
        cohort: Cohort,
        image_size: int = 64,
        vocab_size: int = 2000,
        max_len: int = 128,
        modalities: Sequence[str] | None = None,
    ) -> Preprocessor:
        """Fit on `cohort`, which must hold the training patients only (every registered
        modality unless `modalities` says which)."""
        chosen = tuple(MODALITIES) if modalities is None else tuple(map(Modality, modalities))
        options = {"image_size": image_size, "vocab_size": vocab_size, "max_len": max_len}
        return cls({m.value: m.spec.fit(cohort, **options) for m in chosen})

    def check(self, cohort: Cohort) -> None:
        """InputError when the cohort's features or genes do not fit this preprocessor."""
        for part in self.parts.values():
            part.check_cohort(cohort)

    def transform(self, cohort: Cohort) -> Batch:
        self.check(cohort)
        present = cohort.present_matrix(self.parts)
        inputs = {}
        for j, (name, part) in enumerate(self.parts.items()):
            inputs[name] = tuple(torch.as_tensor(a) for a in part.inputs(cohort))
            if not part.usable():
                present[:, j] = False
        label = None
        if cohort.labels is not None:
            label = torch.as_tensor(cohort.labels.loc[cohort.ids].to_numpy(dtype=np.float32))
        return Batch(inputs, torch.as_tensor(present), label)

    @property
    def features(self) -> list[str]:
        return self.parts["tabular"].features if "tabular" in self.parts else []

    @property
    def genes(self) -> list[str]:
        return self.parts["rna"].genes if "rna" in self.parts else []

    def schema(self) -> dict[str, Any]:
        """What the model was built for (saved in config.json)."""
        merged: dict[str, Any] = {}
        for part in self.parts.values():
            merged.update(part.schema())
        schema = {k: merged.pop(k) for k in _SCHEMA_ORDER if k in merged}
        schema.update(merged)
        if tuple(self.parts) != BUILTIN:
            schema["modalities"] = list(self.parts)
        return schema

    def files(self) -> dict[str, str]:
        """The checkpoint files beside preprocess.json (the note's tokenizer.json, ...)."""
        out: dict[str, str] = {}
        for m in self.modalities:
            out.update(m.spec.extra_files(self.parts[m.value]))
        return out

    def problem(self) -> tuple[str, str] | None:
        """(file, what is wrong) for the first inconsistent fitted statistic, or None."""
        for part in self.parts.values():
            found = part.problem()
            if found:
                return found
        return None

    # -- JSON ------------------------------------------------------------------------------
    def to_json(self) -> str:
        """Everything but the extra files (the tokenizer is kept in its own tokenizer.json)."""
        return json.dumps({name: part.to_dict() for name, part in self.parts.items()})

    @classmethod
    def from_json(
        cls, text: str, files: dict[str, str] | str, modalities: Sequence[str] | None = None
    ) -> Preprocessor:
        """From preprocess.json and the extra files (a str is tokenizer.json's text), in the
        order of `modalities` (default: registry order)."""
        if isinstance(files, str):
            files = {"tokenizer.json": files}
        try:
            data = json.loads(text)
            order = list(modalities) if modalities is not None else list(NAMES)
            order = [n for n in order if n in data] + [n for n in data if n not in order]
            parts = {n: Modality(n).spec.preprocessor_from_dict(data[n], files) for n in order}
            return cls(parts)
        except Exception as exc:  # any malformed field: one clear message
            raise InputError(
                f"preprocess.json or tokenizer.json is malformed ({type(exc).__name__}: "
                f"{str(exc)[:100]}); use an unmodified checkpoint folder"
            ) from None


__all__ = ["MAX_NOTE_CHARS", "Preprocessor"]
