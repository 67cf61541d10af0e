"""`ModalitySpec`: the one place that says how a modality is read, stored, preprocessed,
encoded, augmented, judged for quality and explained.

A spec is a small object with methods; the base class gives defaults for a modality kept as a
mapping or a table keyed by patient id, so a new modality overrides only what differs. Nothing
here imports torch: the encoder factory imports it when called.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from torch import Tensor, nn

    from amff.config import ModelConfig
    from amff.data.cohort import Cohort, Patient


NOT_FINITE = "a statistic is not a finite number (or a scale is not positive)"


class ModalitySource(Protocol):
    """A modality's files in one cohort folder, checked on opening; `load` reads patients."""

    def load(self, keep: set[str]) -> Any:
        """The modality's data for the patients in `keep` (those that have it)."""


class ModalityPreprocessor(Protocol):
    """A modality's preprocessor, fitted on training patients and saved in the checkpoint."""

    def check_cohort(self, cohort: Cohort) -> None:
        """InputError when the cohort's data does not fit what was fitted."""

    def inputs(self, cohort: Cohort) -> tuple[np.ndarray, ...]:
        """The encoder's inputs for every patient in `cohort.ids` order (zeros where absent)."""

    def usable(self) -> bool:
        """False when fitted on nothing (no features, no genes): the modality is then unread."""

    def schema(self) -> dict[str, Any]:
        """What the encoder is sized by (saved in config.json)."""

    def to_dict(self) -> dict[str, Any]:
        """The fitted state, as JSON (preprocess.json holds one entry per modality)."""

    def problem(self) -> tuple[str, str] | None:
        """(file, what is wrong) when a loaded state is inconsistent, else None."""


class ModalitySpec:
    """Everything that differs between modalities. Override what the defaults do not fit.

    Storage: the base class keeps a modality's data in `cohort.extra[name]` (a dict or a
    DataFrame keyed by patient id) and a patient's value in `patient.extra[name]`; the built-in
    four keep theirs in the named fields of Cohort and Patient.
    """

    name: str = ""
    label: str = ""
    files: str = ""  # how a cohort folder holds it, for messages and documentation
    quality_signals: tuple[str, ...] = ()  # names of the columns `quality` returns
    attribution: str = "vector"  # the explanation adapter (amff.explain) by name
    checkpoint_files: tuple[str, ...] = ()  # files beside preprocess.json (see extra_files)

    # -- the cohort folder -------------------------------------------------------------------
    def open(self, folder: Path, known: set[str], stream: bool = False) -> ModalitySource | None:
        """Check this modality's files in `folder` against the known patient ids; None when
        the folder has none. stream=True: index a large file instead of reading it whole."""
        return None

    def write(self, data: Any, folder: Path) -> None:
        """Write this modality's data into a cohort folder being built."""

    # -- storage in Cohort and Patient -------------------------------------------------------
    def data(self, cohort: Cohort) -> Any:
        return cohort.extra.get(self.name)

    def with_data(self, cohort: Cohort, data: Any) -> dict[str, Any]:
        """Cohort constructor arguments that set this modality's data."""
        extra = dict(cohort.extra)
        extra[self.name] = data
        return {"extra": extra}

    def present(self, cohort: Cohort) -> np.ndarray:
        """Bool (N,) in `cohort.ids` order: who has this modality."""
        data = self.data(cohort)
        ids = cohort.clinical.index
        if data is None:
            return np.zeros(len(ids), dtype=bool)
        if isinstance(data, pd.DataFrame):
            return np.asarray(ids.isin(data.index), dtype=bool)
        return np.array([i in data for i in ids], dtype=bool)

    def value(self, cohort: Cohort, patient_id: str) -> Any:
        """One patient's value, or None."""
        data = self.data(cohort)
        if data is None:
            return None
        if isinstance(data, pd.DataFrame):
            return data.loc[patient_id] if patient_id in data.index else None
        return data.get(patient_id)

    def patient_value(self, patient: Patient) -> Any:
        return patient.extra.get(self.name)

    def has(self, value: Any) -> bool:
        """Whether a patient's value counts as having the modality."""
        return value is not None

    def subset(self, data: Any, ids: Sequence[str]) -> Any:
        if data is None:
            return None
        if isinstance(data, pd.DataFrame):
            return data.loc[[i for i in ids if i in data.index]]
        return {i: data[i] for i in ids if i in data}

    def collect(self, patients: Sequence[Patient], **schema: Any) -> Any:
        """This modality's data for a cohort built from Patient objects."""
        values = {p.patient_id: self.patient_value(p) for p in patients}
        values = {k: v for k, v in values.items() if v is not None}
        if values and all(isinstance(v, pd.Series) for v in values.values()):
            frame = pd.DataFrame(list(values.values()), index=list(values))
            frame.index.name = "patient_id"
            return frame
        return values or None

    # -- the model ---------------------------------------------------------------------------
    def fit(self, cohort: Cohort, **options: Any) -> ModalityPreprocessor:
        raise NotImplementedError(f"modality {self.name!r} has no preprocessor")

    def preprocessor_from_dict(
        self, data: dict[str, Any], files: dict[str, str]
    ) -> ModalityPreprocessor:
        raise NotImplementedError(f"modality {self.name!r} has no preprocessor")

    def extra_files(self, preprocessor: ModalityPreprocessor) -> dict[str, str]:
        """Checkpoint files beside preprocess.json (e.g. the note's tokenizer.json)."""
        return {}

    def build_encoder(self, config: ModelConfig, schema: dict[str, Any]) -> nn.Module:
        """The level-1 encoder: forward(*inputs) -> (tokens (B, L, D), mask (B, L))."""
        raise NotImplementedError(f"modality {self.name!r} has no encoder")

    def augment(self, inputs: tuple[Tensor, ...], flips: Tensor) -> tuple[Tensor, ...]:
        """Training-time augmentation (flips: (B,) bool drawn per batch); none by default."""
        return inputs

    def trim(self, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        """Drop padding no patient in the batch uses (saves work); nothing by default."""
        return inputs

    # -- quality -----------------------------------------------------------------------------
    def quality(self, cohort: Cohort) -> pd.DataFrame:
        """Quality readings computed from the data itself (one row per patient with the
        modality, columns `quality_signals`); none by default."""
        return pd.DataFrame(index=pd.Index([], name="patient_id"))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
