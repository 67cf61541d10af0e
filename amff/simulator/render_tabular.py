"""The clinical record: ICU vitals and labs in real units, driven by the tabular readings."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

# name, driver, loading on the driver's reading, link from z (~N(0, 1)) to units, range, decimals
_TABULAR: tuple[tuple[str, str, float, Callable[[np.ndarray], np.ndarray], float, float, int], ...]
_TABULAR = (
    ("age", "u_tab", 0.7, lambda z: 64 + 14 * z, 18, 100, 0),
    ("heart_rate", "s", 0.8, lambda z: 88 + 17 * z, 35, 190, 0),
    ("sbp", "s", 0.75, lambda z: 122 - 19 * z, 60, 220, 0),
    ("dbp", "s", 0.65, lambda z: 68 - 10 * z, 30, 130, 0),
    ("resp_rate", "s", 0.8, lambda z: 19 + 5 * z, 6, 50, 0),
    ("spo2", "s", 0.75, lambda z: 100 - np.exp(np.log(2.5) + 0.55 * z), 65, 100, 0),
    ("temperature", "s", 0.6, lambda z: 37.0 + 0.65 * z, 34, 41.5, 1),
    ("fio2", "s", 0.7, lambda z: 0.21 + 0.18 * np.maximum(z - 0.3, 0) ** 1.5, 0.21, 1.0, 2),
    ("gcs", "s", 0.7, lambda z: 15 - np.maximum(0, 3.0 * (z - 0.5)), 3, 15, 0),
    ("lactate", "s", 0.8, lambda z: np.exp(np.log(1.4) + 0.5 * z), 0.3, 20, 1),
    ("wbc", "s", 0.65, lambda z: np.exp(np.log(9.0) + 0.38 * z), 0.5, 60, 1),
    ("creatinine", "u_tab", 0.8, lambda z: np.exp(0.42 * z), 0.2, 15, 2),
    ("bun", "u_tab", 0.75, lambda z: np.exp(np.log(18) + 0.45 * z), 2, 150, 0),
    ("hemoglobin", "u_tab", 0.7, lambda z: 12.4 - 1.7 * z, 4, 19, 1),
    ("albumin", "u_tab", 0.75, lambda z: 3.6 - 0.5 * z, 1.0, 5.5, 1),
    ("bilirubin", "u_tab", 0.65, lambda z: np.exp(np.log(0.8) + 0.55 * z), 0.1, 30, 1),
    ("platelets", "u_tab", 0.6, lambda z: np.exp(np.log(230) - 0.32 * z), 5, 900, 0),
    ("sodium", "noise", 0.0, lambda z: 139 + 3.5 * z, 115, 165, 0),
    ("potassium", "noise", 0.0, lambda z: 4.2 + 0.45 * z, 2.0, 7.5, 1),
    ("glucose", "noise", 0.0, lambda z: np.exp(np.log(125) + 0.3 * z), 40, 800, 0),
    ("weight_kg", "noise", 0.0, lambda z: 80 + 17 * z, 35, 220, 1),
)
_CATEGORICAL = ("sex", "admission_type")
_ALWAYS_RECORDED = ("age", "sex", "admission_type")  # administrative: never a blank cell
_CELL_MISSING_GOOD, _CELL_MISSING_POOR = 0.02, 0.2
TABULAR_COLUMNS = (
    "age",
    "sex",
    "admission_type",
    "heart_rate",
    "sbp",
    "dbp",
    "map",
    "resp_rate",
    "spo2",
    "temperature",
    "fio2",
    "gcs",
    "lactate",
    "wbc",
    "creatinine",
    "bun",
    "hemoglobin",
    "albumin",
    "bilirubin",
    "platelets",
    "sodium",
    "potassium",
    "glucose",
    "weight_kg",
)
TABULAR_SIGNAL = {
    "s": ["admission_type", "heart_rate", "sbp", "dbp", "map", "resp_rate", "spo2"]
    + ["temperature", "fio2", "gcs", "lactate", "wbc"],
    "u_tab": ["age", "creatinine", "bun", "hemoglobin", "albumin", "bilirubin", "platelets"],
    "noise": ["sex", "sodium", "potassium", "glucose", "weight_kg"],
}


def render_tabular(
    rng: np.random.Generator, reading: dict[str, np.ndarray], poor: np.ndarray
) -> pd.DataFrame:
    """ICU vitals and labs in real units; more blank cells when the record is poor."""
    n = len(poor)
    columns: dict[str, np.ndarray] = {}
    for name, driver, loading, link, lo, hi, decimals in _TABULAR:
        own = rng.standard_normal(n)
        z = (
            own
            if driver == "noise"
            else loading * reading[driver] + math.sqrt(1 - loading**2) * own
        )
        columns[name] = np.round(np.clip(link(z), lo, hi), decimals)
    columns["dbp"] = np.minimum(columns["dbp"], columns["sbp"] - 15)
    columns["map"] = np.round((columns["sbp"] + 2 * columns["dbp"]) / 3)
    z = 0.6 * reading["s"] + 0.8 * rng.standard_normal(n)
    admission = np.where(z < -0.6, "elective", np.where(z < 0.4, "urgent", "emergency"))

    columns["sex"] = np.where(rng.random(n) < 0.5, "F", "M")
    columns["admission_type"] = admission
    # categories as pandas' text dtype ("str", what read_cohort gives back), numbers as float64
    frame = pd.DataFrame(
        {
            name: pd.Series(columns[name], dtype="str" if name in _CATEGORICAL else np.float64)
            for name in TABULAR_COLUMNS
        }
    )
    rate = np.where(poor, _CELL_MISSING_POOR, _CELL_MISSING_GOOD)[:, None]
    blank = rng.random(frame.shape) < rate
    blank[:, [TABULAR_COLUMNS.index(c) for c in _ALWAYS_RECORDED]] = False
    # a blood pressure is measured whole: sbp, dbp and map are blank together
    bp = [TABULAR_COLUMNS.index(c) for c in ("sbp", "dbp", "map")]
    blank[:, bp] = blank[:, bp[:1]]
    return frame.mask(blank)
