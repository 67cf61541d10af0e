"""Patient: one patient's predicted risk, which sources it rests on, and why.

Pick a simulated patient from the held-out cohort (by id, at random, or among the hard
cases) or upload one; switch sources on and off; the prediction, the modality weights, the
drop-one importance and the attribution panels follow at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from amff import InputError, Patient
from amff.modalities import MODALITIES, Modality
from amff.modalities.text import MAX_NOTE_CHARS
from app import charts, report, state, ui, uploads

SOURCES = {"cohort": "Held-out cohort", "upload": "Upload a patient"}
METRIC_LABEL = "Predicted risk"  # tests read the prediction from this st.metric


# -- choosing a patient ------------------------------------------------------------------------
def _set_patient(patient_id: str) -> None:
    st.session_state["patient_id"] = patient_id


def _random_patient(ids: list[str]) -> None:
    current = st.session_state.get("patient_id")
    _set_patient(random.choice([i for i in ids if i != current] or ids))


def _pick_hard_case(key: str) -> None:
    chosen = st.session_state.get(key)
    if chosen:
        _set_patient(chosen)
    st.session_state[key] = None


@dataclass
class Chosen:
    """The patient on show: its data, the cache key of that data, what is known to be true,
    and (held-out cohort only) the two slots where the hard-case lists go."""

    patient: Patient
    key: str
    truth: dict[str, Any]
    hard_case_slots: tuple[Any, Any] | None = None


def synthetic_patient_ui(cohort_path: str) -> Chosen:
    """Patient id box, a random button and two hard-case lists (filled in at the end of the
    run, so the first prediction does not wait for the whole cohort to be scored)."""
    index = state.cohort_index(cohort_path)
    if st.session_state.get("patient_id") not in index.ids:
        st.session_state["patient_id"] = index.ids[0]
    pick, lucky, wrong, near = st.columns([2, 1, 2, 2], vertical_alignment="bottom")
    pick.selectbox(
        "Patient id",
        index.ids,
        key="patient_id",
        help="A simulated patient from the held-out cohort (never seen in training).",
        persist_state="session",
    )
    lucky.button(
        "Random",
        help="Show a patient drawn at random from the held-out cohort.",
        icon=":material/casino:",
        on_click=_random_patient,
        args=(index.ids,),
        width="stretch",
    )
    patient_id = st.session_state["patient_id"]
    patient = state.demo_patient(cohort_path, patient_id)
    truth = {
        "patient_id": patient_id,
        "label": index.labels.get(patient_id),
        "p_true": index.p_true.get(patient_id),
        "synthetic": True,
    }
    return Chosen(patient, f"demo:{cohort_path}:{patient_id}", truth, (wrong.empty(), near.empty()))


def hard_cases_ui(
    slots: tuple[Any, Any], model_path: str, cohort_path: str, threshold: float
) -> None:
    """The two hard-case lists, in the slots reserved by synthetic_patient_ui."""
    cases = state.hard_cases(model_path, cohort_path)

    def describe(frame: pd.DataFrame, what: str) -> dict[str, str]:
        out = {}
        for row in frame.itertuples():
            outcome = "event" if row.label == 1 else "no event"
            out[row.patient_id] = f"{row.patient_id}: risk {100 * row.probability:.0f}%, {outcome}"
        return out

    for slot, name, title, help_text in (
        (
            slots[0],
            "misclassified",
            "Misclassified",
            f"The {state.HARD_CASES} patients the model gets most confidently wrong at the "
            f"threshold, using every source ({len(cases['misclassified'])} are wrong in all).",
        ),
        (
            slots[1],
            "near",
            "Near the threshold",
            f"The {state.HARD_CASES} patients whose risk (using every source) is closest to "
            f"the {100 * threshold:.0f}% threshold, where a small change flips the flag.",
        ),
    ):
        labels = describe(cases[name].head(state.HARD_CASES), name)
        key = f"hard_{name}"
        slot.selectbox(
            title,
            list(labels),
            index=None,
            format_func=labels.get,
            placeholder="Choose a patient...",
            key=key,
            on_change=_pick_hard_case,
            args=(key,),
            help=help_text,
        )


# -- uploads -----------------------------------------------------------------------------------
def _uploaded() -> dict[str, dict[str, Any]]:
    return st.session_state.setdefault("uploaded", {})


def _on_file(slot: str, parse: Any) -> None:
    """Parse an upload when it changes; keep the parsed part (or the error) in the session."""
    file = st.session_state.get(f"file_{slot}")
    if file is None:  # the user cleared the widget
        _uploaded().pop(slot, None)
        return
    _parse_file(slot, file, parse)


def _parse_file(slot: str, file: Any, parse: Any) -> None:
    store = _uploaded()
    try:
        store[slot] = {"part": parse(file.getvalue(), file.name), "error": None}
    except InputError as exc:
        store[slot] = {"part": None, "error": str(exc), "name": file.name}
    store[slot]["file_id"] = file.file_id


def upload_slot_ui(slot: str, label: str, types: list[str], parse: Any, help: str) -> None:
    """One upload widget and, right under it, its error or what was read."""
    file = st.file_uploader(
        label, type=types, key=f"file_{slot}", on_change=_on_file, args=(slot, parse), help=help
    )
    if file is not None and _uploaded().get(slot, {}).get("file_id") != file.file_id:
        _parse_file(slot, file, parse)  # uploads that came in while a run was interrupted
    _upload_status_ui(slot)


def _remove(slot: str) -> None:
    _uploaded().pop(slot, None)


def _upload_status_ui(slot: str) -> None:
    """Next to an upload: its error, or what was read. A part kept from an earlier visit to
    the page (its upload widget is empty now) gets a button to remove it."""
    entry = _uploaded().get(slot)
    if entry is None:
        return
    if entry["error"]:
        st.error(entry["error"], icon=":material/error:")
        return
    part: uploads.Part = entry["part"]
    text = f"Using **{ui.md_escape(part.name)}**"
    if part.notices:
        text += ": " + "; ".join(ui.md_escape(n) for n in part.notices)
    if st.session_state.get(f"file_{slot}") is None:
        info, remove = st.columns([3, 1], vertical_alignment="center")
        info.caption(text)
        remove.button(
            "Remove",
            key=f"remove_{slot}",
            on_click=_remove,
            args=(slot,),
            icon=":material/close:",
            type="tertiary",
        )
    else:
        st.caption(text)


def upload_ui(model: Any) -> Chosen | None:
    """Four optional uploads (and a form and a text box); the patient they make, or None."""
    schema = model.preprocessor.tabular
    folder = state.example_patient_dir()
    intro, example = st.columns([3, 1], vertical_alignment="center")
    intro.markdown(
        "Upload any of the four sources; each is optional. Files stay in this browser "
        "session's memory and are never saved."
    )
    example.download_button(
        "Example patient (.zip)",
        data=uploads.example_bundle(folder),
        file_name="example_patient.zip",
        mime="application/zip",
        icon=":material/download:",
        on_click="ignore",
        help="record.csv, note.txt, image.png and rnaseq.csv: the formats this page reads.",
        width="stretch",
    )
    left, right = st.columns(2, gap="large")
    with left:
        upload_slot_ui(
            "record",
            "Clinical record (one-row CSV)",
            ["csv"],
            partial(uploads.parse_record, features=model.features, numeric=schema.numeric),
            "Columns: patient_id, then any of the model's features; empty cell = missing.",
        )
        record_form_ui(model)
        upload_slot_ui(
            "image",
            "Medical image (PNG, JPEG or DICOM)",
            ["png", "jpg", "jpeg", "dcm"],
            uploads.parse_image,
            "A grayscale (or colour, made grayscale) chest image.",
        )
    with right:
        upload_slot_ui(
            "note", "Clinical note (.txt)", ["txt"], uploads.parse_note, "Plain UTF-8 text."
        )
        typed = st.text_area(
            "...or type or paste the note",
            key="note_text",
            height=110,
            placeholder="e.g. 72-year-old admitted with shortness of breath...",
            persist_state="session",
        )
        upload_slot_ui(
            "rna",
            "RNA-seq counts (one-row CSV)",
            ["csv"],
            partial(uploads.parse_rna, genes=state.rna_genes(model)),
            "Columns: patient_id, then one column of raw read counts per gene.",
        )

    store = _uploaded()
    parts = {slot: e["part"] for slot, e in store.items() if e.get("part") is not None}
    note_part = parts.get("note")
    if note_part is None and typed and typed.strip():
        note_part = uploads.note_part(typed, "the note box")
        for notice in note_part.notices:
            st.info(notice + ".", icon=":material/content_cut:")
    elif note_part is not None and typed and typed.strip():
        st.caption("The uploaded note file is used; remove it to use the text box instead.")
    record = parts.get("record")
    rna = parts.get("rna")
    patient_id = (record.patient_id if record else None) or (rna.patient_id if rna else None)
    try:
        patient = uploads.build_patient(
            patient_id,
            record=record.value if record else None,
            note=note_part.value if note_part else None,
            image=parts["image"].value if "image" in parts else None,
            rna=rna.value if rna else None,
            label=record.label if record else None,
        )
    except InputError as exc:
        message = str(exc)
        st.info(message[:1].upper() + message[1:] + ".", icon=":material/upload_file:")
        return None
    truth = {
        "patient_id": patient.patient_id,
        "label": patient.label,
        "p_true": None,
        "synthetic": False,
    }
    return Chosen(patient, "upload:" + uploads.fingerprint(patient), truth)


def record_form_ui(model: Any) -> None:
    """The record typed in by hand, one field per feature of the checkpoint."""
    schema = model.preprocessor.tabular
    ranges = dict(zip(schema.numeric, zip(schema.low, schema.high)))
    with st.expander("...or fill in the record by hand"), st.form("record_form", border=False):
        columns = st.columns(3)
        values: dict[str, Any] = {}
        for i, feature in enumerate(model.features):
            with columns[i % 3]:
                if feature in ranges:
                    low, high = ranges[feature]
                    values[feature] = st.number_input(
                        ui.feature_label(feature),
                        value=None,
                        placeholder="missing",
                        format="%g",
                        key=f"form_{feature}",
                        help=f"Usual range in training: {low:g} to {high:g}. Empty = missing.",
                    )
                else:
                    values[feature] = st.selectbox(
                        ui.feature_label(feature),
                        schema.categorical.get(feature, []),
                        index=None,
                        placeholder="missing",
                        key=f"form_{feature}",
                    )
        if st.form_submit_button("Use these values", type="primary"):
            record = uploads.record_from_values(values, model.features)
            if record is None:
                _uploaded()["record"] = {
                    "part": None,
                    "error": "the form is empty: fill in at least one value",
                    "name": "form",
                }
            else:
                n = int(record.notna().sum())
                _uploaded()["record"] = {
                    "part": uploads.Part(record, "the form", [f"{n} values entered"]),
                    "error": None,
                }
            st.rerun()


# -- the prediction ----------------------------------------------------------------------------
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
    return {"probability": probability, "reference": reference, "threshold": threshold}


def reasons_ui(model: Any, encoded: Any, used: tuple[str, ...]) -> pd.DataFrame:
    """Modality weight bars and drop-one importance, for the sources used only."""
    from amff import explain

    frame = explain.modality_importance(model, encoded, used).set_index("modality")
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


# -- attributions -------------------------------------------------------------------------------
def attribution_ui(
    model: Any, model_path: str, patient: Patient, key: str, used: tuple[str, ...]
) -> None:
    """One panel at a time (each costs a second or so): the method and the source chosen."""
    from amff.explain import METHODS

    choose, which = st.columns([1, 2], vertical_alignment="bottom")
    method = choose.selectbox(
        "Attribution method",
        METHODS,
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
    with st.spinner(f"Explaining the {Modality(modality).label}..."):
        try:
            found = state.attribution(model_path, key, patient, modality, method, used)
        except InputError as exc:
            st.error(f"This source cannot be explained: {exc}", icon=":material/error:")
            return
    PANELS[modality](model, patient, found)
    st.caption(
        f"Each value is measured against a neutral reference: {REFERENCES[modality]}. Risk "
        f"score (log-odds) {found.logit:+.2f} for this patient against "
        f"{found.baseline_logit:+.2f} for the reference.",
        help=f"Technically: {found.baseline}.",
    )


REFERENCES = {
    Modality.TABULAR.value: "an average training patient's record (missing values stay missing)",
    Modality.TEXT.value: "an empty note",
    Modality.IMAGE.value: "a plain gray image at the average training brightness",
    Modality.RNA.value: "an average training patient's gene expression",
}


def record_panel(model: Any, patient: Patient, found: Any) -> None:
    schema = model.preprocessor.tabular
    flags = schema.out_of_range(patient.record)
    ranges = dict(zip(schema.numeric, zip(schema.low, schema.high)))
    frame = found.frame()
    frame["flag"] = [flags.get(label, "") for label in frame["label"]]
    shown = frame.assign(label=[ui.feature_label(label) for label in frame["label"]])
    left, right = st.columns([1, 1], gap="large")
    left.plotly_chart(
        charts.record_attribution_figure(shown, signed=signed(found)),
        config={"displayModeBar": False},
        key="record_chart",
    )
    table = pd.DataFrame(
        {
            "Feature": shown["label"],
            "Value": [
                charts.value_text(v) + (f" ({FLAG_TEXT[f]})" if f in FLAG_TEXT else "")
                for v, f in zip(frame["value"], frame["flag"])
            ],
            "Usual range": [usual_range(ranges.get(f)) for f in frame["label"]],
            "Attribution": frame["attribution"].round(4),
        }
    ).iloc[np.argsort(-np.abs(frame["attribution"].to_numpy()), kind="stable")]
    right.dataframe(
        table,
        hide_index=True,
        height=420,
        column_config={
            "Value": st.column_config.TextColumn(help=ui.HELP["out_of_range"]),
            "Usual range": st.column_config.TextColumn(
                help="1st to 99th percentile of the training patients."
            ),
            "Attribution": st.column_config.NumberColumn(help=ui.HELP["attribution"]),
        },
    )


FLAG_TEXT = {"low": "low", "high": "high"}


def usual_range(bounds: tuple[float, float] | None) -> str:
    return "" if bounds is None else f"{bounds[0]:.3g} to {bounds[1]:.3g}"


def note_panel(model: Any, patient: Patient, found: Any) -> None:
    note = patient.note or ""
    starts, ends = list(found.extra.get("start", [])), list(found.extra.get("end", []))
    read_until = max(ends) if ends else 0
    st.html(
        charts.note_html(
            note, starts, ends, found.values, read_until=read_until, signed=signed(found)
        )
    )
    st.caption(
        (
            "Words shaded vermillion raised the risk, blue lowered it; stronger shading, more "
            "effect."
            if signed(found)
            else "Stronger shading: the risk is more sensitive to the word."
        )
        + f" The model read the first {len(found.labels)} words (shaded); grey text after "
        "them was not read."
    )
    if len(note) > MAX_NOTE_CHARS:
        st.info(
            f"This note has {len(note):,} characters; the model reads at most the first "
            f"{MAX_NOTE_CHARS:,}.",
            icon=":material/content_cut:",
        )


def image_panel(model: Any, patient: Patient, found: Any) -> None:
    left, right = st.columns([3, 1], gap="large")
    with right:
        opacity = st.slider(
            "Heatmap opacity",
            0.0,
            1.0,
            0.5,
            0.05,
            key="opacity",
            help="0 shows the image alone; 1 shows the heatmap alone.",
        )
        smooth = st.toggle(
            "Smooth the heatmap",
            value=True,
            key="smooth",
            help="Pixel-level attributions are speckled; smoothing (a 1.5-pixel Gaussian "
            "blur) shows the regions. Switch off to see the raw pixels.",
        )
        st.caption(
            (
                "Vermillion regions raised the risk, blue regions lowered it."
                if signed(found)
                else "Stronger blue: the risk is more sensitive to that region."
            )
            + f" The image is shown as the model reads it ({model.image_size} x "
            f"{model.image_size} pixels)."
        )
    left.plotly_chart(
        charts.image_overlay_figure(
            np.asarray(found.inputs),
            charts.smooth_heatmap(found.values, 1.5) if smooth else found.values,
            opacity,
            signed=signed(found),
        ),
        config={"displayModeBar": False},
        key="image_chart",
    )


def rna_panel(model: Any, patient: Patient, found: Any) -> None:
    frame = found.frame()
    left, right = st.columns([3, 2], gap="large")
    left.plotly_chart(
        charts.genes_figure(frame, k=15, signed=signed(found)),
        config={"displayModeBar": False},
        key="genes_chart",
    )
    top = found.top(50)
    right.dataframe(
        pd.DataFrame(
            {
                "Gene": top["label"].replace({"log10_library_size": "library size (reads)"}),
                "Reads": top["value"].round(0),
                "Attribution": top["attribution"].round(5),
            }
        ),
        hide_index=True,
        height=420,
        column_config={"Attribution": st.column_config.NumberColumn(help=ui.HELP["attribution"])},
    )


def signed(found: Any) -> bool:
    """Saliency gives sizes only (|gradient|): drawn without a direction."""
    return found.method != "saliency"


PANELS = {
    Modality.TABULAR.value: record_panel,
    Modality.TEXT.value: note_panel,
    Modality.IMAGE.value: image_panel,
    Modality.RNA.value: rna_panel,
}


# -- what if -----------------------------------------------------------------------------------
def what_if_ui(
    model: Any, model_path: str, patient: Patient, key: str, used: tuple[str, ...], now: float
) -> None:
    """Edit record values and see the risk move (the other sources stay as they are)."""
    if patient.record is None or Modality.TABULAR.value not in used:
        st.caption("What-if editing needs the clinical record switched on.")
        return
    schema = model.preprocessor.tabular
    ranges = dict(zip(schema.numeric, zip(schema.low, schema.high)))
    original = patient.record
    table = pd.DataFrame(
        {
            "Feature": [ui.feature_label(f) for f in schema.numeric],
            "Value": pd.to_numeric(original.reindex(schema.numeric), errors="coerce"),
            "Usual range": [usual_range(ranges[f]) for f in schema.numeric],
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
    for feature, value in zip(schema.numeric, edited["Value"]):
        record[feature] = np.nan if pd.isna(value) else float(value)
    changed = [
        f
        for f in schema.numeric
        if not _same(record.get(f), pd.to_numeric(pd.Series([original.get(f)]), errors="coerce")[0])
    ]
    with right:
        if not changed:
            st.info("Edit a value in the table to see how the risk would change.")
            return
        what_if = Patient(
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
        except InputError as exc:
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


# -- report ------------------------------------------------------------------------------------
def report_ui(
    model: Any,
    kind: str,
    patient: Patient,
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


# -- the page ----------------------------------------------------------------------------------
def patient_page() -> None:
    models = state.available_models()
    if not models:
        ui.no_model_ui()
        return
    kind = state.selected_model(models)
    model_path = models[kind]
    model = state.predictor(model_path)
    cohort_path = str(state.demo_cohort_dir())

    st.title("Patient")
    st.caption(
        "Choose a patient, switch sources on and off, and see the predicted risk and its "
        f"reasons change. Model: {ui.model_label(kind)}."
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
        chosen = synthetic_patient_ui(cohort_path)
    else:
        chosen = upload_ui(model)
    if chosen is None:
        return
    patient, key, truth = chosen.patient, chosen.key, chosen.truth
    try:
        encoded = state.encoded_patient(model_path, key, patient)
    except InputError as exc:
        st.error(f"This patient cannot be read by the model: {exc}", icon=":material/error:")
        return

    available = tuple(m.value for m in patient.modalities)
    st.subheader("Sources", help="Switch a source off to see the prediction without it.")
    used = ui.modality_toggles_ui(
        available, {m.value: f"this patient has no {m.label}" for m in MODALITIES}
    )
    result = prediction_ui(model, encoded, used, available, truth)
    if used:
        st.subheader("Which sources the prediction rests on")
        reasons = reasons_ui(model, encoded, used)
        st.subheader("Why: what inside each source moved the risk", help=ui.HELP["attribution"])
        attribution_ui(model, model_path, patient, key, used)
        with st.expander(
            "What if? Change record values and see the risk move", icon=":material/tune:"
        ):
            what_if_ui(model, model_path, patient, key, used, result["probability"])
        report_ui(model, kind, patient, used, available, result, reasons, truth)
    if chosen.hard_case_slots is not None:
        hard_cases_ui(chosen.hard_case_slots, model_path, cohort_path, model.threshold)


patient_page()
