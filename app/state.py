"""What the dashboard keeps, and for how long.

- st.cache_resource: loaded models (read-only after loading) and level-1 encodings (opaque
  `Encoded` values that only the predictor reads), shared by every session of the process;
- st.cache_data: cohorts, predictions, metrics, attributions and experiment results;
- st.session_state: the user's own selections and uploads (see `SELECTION_KEYS`).

Paths come from the environment so tests and users can point the app elsewhere:
AMFF_CHECKPOINT_DIR (folder holding amff-default, early-default, late-default),
AMFF_DEMO_COHORT (the held-out cohort folder), AMFF_RESULTS_DIR (the experiments' outputs).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

import amff

REPO = Path(__file__).resolve().parent.parent
MODEL_KINDS = {kind: amff.METHOD_NAMES[kind] for kind in amff.MODEL_KINDS}
HARD_CASES = 50  # patients in each hard-case list


# -- where things are ------------------------------------------------------------------------
def checkpoint_dir() -> Path:
    return Path(os.environ.get("AMFF_CHECKPOINT_DIR") or REPO / "checkpoints")


def demo_cohort_dir() -> Path:
    return Path(os.environ.get("AMFF_DEMO_COHORT") or REPO / "assets" / "demo_cohort")


def results_dir() -> Path:
    return Path(os.environ.get("AMFF_RESULTS_DIR") or REPO / "assets" / "results")


def example_patient_dir() -> Path:
    return REPO / "assets" / "example_patient"


def available_models() -> dict[str, str]:
    """{kind: checkpoint folder} for the shipped models that exist, AMFF-HT first."""
    root = checkpoint_dir()
    found = {}
    for kind in MODEL_KINDS:
        folder = root / f"{kind}-default"
        if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file():
            found[kind] = str(folder)
    return found


def has_demo_cohort() -> bool:
    return (demo_cohort_dir() / "clinical.csv").is_file()


# -- models ------------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading the model...")
def predictor(path: str) -> Any:
    """The checkpoint at `path`, loaded once per process and never modified."""
    return amff.load(path)


@dataclass(frozen=True)
class CurrentModel:
    """The model chosen in the sidebar: its kind, folder and loaded predictor, and every
    shipped model found (kind -> folder, AMFF-HT first)."""

    kind: str
    path: str
    model: Any
    models: dict[str, str]


def current_model() -> CurrentModel | None:
    """The model chosen in the sidebar, loaded (once per process); None without a checkpoint."""
    models = available_models()
    if not models:
        return None
    kind = selected_model(models)
    return CurrentModel(kind, models[kind], predictor(models[kind]), models)


# -- the held-out cohort -----------------------------------------------------------------------
@st.cache_data(show_spinner="Reading the held-out patients...", max_entries=4)
def demo_cohort(path: str) -> amff.Cohort:
    cohort = amff.read_cohort(path)
    _read_whole().add(path)
    return cohort


@st.cache_resource(show_spinner=False)
def _read_whole() -> set[str]:
    """The cohort folders already read whole (and cached) in this process."""
    return set()


@dataclass(frozen=True)
class CohortIndex:
    """What the patient picker needs: ids, labels and the simulator's true risk."""

    ids: list[str]
    labels: dict[str, int]
    p_true: dict[str, float]


@st.cache_data(show_spinner=False, max_entries=4)
def cohort_index(path: str) -> CohortIndex:
    """From clinical.csv and truth.csv only (amff.read_index), so the first page does not
    wait for the images and RNA-seq of every patient."""
    index = amff.read_index(path)
    p_true: dict[str, float] = {}
    if index.truth is not None and "p_true" in index.truth.columns:
        p_true = {str(k): float(v) for k, v in index.truth["p_true"].items()}
    labels = index.labels
    return CohortIndex(
        ids=index.ids,
        labels={} if labels is None else {str(k): int(v) for k, v in labels.items()},
        p_true=p_true,
    )


@st.cache_data(show_spinner=False, max_entries=256)
def demo_patient(path: str, patient_id: str) -> amff.Patient:
    """One held-out patient: from the cached cohort once it is read whole, else read alone
    (the first prediction after a start does not wait for the whole cohort)."""
    if path in _read_whole():
        return demo_cohort(path).patient(patient_id)
    return amff.read_cohort(path, ids=[patient_id]).patient(patient_id)


@st.cache_resource(show_spinner="Encoding the held-out patients (once)...", max_entries=8)
def encoded_cohort(model_path: str, cohort_path: str) -> Any:
    """Level 1 for the whole held-out cohort: every modality toggle starts from this."""
    return predictor(model_path).encode(demo_cohort(cohort_path))


