"""Uploaded files -> the parts of a Patient: pure functions, bytes in, values or InputError out.

Nothing here touches Streamlit or the disk: uploads stay in memory. Each function validates
against the loaded checkpoint's schema (its features and genes), so a bad file is reported
next to its upload widget, in words that say what is wrong and how to fix it.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import amff

UPLOADED_ID = "uploaded patient"
EXAMPLE_FILES = ("record.csv", "note.txt", "image.png", "rnaseq.csv")


@dataclass
class Part:
    """One parsed upload: the value for the Patient, the file name, and notices to show."""

    value: Any
    name: str
    notices: list[str] = field(default_factory=list)
    patient_id: str | None = None
    label: int | None = None


def parse_record(data: bytes, name: str, features: Sequence[str], numeric: Sequence[str]) -> Part:
    """A one-row clinical record CSV (patient_id, optional label, feature columns).

    Columns the model does not know are refused (they are usually typos); features the file
    lacks are treated as missing values.
    """
    clinical, labels = amff.parse_clinical(data, name)
    if len(clinical) != 1:
        raise amff.InputError(
            f"{name}: {len(clinical)} patient rows; the record upload takes one patient "
            "(one header row and one data row)"
        )
    known = set(features)
    unknown = [str(c) for c in clinical.columns if str(c) not in known]
    if unknown:
        raise amff.InputError(
            f"{name}: column {unknown[0]!r} is not a feature of this model"
            + (f" ({len(unknown)} unknown columns)" if len(unknown) > 1 else "")
            + f"; use the model's feature names, e.g. {', '.join(list(features)[:5])}, ... "
            "(download the example record to see them all)"
        )
    row = clinical.iloc[0]
    for feature in numeric:
        if feature in row.index and not pd.api.types.is_float_dtype(clinical[feature]):
            raise amff.InputError(
                f"{name}: {feature!r} must be a number but is {str(row[feature])[:20]!r}; fix "
                "the value or leave the cell empty"
            )
    record = row.reindex(list(features))
    if not bool(record.notna().any()):
        raise amff.InputError(f"{name}: every feature is empty; fill in at least one value")
    missing = int(record.isna().sum())
    notices = (
        [f"{missing} of {len(features)} values missing (the model accepts gaps)"] if missing else []
    )
    label = None if labels is None else int(labels.iloc[0])
    return Part(record, name, notices, patient_id=str(clinical.index[0]), label=label)


def record_from_values(values: Mapping[str, Any], features: Sequence[str]) -> pd.Series | None:
    """A record from form values (None, NaN or blank text = missing); None when all missing."""
    cells: dict[str, Any] = {}
    for f in features:
        value = values.get(f)
        blank = value is None or (isinstance(value, str) and not value.strip())
        cells[f] = np.nan if blank or (isinstance(value, float) and np.isnan(value)) else value
    record = pd.Series(cells, dtype=object).reindex(list(features))
    return record if bool(record.notna().any()) else None


def parse_note(data: bytes, name: str) -> Part:
    """A clinical note as a UTF-8 text file. Long notes are kept whole and flagged: the model
    reads the first MAX_NOTE_CHARS characters."""
    if not data:
        raise amff.InputError(f"{name}: the file is empty; give a note with some text")
    if b"\x00" in data[:4096]:
        raise amff.InputError(
            f"{name}: this is a binary file, not text; save the note as a .txt file"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise amff.InputError(
            f"{name}: not UTF-8 text (byte {exc.start:,} cannot be read); save the note as "
            "UTF-8 plain text"
        ) from None
    return note_part(text, name)


def note_part(text: str, name: str) -> Part:
    """A note typed into the text box (or decoded from a file), with a notice when long."""
    if not text.strip():
        raise amff.InputError(f"{name}: the note is empty; give some text")
    notices = []
    if len(text) > amff.MAX_NOTE_CHARS:
        notices.append(
            f"The note has {len(text):,} characters; the model reads the first "
            f"{amff.MAX_NOTE_CHARS:,} of them"
        )
    return Part(text, name, notices)


def parse_image(data: bytes, name: str) -> Part:
    """A PNG, JPEG or DICOM image, made grayscale (amff's decoder)."""
    image = amff.decode_image(data, name)
    height, width = image.shape
    return Part(image, name, [f"{width} x {height} pixels, read as grayscale"])


def parse_rna(data: bytes, name: str, genes: Sequence[str]) -> Part:
    """One patient's RNA-seq counts: a CSV with patient_id and one column per gene.

    Every gene the model uses must be there; extra genes are ignored (and said so).
    """
    counts = amff.parse_rnaseq(data, name, None)
    if len(counts) != 1:
        raise amff.InputError(
            f"{name}: {len(counts)} patient rows; the RNA-seq upload takes one patient "
            "(one header row and one data row)"
        )
    have = set(counts.columns)
    missing = [g for g in genes if g not in have]
    if missing:
        raise amff.InputError(
            f"{name}: {len(missing)} of the model's {len(genes)} genes are missing, e.g. "
            f"{', '.join(missing[:3])}; give a count for every gene (0 if none; download the "
            "example to see the gene list)"
        )
    extra = len(have) - len(genes)
    notices = [f"{extra} extra genes ignored"] if extra > 0 else []
    row = counts.iloc[0].reindex(list(genes))
    return Part(row, name, notices, patient_id=str(counts.index[0]))


def build_patient(
    patient_id: str | None,
    record: pd.Series | None = None,
    note: str | None = None,
    image: np.ndarray | None = None,
    rna: pd.Series | None = None,
    label: int | None = None,
) -> amff.Patient:
    """The uploaded patient; InputError when no part was given."""
    if record is None and note is None and image is None and rna is None:
        raise amff.InputError(
            "no data yet: upload at least one of a record, a note, an image or RNA-seq counts"
        )
    return amff.Patient(
        patient_id=(patient_id or UPLOADED_ID).strip() or UPLOADED_ID,
        record=record,
        note=note,
        image=image,
        rna=rna,
        label=label,
    )


def fingerprint(patient: amff.Patient) -> str:
    """A short hash of a patient's data: the cache key for its encoding and explanations."""
    digest = hashlib.sha256()
    digest.update(str(patient.patient_id).encode())
    if patient.record is not None:
        digest.update(b"record" + patient.record.to_json().encode())
    if patient.note is not None:
        digest.update(b"note" + patient.note.encode("utf-8", "surrogatepass"))
    if patient.image is not None:
        image = np.ascontiguousarray(patient.image, dtype=np.float32)
        digest.update(b"image" + str(image.shape).encode() + image.tobytes())
    if patient.rna is not None:
        digest.update(b"rna" + np.ascontiguousarray(patient.rna.to_numpy(np.float64)).tobytes())
    return digest.hexdigest()[:24]


def example_bundle(folder: Path) -> bytes:
    """The example patient's files as one zip, built in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in EXAMPLE_FILES:
            file = folder / name
            if file.is_file():
                archive.writestr(f"example_patient/{name}", file.read_bytes())
    return buffer.getvalue()
