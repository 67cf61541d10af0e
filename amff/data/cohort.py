"""Patient and Cohort: the in-memory model of a cohort (DESIGN.md's cohort folder holds one).

A patient has any subset of the registered modalities and a label when known. The built-in
four are named fields (record, note, image, rna; a cohort's clinical, notes, images, rnaseq);
any other registered modality keeps its data in `extra[name]`. Every question about a modality
(who has it, one patient's value, a subset) is answered by its spec in the registry. Reading
and writing folders is `amff.data.folder`'s job.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amff.data.tables import ID, LABEL, check_feature_names, check_id_text, plain_column
from amff.errors import InputError
from amff.modalities import MODALITIES, Modality


@dataclass(eq=False)
class Patient:
    """One patient: any subset of the modalities, and the label when known."""

    patient_id: str
    record: pd.Series | None = None  # feature -> value; NaN = missing
    note: str | None = None
    image: np.ndarray | None = None  # (H, W) float32 in [0, 1]
    rna: pd.Series | None = None  # gene -> raw count
    label: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # other registered modalities

    def __repr__(self) -> str:  # the id and which modalities, never a patient value
        names = "+".join(m.value for m in self.modalities) or "none"
        return f"Patient({self.patient_id!r}, modalities={names})"

    def value(self, modality: str) -> Any:
        """This patient's value of a modality (None when absent)."""
        return Modality(modality).spec.patient_value(self)

    def has(self, modality: str) -> bool:
        """Whether this patient has the modality."""
        spec = Modality(modality).spec
        return spec.has(spec.patient_value(self))

    @property
    def modalities(self) -> tuple[Modality, ...]:
        return tuple(m for m in MODALITIES if self.has(m))