@st.cache_resource(show_spinner=False, max_entries=128)
def encoded_patient(model_path: str, patient_key: str, _patient: amff.Patient) -> Any:
    """Level 1 for one patient, cached by a key that identifies its data."""
    return predictor(model_path).encode(_patient)


# -- predictions and metrics -------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=64)
def cohort_predictions(
    model_path: str, cohort_path: str, modalities: tuple[str, ...]
) -> pd.DataFrame:
    """patient_id, label, probability (NaN where the patient has none of the modalities)."""
    model = predictor(model_path)
    encoded = encoded_cohort(model_path, cohort_path)
    arrays = model.predict_arrays(encoded, modalities)
    return pd.DataFrame(
        {
            "patient_id": encoded.ids,
            "label": encoded.labels,
            "probability": arrays["probability"],
        }
    )


def subset_metrics(frame: pd.DataFrame, threshold: float) -> dict[str, float]:
    """Held-out metrics over the patients with a prediction (AUROC, F1, accuracy, ...)."""
    keep = frame["probability"].notna().to_numpy()
    y = frame["label"].to_numpy()[keep]
    p = frame["probability"].to_numpy()[keep]
    return amff.metrics.all_metrics(y, p, threshold)  # scikit-learn, imported on first use


@st.cache_data(show_spinner="Scoring every combination of sources...", max_entries=8)
def all_subset_metrics(model_path: str, cohort_path: str) -> pd.DataFrame:
    """One row per modality subset (15): AUROC, AUPRC, F1, accuracy, Brier, patients."""
    threshold = predictor(model_path).threshold
    rows = {}
    for subset in amff.all_subsets():
        names = tuple(m.value for m in subset)
        found = subset_metrics(cohort_predictions(model_path, cohort_path, names), threshold)
        rows[amff.subset_name(subset)] = found
    return pd.DataFrame.from_dict(rows, orient="index")


@st.cache_data(show_spinner=False, max_entries=8)
def hard_cases(model_path: str, cohort_path: str) -> dict[str, pd.DataFrame]:
    """'misclassified' (wrong at the threshold, most confident first) and 'near' (every
    patient, closest to the threshold first), with every available modality."""
    threshold = predictor(model_path).threshold
    frame = cohort_predictions(model_path, cohort_path, tuple(m.value for m in amff.MODALITIES))
    frame = frame.dropna(subset=["probability"]).copy()
    frame["flagged"] = frame["probability"] >= threshold
    frame["distance"] = (frame["probability"] - threshold).abs()
    wrong = frame[frame["flagged"] != frame["label"].astype(bool)]
    near = frame
    return {
        "misclassified": wrong.sort_values("distance", ascending=False).reset_index(drop=True),
        "near": near.sort_values("distance").reset_index(drop=True),
    }


# -- explanations ------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=256)
def attribution(
    model_path: str,
    patient_key: str,
    _patient: amff.Patient,
    modality: str,
    method: str,
    modalities: tuple[str, ...],
) -> Any:
    """Captum attributions inside one modality (amff.explain.attribute), cached."""
    return amff.explain.attribute(predictor(model_path), _patient, modality, method, modalities)


# -- training and experiments ------------------------------------------------------------------
@st.cache_data(show_spinner=False, ttl=60)
def results_listing(path: str) -> dict[str, Any]:
    """What the experiments wrote: results.json (parsed), figures, HTML, REPRODUCTION.md."""
    root = Path(path)
    out: dict[str, Any] = {"results": None, "png": [], "html": [], "reproduction": None}
    if not root.is_dir():
        return out
    file = root / "results.json"
    if file.is_file():
        try:
            out["results"] = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            out["results"] = None
    out["png"] = sorted(str(p) for p in root.rglob("*.png"))
    out["html"] = sorted(str(p) for p in root.rglob("*.html"))
    repro = root / "REPRODUCTION.md"
    if repro.is_file():
        out["reproduction"] = repro.read_text(encoding="utf-8")
    return out


# -- selections (st.session_state) -------------------------------------------------------------
def selected_model(models: dict[str, str]) -> str:
    """The kind chosen in the sidebar (AMFF-HT unless changed)."""
    kind = st.session_state.get("model_kind")
    return kind if kind in models else next(iter(models))


def toggle_key(modality: amff.Modality) -> str:
    return f"use_{modality.value}"


def chosen_modalities() -> tuple[str, ...]:
    """The modalities switched on (all four until the user switches one off)."""
    return tuple(m.value for m in amff.MODALITIES if st.session_state.get(toggle_key(m), True))


def as_probability_text(value: float) -> str:
    return "no data" if value is None or not np.isfinite(value) else f"{100 * value:.1f}%"
