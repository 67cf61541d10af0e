"""The clinical record (tabular): clinical.csv, standardised values with missing flags and
category codes, an MLP encoder.

clinical.csv is also the cohort's list of patients (every patient has a row), so the folder
reader parses it first; a row whose feature cells are all empty has no tabular modality.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from amff.data.tables import (
    ID,
    LABEL,
    check_ids,
    check_label_name,
    feature_column,
    parse_labels,
    read_table,
)
from amff.errors import InputError
from amff.modalities.spec import NOT_FINITE, ModalitySpec

if TYPE_CHECKING:
    from torch import nn

    from amff.config import ModelConfig
    from amff.data.cohort import Cohort, Patient


def parse_clinical(data: bytes, name: str) -> tuple[pd.DataFrame, pd.Series | None]:
    """clinical.csv bytes -> (features indexed by patient_id, labels or None).

    Feature columns are float64 when every non-missing cell is a number, else str (text
    categories); empty cells and NA-like cells are missing (NaN). Labels must be 0 or 1 in
    every row, or absent (no column, or an all-empty column) for a predict-only cohort.
    """
    frame = read_table(data, name)
    ids = check_ids(frame, name)
    check_label_name(frame, name)
    labels = None
    if LABEL in frame.columns:
        labels = parse_labels(frame[LABEL], ids, name)
    features = frame.drop(columns=[ID] + ([LABEL] if LABEL in frame.columns else []))
    index = pd.Index(ids, name=ID)
    columns = {}
    for col in features.columns:
        values = feature_column(features[col], col, name)
        dtype = np.float64 if values.dtype == np.float64 else "str"
        columns[col] = pd.Series(values, index=index, dtype=dtype, name=col)
    clinical = pd.DataFrame(columns, index=index, columns=pd.Index(list(features.columns)))
    return clinical, labels


@dataclass
class TabularPreprocessor:
    numeric: list[str] = field(default_factory=list)
    means: list[float] = field(default_factory=list)
    sds: list[float] = field(default_factory=list)
    low: list[float] = field(default_factory=list)  # 1st percentile: out-of-range flags
    high: list[float] = field(default_factory=list)  # 99th percentile
    categorical: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def fit(cls, clinical: pd.DataFrame) -> TabularPreprocessor:
        numeric, means, sds, low, high, categorical = [], [], [], [], [], {}
        for col in clinical.columns:
            column = clinical[col]
            if pd.api.types.is_numeric_dtype(column):
                values = column.to_numpy(dtype=np.float64)
                values = values[np.isfinite(values)]
                numeric.append(str(col))
                if len(values):
                    means.append(float(values.mean()))
                    sds.append(float(values.std()) if values.std() > 1e-8 else 1.0)
                    low.append(float(np.percentile(values, 1)))
                    high.append(float(np.percentile(values, 99)))
                else:
                    means.append(0.0), sds.append(1.0), low.append(0.0), high.append(0.0)
            else:
                cats = sorted({str(v) for v in column.dropna()})
                categorical[str(col)] = cats
        return cls(numeric, means, sds, low, high, categorical)

    @property
    def features(self) -> list[str]:
        return self.numeric + list(self.categorical)

    def check(self, clinical: pd.DataFrame, source: str = "clinical.csv") -> None:
        missing = [f for f in self.features if f not in clinical.columns]
        if missing:
            raise InputError(
                f"{source}: the model expects feature column(s) {missing[:5]} that the cohort "
                "lacks; add them (empty cells are fine) or use a checkpoint trained on these "
                "features"
            )
        for col in self.numeric:
            if not pd.api.types.is_numeric_dtype(clinical[col]):
                bad = next(v for v in clinical[col].dropna() if _not_number(v))
                raise InputError(
                    f"{source}: column {col!r} must be numeric for this model but holds "
                    f"{str(bad)[:20]!r}; fix the cell or leave it empty"
                )

    def transform(self, clinical: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(clinical)
        if self.numeric:
            raw = clinical[self.numeric].to_numpy(dtype=np.float64)  # (N, F)
            missing = ~np.isfinite(raw)
            scaled = (raw - np.asarray(self.means)) / np.asarray(self.sds)
            scaled = np.clip(np.where(missing, 0.0, scaled), -10.0, 10.0)
        else:
            scaled, missing = np.zeros((n, 0)), np.zeros((n, 0), dtype=bool)
        codes = np.zeros((n, len(self.categorical)), dtype=np.int64)
        for j, (col, cats) in enumerate(self.categorical.items()):
            lookup = {c: i + 1 for i, c in enumerate(cats)}
            codes[:, j] = [
                lookup.get(str(v), 0) if not _is_missing(v) else 0 for v in clinical[col]
            ]
        return scaled.astype(np.float32), missing.astype(np.float32), codes

    def out_of_range(self, record: pd.Series) -> dict[str, str]:
        """'low' / 'high' for numeric values outside the training 1st-99th percentiles."""
        flags = {}
        for col, lo, hi in zip(self.numeric, self.low, self.high):
            value = pd.to_numeric(pd.Series([record.get(col)]), errors="coerce").iloc[0]
            if pd.notna(value):
                flags[col] = "low" if value < lo else "high" if value > hi else ""
        return flags

    # -- the ModalityPreprocessor protocol -------------------------------------------------
    def check_cohort(self, cohort: Cohort) -> None:
        self.check(cohort.clinical)

    def inputs(self, cohort: Cohort) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.transform(cohort.clinical)

    def usable(self) -> bool:
        return bool(self.features)

    def schema(self) -> dict[str, Any]:
        return {
            "numeric_features": self.numeric,
            "categorical_features": {k: len(v) for k, v in self.categorical.items()},
        }

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__

    def problem(self) -> tuple[str, str] | None:
        return _tabular_problem(self)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def _not_number(value: Any) -> bool:
    try:
        float(value)
        return False
    except (TypeError, ValueError):
        return True


def _tabular_problem(tab: TabularPreprocessor) -> tuple[str, str] | None:
    if not isinstance(tab.categorical, dict) or not all(
        isinstance(v, list) for v in tab.categorical.values()
    ):
        return "preprocess.json", "the categories are not lists"
    names = [*tab.numeric, *tab.categorical]
    names += [c for v in tab.categorical.values() for c in v]
    if not all(isinstance(name, str) for name in names):
        return "preprocess.json", "a feature, category or gene name is not text"
    stats = (tab.means, tab.sds, tab.low, tab.high)
    if any(len(v) != len(tab.numeric) for v in stats):
        return "preprocess.json", "the record statistics do not match the numeric features"
    numbers = np.array([x for v in stats for x in v], dtype=np.float64)
    if not np.isfinite(numbers).all() or not (np.array(tab.sds, dtype=np.float64) > 0).all():
        return "preprocess.json", NOT_FINITE
    return None


class TabularModality(ModalitySpec):
    name = "tabular"
    label = "clinical record"
    files = "clinical.csv (one row per patient: patient_id, label, feature columns)"
    attribution = "tabular"
    quality_signals = ("blank_share",)

    def data(self, cohort: Cohort) -> pd.DataFrame:
        return cohort.clinical

    def with_data(self, cohort: Cohort, data: Any) -> dict[str, Any]:
        return {"clinical": data}

    def present(self, cohort: Cohort) -> np.ndarray:
        if cohort.clinical.shape[1] == 0:
            return np.zeros(len(cohort.clinical), dtype=bool)
        return cohort.clinical.notna().any(axis=1).to_numpy()

    def value(self, cohort: Cohort, patient_id: str) -> pd.Series | None:
        record = cohort.clinical.loc[patient_id]
        return record if bool(record.notna().any()) else None

    def patient_value(self, patient: Patient) -> pd.Series | None:
        return patient.record

    def has(self, value: Any) -> bool:
        return value is not None and bool(value.notna().any())

    def fit(self, cohort: Cohort, **options: Any) -> TabularPreprocessor:
        return TabularPreprocessor.fit(cohort.clinical.loc[self.present(cohort)])

    def preprocessor_from_dict(
        self, data: dict[str, Any], files: dict[str, str]
    ) -> TabularPreprocessor:
        return TabularPreprocessor(**data)

    def build_encoder(self, config: ModelConfig, schema: dict[str, Any]) -> nn.Module:
        from amff.nn.encoders import TabularEncoder

        return TabularEncoder(
            n_numeric=len(schema["numeric_features"]),
            cat_cardinalities=list(schema["categorical_features"].values()),
            hidden=config.tabular_hidden,
            n_tokens=config.tabular_tokens,
            dim=config.dim,
            dropout=config.dropout,
        )

    def quality(self, cohort: Cohort) -> pd.DataFrame:
        """blank_share: the share of the record's feature cells left empty."""
        rows = self.present(cohort)
        blank = cohort.clinical.isna().mean(axis=1).to_numpy(dtype=np.float64)
        return pd.DataFrame({"blank_share": blank[rows]}, index=cohort.clinical.index[rows])
