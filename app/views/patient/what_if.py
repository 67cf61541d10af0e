"""What if? Edit record values and see the risk move (the other sources stay as they are)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

import amff
from app import panels, state, ui, uploads


def what_if_ui(
    model: Any,
    model_path: str,
    patient: amff.Patient,
    key: str,
    used: tuple[str, ...],
    now: float,
) -> None:
    """Edit record values and see the risk move (the other sources stay as they are)."""
    if patient.record is None or amff.Modality.TABULAR.value not in used:
        st.caption("What-if editing needs the clinical record switched on.")
        return
    ranges = panels.usual_ranges(model)
    numeric = list(ranges)
    original = patient.record
    table = pd.DataFrame(
        {
            "Feature": [ui.feature_label(f) for f in numeric],
            "Value": pd.to_numeric(original.reindex(numeric), errors="coerce"),
            "Usual range": [panels.usual_range(ranges[f]) for f in numeric],
        }
    )
    left, right = st.columns([3, 2], gap="large")
    with left:
        edited = st.data_editor(
            table,
            key=f"whatif_{key}",
            hide_index=True,
            disabled=["Feature", "Usual range"],
            height=300,
            column_config={
                "Value": st.column_config.NumberColumn(
                    "Value", help="Edit a value; clear it to make it missing.", format="%g"
                ),
                "Usual range": st.column_config.TextColumn(help=ui.HELP["out_of_range"]),
            },
        )
    record = original.copy().astype(object)
    for feature, value in zip(numeric, edited["Value"]):
        record[feature] = np.nan if pd.isna(value) else float(value)
    changed = [
        f
        for f in numeric
        if not _same(record.get(f), pd.to_numeric(pd.Series([original.get(f)]), errors="coerce")[0])
    ]
    with right:
        if not changed:
            st.info("Edit a value in the table to see how the risk would change.")
            return
        edited_risk_ui(model, model_path, patient, record, used, now, changed)


def edited_risk_ui(
    model: Any,
    model_path: str,
    patient: amff.Patient,
    record: pd.Series,
    used: tuple[str, ...],
    now: float,
    changed: list[str],
) -> None:
    """The risk of the patient with the edited record, against the risk without the edits."""
    what_if = amff.Patient(
        patient_id=patient.patient_id,
        record=record,
        note=patient.note,
        image=patient.image,
        rna=patient.rna,
        label=patient.label,
    )
    try:
        encoded = state.encoded_patient(
            model_path, "whatif:" + uploads.fingerprint(what_if), what_if
        )
    except amff.InputError as exc:
        st.error(str(exc))
        return
    probability = float(model.predict_arrays(encoded, used)["probability"][0])
    st.metric(
        "Risk with your changes",
        state.as_probability_text(probability),
        delta=f"{100 * (probability - now):+.1f} pts",
        delta_color="inverse",
        border=True,
        help="The same sources, with the record values edited in the table.",
    )
    names = [ui.feature_label(f) for f in changed]
    st.caption("Changed: " + ", ".join(names[:8]) + ("..." if len(names) > 8 else ""))


def _same(a: Any, b: Any) -> bool:
    if pd.isna(a) and pd.isna(b):
        return True
    if pd.isna(a) or pd.isna(b):
        return False
    return bool(np.isclose(float(a), float(b), rtol=0, atol=1e-9))
