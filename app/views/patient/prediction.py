"""The prediction, the sources it rests on, and the downloadable report."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

import amff
from app import charts, report, state, ui

METRIC_LABEL = "Predicted risk"  # tests read the prediction from this st.metric


def prediction_ui(
    model: Any, encoded: Any, used: tuple[str, ...], available: tuple[str, ...], truth: dict
) -> dict[str, float]:
    """The risk with the chosen sources, against the threshold and against all sources."""
    now = model.predict_arrays(encoded, used)
    every = model.predict_arrays(encoded, available)
    probability = float(now["probability"][0])
    reference = float(every["probability"][0])
    threshold = model.threshold
    left, middle, right = st.columns([1.1, 2.2, 1.1], gap="medium")
    with left:
        delta = None
        if np.isfinite(probability) and set(used) != set(available):
            delta = f"{100 * (probability - reference):+.1f} pts vs all {len(available)} sources"
        st.metric(
            METRIC_LABEL,
            state.as_probability_text(probability),
            delta=delta,
            delta_color="off",
            help=ui.HELP["risk"],
            border=True,
        )
        if not np.isfinite(probability):
            st.warning("Switch on at least one source this patient has.")
        elif probability >= threshold:
            st.markdown(
                f":orange-badge[:material/flag: **Flagged: high risk**] at or above the "
                f"{100 * threshold:.0f}% threshold",
                help=ui.HELP["threshold"],
            )
        else:
            st.markdown(
                f":blue-badge[**Not flagged**] below the {100 * threshold:.0f}% threshold",
                help=ui.HELP["threshold"],
            )
    with middle:
        if np.isfinite(probability):
            st.plotly_chart(
                charts.risk_figure(probability, threshold, reference, truth.get("p_true")),
                config={"displayModeBar": False},
                key="risk_chart",
            )
        st.caption(
            f"Patient {ui.md_escape(truth.get('patient_id', ''))}. "
            f"Sources used: {ui.sources_text(used)}."
            + ("" if set(used) == set(available) else f" Available: {ui.sources_text(available)}.")
        )
    with right:
        truth_ui(truth)
    return {"probability": probability, "reference": reference, "threshold": threshold}


def truth_ui(truth: dict) -> None:
    """What is known to be true: the simulated outcome and the oracle risk, or the outcome
    given in an uploaded record."""
    label = truth.get("label")
    if truth.get("synthetic"):
        st.metric(
            "Simulated outcome",
            "event" if label == 1 else "no event",
            help="The outcome the simulator drew for this patient.",
            border=True,
        )
        if truth.get("p_true") is not None:
            st.metric(
                "True risk (oracle)",
                f"{100 * truth['p_true']:.1f}%",
                help=ui.HELP["oracle"],
                border=True,
            )
    elif label is not None:
        st.metric(
            "Outcome given in your file",
            "event" if label == 1 else "no event",
            border=True,
        )


def reasons_ui(model: Any, encoded: Any, used: tuple[str, ...]) -> pd.DataFrame:
    """Modality weight bars and drop-one importance, for the sources used only."""
    frame = amff.explain.modality_importance(model, encoded, used).set_index("modality")
    frame = frame[frame["used"]]
    left, right = st.columns(2, gap="large")
    with left:
        weights = frame["weight"].dropna()
        if len(weights) == len(frame) and len(frame):
            st.plotly_chart(
                charts.modality_weights_figure(weights.to_dict()),
                config={"displayModeBar": False},
                key="weights_chart",
            )
            st.caption(ui.HELP["weights"])
        else:
            st.info(
                "This model has no modality weights (early fusion joins the sources into one "
                "vector). The drop-one importance on the right still applies."
            )
    with right:
        st.plotly_chart(
            charts.drop_one_figure(frame["drop_one_probability"].to_dict()),
            config={"displayModeBar": False},
            key="drop_one_chart",
        )
        st.caption(ui.HELP["drop_one"])
    return frame


def report_ui(
    model: Any,
    kind: str,
    patient: amff.Patient,
    used: tuple[str, ...],
    available: tuple[str, ...],
    result: dict[str, float],
    reasons: pd.DataFrame,
    truth: dict,
) -> None:
    method = st.session_state.get("method", "integrated_gradients")

    def build() -> bytes:  # runs when the button is clicked (Streamlit calls it)
        return report.patient_report(
            model, ui.model_label(kind), patient, used, available, result, reasons, truth, method
        ).encode("utf-8")

    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in patient.patient_id)[:60]
    st.download_button(
        "Download this patient's report (HTML)",
        data=build,
        file_name=f"amff-report-{safe or 'patient'}.html",
        mime="text/html",
        icon=":material/download:",
        on_click="ignore",
        help="The prediction, the weights and every attribution panel, in one HTML file "
        "(takes a few seconds to prepare).",
    )
