"""Why: one source's attributions at a time, drawn by its panel (app/panels.py)."""

from __future__ import annotations

from typing import Any

import streamlit as st

import amff
from app import panels, state, ui


def attribution_ui(
    model: Any, model_path: str, patient: amff.Patient, key: str, used: tuple[str, ...]
) -> None:
    """One panel at a time (each costs a second or so): the method and the source chosen."""
    choose, which = st.columns([1, 2], vertical_alignment="bottom")
    method = choose.selectbox(
        "Attribution method",
        amff.explain.METHODS,
        format_func=ui.METHOD_LABELS.get,
        key="method",
        help=ui.HELP["method"],
        persist_state="session",
    )
    modality = which.segmented_control(
        "Source to explain",
        list(used),
        default=used[0],
        format_func=ui.source_title,
        key="explain_" + "_".join(used),
        required=True,
        help=ui.HELP["attribution"],
    )
    modality = modality or used[0]
    with st.spinner(f"Explaining the {amff.Modality(modality).label}..."):
        try:
            found = state.attribution(model_path, key, patient, modality, method, used)
        except amff.InputError as exc:
            st.error(f"This source cannot be explained: {exc}", icon=":material/error:")
            return
    panel = panels.panel(modality)
    panel.show(model, patient, found)
    st.caption(
        f"Each value is measured against a neutral reference: {panel.reference}. Risk "
        f"score (log-odds) {found.logit:+.2f} for this patient against "
        f"{found.baseline_logit:+.2f} for the reference.",
        help=f"Technically: {found.baseline}.",
    )