@dataclass(repr=False, eq=False)
class Cohort:
    """Patients with any subset of the modalities each.

    clinical: one row per patient (index patient_id, str), feature columns only: float64 for
        numeric features, pandas' str dtype (NaN = missing) for text ones.
    labels: 0/1 per patient (int64), or None when the cohort has no label column.
    notes / images: by patient id, only for patients that have them.
    rnaseq: counts (float64), index patient_id, one column per gene, or None.
    truth: the simulator's oracle table, or None.
    extra: the data of any other registered modality, by modality name.
    """

    clinical: pd.DataFrame
    labels: pd.Series | None = None
    notes: dict[str, str] = field(default_factory=dict)
    images: dict[str, np.ndarray] = field(default_factory=dict)
    rnaseq: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None
    meta: dict = field(default_factory=dict)  # simulator ground truth, written as truth.json
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # no patient values in a repr
        return f"Cohort(n={len(self)}, features={len(self.features)}, genes={len(self.genes)})"

    # -- looking ---------------------------------------------------------------------------
    @property
    def ids(self) -> list[str]:
        return [str(i) for i in self.clinical.index]

    def __len__(self) -> int:
        return len(self.clinical)

    @property
    def features(self) -> list[str]:
        return [str(c) for c in self.clinical.columns]

    @property
    def genes(self) -> list[str]:
        return [] if self.rnaseq is None else [str(c) for c in self.rnaseq.columns]

    def data(self, modality: str) -> Any:
        """A modality's data (its table or its mapping by patient id)."""
        return Modality(modality).spec.data(self)

    def present(self, modality: str) -> np.ndarray:
        """A bool array over patients (in `ids` order): who has this modality."""
        return Modality(modality).spec.present(self)

    def present_matrix(self, modalities: Iterable[str] | None = None) -> np.ndarray:
        """(N, M) bool: which patient has which modality (default: every registered one)."""
        chosen = list(MODALITIES) if modalities is None else list(modalities)
        if not chosen:
            return np.zeros((len(self), 0), dtype=bool)
        return np.stack([self.present(m) for m in chosen], axis=1)

    def patient(self, patient_id: str) -> Patient:
        """The patient with this id (KeyError names the id when absent)."""
        if patient_id not in self.clinical.index:
            raise KeyError(f"patient {patient_id!r} is not in this cohort")
        label = None if self.labels is None else int(self.labels.loc[patient_id])
        values = {m.value: m.spec.value(self, patient_id) for m in MODALITIES}
        return Patient(
            patient_id=patient_id,
            record=values.pop("tabular"),
            note=values.pop("text"),
            image=values.pop("image"),
            rna=values.pop("rna"),
            label=label,
            extra={k: v for k, v in values.items() if v is not None},
        )

    def subset(self, ids: Sequence[str]) -> Cohort:
        """A cohort of these patients, in this order (KeyError names an unknown id)."""
        ids = [str(i) for i in ids]
        missing = [i for i in ids if i not in self.clinical.index]
        if missing:
            raise KeyError(f"patient {missing[0]!r} is not in this cohort")
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise InputError(f"patient {dup!r} is asked for more than once; give each id once")
        truth = None
        if self.truth is not None:
            truth = self.truth.loc[[i for i in ids if i in self.truth.index]]
        cohort = Cohort(
            clinical=self.clinical.loc[ids],
            labels=None if self.labels is None else self.labels.loc[ids],
            truth=truth,
            meta=self.meta,
        )
        for m in MODALITIES:
            if m is not Modality.TABULAR:
                part = m.spec.subset(m.spec.data(self), ids)
                cohort = replace(cohort, **m.spec.with_data(cohort, part))
        return cohort

    @classmethod
    def from_patients(
        cls, patients: Iterable[Patient], features: Sequence[str] = (), genes: Sequence[str] = ()
    ) -> Cohort:
        """Build a cohort from Patient objects (for uploads and what-if edits).

        Features default to the union of the records' keys (sorted), genes to the first RNA
        profile's. Labels are kept when every patient has one.
        """
        patients = list(patients)
        ids = [str(p.patient_id) for p in patients]
        _check_new_ids(ids)
        features = [str(f) for f in features] or sorted(
            {str(k) for p in patients if p.record is not None for k in p.record.index}
        )
        check_feature_names(features, "the patients")
        cohort = cls(clinical=_records(patients, ids, features), labels=_labels(patients, ids))
        for m in MODALITIES:
            if m is not Modality.TABULAR:
                part = m.spec.collect(patients, genes=genes)
                cohort = replace(cohort, **m.spec.with_data(cohort, part))
        return cohort

    # -- writing ---------------------------------------------------------------------------
    def write(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write the cohort folder atomically (see `amff.data.folder.write_cohort`)."""
        from amff.data.folder import write_cohort

        return write_cohort(self, path, overwrite)


def _check_new_ids(ids: list[str]) -> None:
    for pid in ids:
        check_id_text(pid, "the patients")
    seen: set[str] = set()
    for pid in ids:
        if pid in seen:
            raise InputError(
                f"the patients: patient_id {pid!r} appears more than once; give every "
                "patient one id"
            )
        seen.add(pid)


def _records(patients: list[Patient], ids: list[str], features: list[str]) -> pd.DataFrame:
    columns: dict[str, list[object]] = {f: [] for f in features}
    for p in patients:
        record = p.record.reindex(features) if p.record is not None else None
        for f in features:
            columns[f].append(np.nan if record is None else record[f])
    return pd.DataFrame(
        {f: plain_column(values, ids, f) for f, values in columns.items()},
        index=pd.Index(ids, name=ID),
        columns=pd.Index(features),
    )


def _labels(patients: list[Patient], ids: list[str]) -> pd.Series | None:
    if not patients or any(p.label is None for p in patients):
        return None
    for p in patients:
        if isinstance(p.label, (bool, np.bool_)) or p.label not in (0, 1):
            raise InputError(
                f"the patients: patient {p.patient_id!r} has label {p.label!r}; "
                "labels must be 0 or 1"
            )
    return pd.Series([int(p.label) for p in patients], index=pd.Index(ids, name=ID), name=LABEL)


__all__ = ["Cohort", "Patient"]
