"""Uploading a patient: a file per source (each optional), a record form and a note box."""

from __future__ import annotations

from functools import partial
from typing import Any

import streamlit as st

import amff
from app import state, ui, uploads
from app.views.patient.pick import Chosen


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
    except amff.InputError as exc:
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
    intro, example = st.columns([3, 1], vertical_alignment="center")
    intro.markdown(
        "Upload any of the four sources; each is optional. Files stay in this browser "
        "session's memory and are never saved."
    )
    example.download_button(
        "Example patient (.zip)",
        data=uploads.example_bundle(state.example_patient_dir()),
        file_name="example_patient.zip",
        mime="application/zip",
        icon=":material/download:",
        on_click="ignore",
        help="record.csv, note.txt, image.png and rnaseq.csv: the formats this page reads.",
        width="stretch",
    )
    typed = upload_slots_ui(model)
    return uploaded_patient(typed)


def upload_slots_ui(model: Any) -> str:
    """The upload widgets, the record form and the note box; returns the typed note."""
    numeric = [f for f, spec in model.record_schema().items() if spec["kind"] == "numeric"]
    left, right = st.columns(2, gap="large")
    with left:
        upload_slot_ui(
            "record",
            "Clinical record (one-row CSV)",
            ["csv"],
            partial(uploads.parse_record, features=model.features, numeric=numeric),
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
            partial(uploads.parse_rna, genes=model.library_genes),
            "Columns: patient_id, then one column of raw read counts per gene.",
        )
    return typed


def uploaded_patient(typed: str) -> Chosen | None:
    """The patient made of the parts read so far (and the typed note), or None after saying
    what is missing."""
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
    except amff.InputError as exc:
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
    schema = model.record_schema()
    with st.expander("...or fill in the record by hand"), st.form("record_form", border=False):
        columns = st.columns(3)
        values: dict[str, Any] = {}
        for i, feature in enumerate(model.features):
            with columns[i % 3]:
                values[feature] = _record_field(feature, schema.get(feature, {}))
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


def _record_field(feature: str, spec: dict[str, Any]) -> Any:
    """One form field: a number box with the usual range, or a choice of the categories."""
    if spec.get("kind") == "numeric":
        return st.number_input(
            ui.feature_label(feature),
            value=None,
            placeholder="missing",
            format="%g",
            key=f"form_{feature}",
            help=f"Usual range in training: {spec['low']:g} to {spec['high']:g}. Empty = missing.",
        )
    return st.selectbox(
        ui.feature_label(feature),
        spec.get("categories", []),
        index=None,
        placeholder="missing",
        key=f"form_{feature}",
    )
