"""Cohort and ablation: the held-out metrics for the sources switched on, live.

The cohort is encoded once per model (level 1, cached); a new combination of sources re-runs
only level 2 through `Predictor.predict_arrays`, which keeps the update well under a second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

import amff
from app import charts, state, ui

METRIC_LABELS = {"auroc": "AUROC", "f1": "F1 score", "accuracy": "Accuracy"}


@dataclass
class CohortView:
    """Everything the page draws for one combination of sources."""

    predictions: dict[str, pd.DataFrame]  # model name -> patient_id, label, probability
    metrics: dict[str, dict[str, float]]  # model name -> all_metrics
    seconds: float


def cohort_view(models: dict[str, str], cohort_path: str, used: tuple[str, ...]) -> CohortView:
    """Predictions and metrics of every model for this subset (level 2 only; timed)."""
    for path in models.values():  # level 1, once per model and process (not timed)
        state.encoded_cohort(path, cohort_path)
    start = time.perf_counter()
    predictions, found = {}, {}
    for kind, path in models.items():
        frame = state.cohort_predictions(path, cohort_path, used)
        predictions[ui.model_label(kind)] = frame
        found[ui.model_label(kind)] = state.subset_metrics(frame, state.predictor(path).threshold)
    return CohortView(predictions, found, time.perf_counter() - start)


def subset_label(name: str) -> str:
    """'record + image' for 'tabular+image'."""
    return " + ".join(_SHORT[amff.Modality(part)] for part in name.split("+"))


_SHORT = {
    amff.Modality.TABULAR: "record",
    amff.Modality.TEXT: "note",
    amff.Modality.IMAGE: "image",
    amff.Modality.RNA: "RNA",
}


def metrics_ui(
    view: CohortView, name: str, baseline: dict[str, float] | None, oracle: float | None
) -> None:
    found = view.metrics[name]
    columns = st.columns(5)
    for column, key in zip(columns, ("auroc", "f1", "accuracy")):
        delta = None
        if baseline is not None and np.isfinite(found[key]):
            delta = f"{found[key] - baseline[key]:+.3f} vs all sources"
        column.metric(
            METRIC_LABELS[key],
            "n/a" if not np.isfinite(found[key]) else f"{found[key]:.3f}",
            delta=delta,
            help=ui.HELP[key],
            border=True,
        )
    columns[3].metric(
        "Patients scored",
        f"{found['n']:,}",
        help="Patients with at least one of the sources switched on.",
        border=True,
    )
    if oracle is not None:
        columns[4].metric(
            "Oracle AUROC",
            f"{oracle:.3f}",
            help=ui.HELP["oracle"] + " This is the AUROC of the true risk on these patients.",
            border=True,
        )


def cohort_page() -> None:
    current = ui.require_model()
    if current is None:
        return
    if not state.has_demo_cohort():
        ui.no_cohort_ui()
        return
    name = ui.model_label(current.kind)
    cohort_path = str(state.demo_cohort_dir())
    index = state.cohort_index(cohort_path)

    st.title("Cohort and ablation")
    st.caption(
        f"{len(index.ids):,} simulated patients held out from training. Switch sources off "
        f"for everyone and watch the metrics move (an ablation). Model: {name}."
    )
    st.subheader("Sources", help=ui.HELP["ablation"])
    used = ui.modality_toggles_ui(None)
    if not used:
        st.warning("Switch on at least one source.")
        return
    others = {k: p for k, p in current.models.items() if k != current.kind}
    view = cohort_view({current.kind: current.path} | others, cohort_path, used)
    headline_ui(view, name, current, cohort_path, used, index)
    curves = {label: _labelled(frame) for label, frame in view.predictions.items() if len(frame)}
    curves_ui(curves)
    left, right = st.columns([2, 3], gap="large")
    with left:
        threshold_ui(*curves[name], current.model.threshold)
    with right:
        subsets_ui(name, current.path, cohort_path, used)
    strategies_ui(view)
    download_ui(view.predictions[name], used, current.model.threshold)


def headline_ui(
    view: CohortView,
    name: str,
    current: state.CurrentModel,
    cohort_path: str,
    used: tuple[str, ...],
    index: state.CohortIndex,
) -> None:
    """The metrics of the chosen model, against all sources and the oracle."""
    threshold = current.model.threshold
    everything = tuple(m.value for m in amff.MODALITIES)
    baseline = None
    if used != everything:
        baseline = state.subset_metrics(
            state.cohort_predictions(current.path, cohort_path, everything), threshold
        )
    oracle = None
    if index.p_true:
        frame = view.predictions[name]
        p_true = frame["patient_id"].map(index.p_true).to_numpy(dtype=float)
        oracle = amff.metrics.auroc(frame["label"].to_numpy(), p_true)
    metrics_ui(view, name, baseline, oracle)
    st.caption(
        f"Sources: {ui.sources_text(used)}. Updated in {1000 * view.seconds:.0f} ms. "
        f"F1 and accuracy at the model's threshold of {100 * threshold:.0f}%."
    )


def curves_ui(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    roc, pr, calibration = st.columns(3)
    roc.plotly_chart(charts.roc_figure(curves), key="roc", config={"displayModeBar": False})
    pr.plotly_chart(charts.pr_figure(curves), key="pr", config={"displayModeBar": False})
    calibration.plotly_chart(
        charts.calibration_figure(curves), key="calibration", config={"displayModeBar": False}
    )
    st.caption(ui.HELP["calibration"])


def threshold_ui(y: np.ndarray, p: np.ndarray, model_threshold: float) -> None:
    """The confusion matrix at a threshold slider (the model's threshold to start with)."""
    st.subheader("Flags at a threshold")
    threshold = st.slider(
        "Decision threshold (%)",
        1,
        99,
        int(round(100 * model_threshold)),
        key="cohort_threshold",
        persist_state="session",
        help=ui.HELP["threshold"] + " Move it to trade missed events for false alarms.",
    )
    st.plotly_chart(
        charts.confusion_figure(y, p, threshold / 100),
        key="confusion",
        config={"displayModeBar": False},
    )
    counts = charts.confusion_counts(y, p, threshold / 100)
    caught = counts[1, 1] / max(counts[1].sum(), 1)
    alarms = counts[0, 1] / max(counts[0].sum(), 1)
    st.caption(
        f"At {threshold}%: {100 * caught:.0f}% of events caught (sensitivity), "
        f"{100 * alarms:.0f}% of patients without the event flagged (false alarms)."
    )


def subsets_ui(name: str, model_path: str, cohort_path: str, used: tuple[str, ...]) -> None:
    """Every combination of sources, the one switched on marked."""
    st.subheader("Every combination of sources", help=ui.HELP["ablation"])
    table = state.all_subset_metrics(model_path, cohort_path)
    shown = table[["auroc", "f1", "accuracy"]].rename(columns=METRIC_LABELS)
    shown.index = [subset_label(i) for i in table.index]
    chosen = subset_label(amff.subset_name([amff.Modality(m) for m in used]))
    st.plotly_chart(
        charts.subsets_figure(shown, current=chosen),
        key="subsets",
        config={"displayModeBar": False},
    )
    st.caption(f"{name} on the held-out patients; the arrow marks the sources switched on.")


def strategies_ui(view: CohortView) -> None:
    """AMFF-HT beside early and late fusion, when their checkpoints are present."""
    if len(view.metrics) <= 1:
        st.caption("Early and late fusion appear here when their checkpoints are present.")
        return
    st.subheader("Fusion strategies side by side")
    table = pd.DataFrame(
        {
            label: {METRIC_LABELS[k]: found[k] for k in METRIC_LABELS}
            for label, found in view.metrics.items()
        }
    ).T
    left, right = st.columns([3, 2], gap="large")
    left.plotly_chart(charts.models_figure(table), key="models", config={"displayModeBar": False})
    right.dataframe(table.style.format("{:.3f}"), width="stretch")
    right.caption(
        "Same patients, same sources. Early fusion joins the sources into one vector; "
        "late fusion averages one model per source; AMFF-HT weighs them per patient."
    )


def download_ui(predictions: pd.DataFrame, used: tuple[str, ...], threshold: float) -> None:
    download = predictions.copy()
    download["flagged"] = (download["probability"] >= threshold).where(
        download["probability"].notna()
    )
    download["sources"] = "+".join(used)
    st.download_button(
        "Download these predictions (CSV)",
        download.to_csv(index=False).encode("utf-8"),
        file_name=f"amff-predictions-{'+'.join(used)}.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
    )


def _labelled(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    keep = frame["probability"].notna().to_numpy()
    return frame["label"].to_numpy()[keep], frame["probability"].to_numpy()[keep]


cohort_page()
