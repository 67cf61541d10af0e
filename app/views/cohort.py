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

from amff.modalities import MODALITIES, Modality, subset_name
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
    return " + ".join(_SHORT[Modality(part)] for part in name.split("+"))


_SHORT = {
    Modality.TABULAR: "record",
    Modality.TEXT: "note",
    Modality.IMAGE: "image",
    Modality.RNA: "RNA",
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
    models = state.available_models()
    if not models:
        ui.no_model_ui()
        return
    if not state.has_demo_cohort():
        ui.no_cohort_ui()
        return
    kind = state.selected_model(models)
    name = ui.model_label(kind)
    model_path = models[kind]
    model = state.predictor(model_path)
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
    ordered = {kind: model_path} | {k: p for k, p in models.items() if k != kind}
    view = cohort_view(ordered, cohort_path, used)
    everything = tuple(m.value for m in MODALITIES)
    baseline = None
    if used != everything:
        baseline = state.subset_metrics(
            state.cohort_predictions(model_path, cohort_path, everything), model.threshold
        )
    oracle = None
    if index.p_true:
        frame = view.predictions[name]
        p_true = frame["patient_id"].map(index.p_true).to_numpy(dtype=float)
        from amff import metrics

        oracle = metrics.auroc(frame["label"].to_numpy(), p_true)
    metrics_ui(view, name, baseline, oracle)
    st.caption(
        f"Sources: {ui.sources_text(used)}. Updated in {1000 * view.seconds:.0f} ms. "
        f"F1 and accuracy at the model's threshold of {100 * model.threshold:.0f}%."
    )

    curves = {label: _labelled(frame) for label, frame in view.predictions.items() if len(frame)}
    roc, pr, calibration = st.columns(3)
    roc.plotly_chart(charts.roc_figure(curves), key="roc", config={"displayModeBar": False})
    pr.plotly_chart(charts.pr_figure(curves), key="pr", config={"displayModeBar": False})
    calibration.plotly_chart(
        charts.calibration_figure(curves), key="calibration", config={"displayModeBar": False}
    )
    st.caption(ui.HELP["calibration"])

    left, right = st.columns([2, 3], gap="large")
    with left:
        st.subheader("Flags at a threshold")
        threshold = st.slider(
            "Decision threshold (%)",
            1,
            99,
            int(round(100 * model.threshold)),
            key="cohort_threshold",
            persist_state="session",
            help=ui.HELP["threshold"] + " Move it to trade missed events for false alarms.",
        )
        y, p = curves[name]
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
    with right:
        st.subheader("Every combination of sources", help=ui.HELP["ablation"])
        table = state.all_subset_metrics(model_path, cohort_path)
        shown = table[["auroc", "f1", "accuracy"]].rename(columns=METRIC_LABELS)
        shown.index = [subset_label(i) for i in table.index]
        current = subset_label(subset_name([Modality(m) for m in used]))
        st.plotly_chart(
            charts.subsets_figure(shown, current=current),
            key="subsets",
            config={"displayModeBar": False},
        )
        st.caption(f"{name} on the held-out patients; the arrow marks the sources switched on.")

    if len(view.metrics) > 1:
        st.subheader("Fusion strategies side by side")
        table = pd.DataFrame(
            {
                label: {METRIC_LABELS[k]: found[k] for k in METRIC_LABELS}
                for label, found in view.metrics.items()
            }
        ).T
        left, right = st.columns([3, 2], gap="large")
        left.plotly_chart(
            charts.models_figure(table), key="models", config={"displayModeBar": False}
        )
        right.dataframe(table.style.format("{:.3f}"), width="stretch")
        right.caption(
            "Same patients, same sources. Early fusion joins the sources into one vector; "
            "late fusion averages one model per source; AMFF-HT weighs them per patient."
        )
    else:
        st.caption("Early and late fusion appear here when their checkpoints are present.")

    download = view.predictions[name].copy()
    download["flagged"] = (download["probability"] >= model.threshold).where(
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
