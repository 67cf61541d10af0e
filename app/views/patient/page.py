"""Patient: one patient's predicted risk, which sources it rests on, and why.

Pick a simulated patient from the held-out cohort (by id, at random, or among the hard
cases) or upload one; switch sources on and off; the prediction, the modality weights, the
drop-one importance and the attribution panels follow at once. The parts are in this folder.
"""

from __future__ import annotations

import streamlit as st

import amff
from app import state, ui
from app.views.patient import attribution, pick, prediction, upload, what_if

SOURCES = {"cohort": "Held-out cohort", "upload": "Upload a patient"}


def patient_page() -> None:
    current = ui.require_model()
    if current is None:
        return
    model, model_path = current.model, current.path
    cohort_path = str(state.demo_cohort_dir())

    st.title("Patient")
    st.caption(
        "Choose a patient, switch sources on and off, and see the predicted risk and its "
        f"reasons change. Model: {ui.model_label(current.kind)}."
    )
    options = list(SOURCES) if state.has_demo_cohort() else ["upload"]
    source = st.segmented_control(
        "Patient source",
        options,
        default=options[0],
        format_func=SOURCES.get,
        key="source",
        required=True,
        label_visibility="collapsed",
        persist_state="session",
    )
    if not state.has_demo_cohort():
        ui.no_cohort_ui()
    if source == "cohort":
        chosen = pick.synthetic_patient_ui(cohort_path)
    else:
        chosen = upload.upload_ui(model)
    if chosen is None:
        return
    patient, key, truth = chosen.patient, chosen.key, chosen.truth
    try:
        encoded = state.encoded_patient(model_path, key, patient)
    except amff.InputError as exc:
        st.error(f"This patient cannot be read by the model: {exc}", icon=":material/error:")
        return

    available = tuple(m.value for m in patient.modalities)
    st.subheader("Sources", help="Switch a source off to see the prediction without it.")
    used = ui.modality_toggles_ui(
        available, {m.value: f"this patient has no {m.label}" for m in amff.MODALITIES}
    )
    result = prediction.prediction_ui(model, encoded, used, available, truth)
    if used:
        st.subheader("Which sources the prediction rests on")
        reasons = prediction.reasons_ui(model, encoded, used)
        st.subheader("Why: what inside each source moved the risk", help=ui.HELP["attribution"])
        attribution.attribution_ui(model, model_path, patient, key, used)
        with st.expander(
            "What if? Change record values and see the risk move", icon=":material/tune:"
        ):
            what_if.what_if_ui(model, model_path, patient, key, used, result["probability"])
        prediction.report_ui(model, current.kind, patient, used, available, result, reasons, truth)
    if chosen.hard_case_slots is not None:
        pick.hard_cases_ui(chosen.hard_case_slots, model_path, cohort_path, model.threshold)


patient_page()
