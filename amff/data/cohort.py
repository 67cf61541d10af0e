"""Cohort and Patient, and the cohort folder of DESIGN.md: read, validate, write.

A cohort folder::

    clinical.csv   patient_id, [label], then any feature columns (numeric or text)
    notes.csv      patient_id, text                  (optional)
    images/        <patient_id>.png|.jpg|.jpeg|.dcm  (optional)
    rnaseq.csv     patient_id, then one column per gene: raw counts (optional)
    truth.csv      written by the simulator only

Validation happens here, at the boundary: every problem is an InputError naming the file, the
row or column, and the fix. Nothing is hard-wired to the simulator's features or genes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from amff.data.images import IMAGE_EXTENSIONS, decode_image, encode_png
from amff.errors import InputError
from amff.modalities import MODALITIES, Modality

ID = "patient_id"
LABEL = "label"
MAX_ID_LENGTH = 128


@dataclass
class Patient:
    """One patient: any subset of the four modalities, and the label when known."""

    patient_id: str
    # repr=False: patient values never end up in logs or tracebacks through a repr
    record: pd.Series | None = field(default=None, repr=False)  # feature -> value; NaN = missing
    note: str | None = field(default=None, repr=False)
    image: np.ndarray | None = field(default=None, repr=False)  # (H, W) float32 in [0, 1]
    rna: pd.Series | None = field(default=None, repr=False)  # gene -> raw count
    label: int | None = field(default=None, repr=False)

    def has(self, modality: Modality) -> bool:
        """Whether this patient has the modality."""
        if modality is Modality.TABULAR:
            return self.record is not None and bool(self.record.notna().any())
        if modality is Modality.TEXT:
            return bool(self.note and self.note.strip())
        if modality is Modality.IMAGE:
            return self.image is not None
        return self.rna is not None

    @property
    def modalities(self) -> tuple[Modality, ...]:
        return tuple(m for m in MODALITIES if self.has(m))


@dataclass(repr=False)
class Cohort:
    """Patients with up to four modalities each.

    clinical: one row per patient (index patient_id, str), feature columns only.
    labels: 0/1 per patient, or None when the cohort has no label column.
    notes / images: by patient id, only for patients that have them.
    rnaseq: counts, index patient_id, one column per gene, or None.
    truth: the simulator's oracle table, or None.
    """

    clinical: pd.DataFrame
    labels: pd.Series | None = None
    notes: dict[str, str] = field(default_factory=dict)
    images: dict[str, np.ndarray] = field(default_factory=dict)
    rnaseq: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None
    meta: dict = field(default_factory=dict)  # simulator ground truth, written as truth.json

    def __repr__(self) -> str:  # no patient values in a repr
        return f"Cohort(n={len(self)}, features={len(self.features)}, genes={len(self.genes)})"

    # -- looking ---------------------------------------------------------------------------
    @property
    def ids(self) -> list[str]:
        return [str(i) for i in self.clinical.index]

    def __len__(self) -> int:
        return len(self.clinical)

    @property
    def features(self) -> list[str]:
        return [str(c) for c in self.clinical.columns]

    @property
    def genes(self) -> list[str]:
        return [] if self.rnaseq is None else [str(c) for c in self.rnaseq.columns]

    def present(self, modality: Modality) -> np.ndarray:
        """A bool array over patients (in `ids` order): who has this modality."""
        ids = self.clinical.index
        if modality is Modality.TABULAR:
            if self.clinical.shape[1] == 0:
                return np.zeros(len(ids), dtype=bool)
            return self.clinical.notna().any(axis=1).to_numpy()
        if modality is Modality.TEXT:
            return np.array([bool(self.notes.get(i, "").strip()) for i in ids], dtype=bool)
        if modality is Modality.IMAGE:
            return np.array([i in self.images for i in ids], dtype=bool)
        if self.rnaseq is None:
            return np.zeros(len(ids), dtype=bool)
        return ids.isin(self.rnaseq.index)

    def present_matrix(self) -> np.ndarray:
        """(N, 4) bool: which patient has which modality, in modality order."""
        return np.stack([self.present(m) for m in MODALITIES], axis=1)

    def patient(self, patient_id: str) -> Patient:
        """The patient with this id (KeyError names the id when absent)."""
        if patient_id not in self.clinical.index:
            raise KeyError(f"patient {patient_id!r} is not in this cohort")
        record = self.clinical.loc[patient_id]
        rna = None
        if self.rnaseq is not None and patient_id in self.rnaseq.index:
            rna = self.rnaseq.loc[patient_id]
        label = None
        if self.labels is not None:
            label = int(self.labels.loc[patient_id])
        note = self.notes.get(patient_id)
        return Patient(
            patient_id=patient_id,
            record=record if bool(record.notna().any()) else None,
            note=note if note and note.strip() else None,
            image=self.images.get(patient_id),
            rna=rna,
            label=label,
        )

    def subset(self, ids: Sequence[str]) -> Cohort:
        """A cohort of these patients, in this order."""
        ids = [str(i) for i in ids]
        keep = set(ids)
        rnaseq = None
        if self.rnaseq is not None:
            rnaseq = self.rnaseq.loc[[i for i in ids if i in self.rnaseq.index]]
        return Cohort(
            clinical=self.clinical.loc[ids],
            labels=None if self.labels is None else self.labels.loc[ids],
            notes={i: t for i, t in self.notes.items() if i in keep},
            images={i: a for i, a in self.images.items() if i in keep},
            rnaseq=rnaseq,
            truth=None if self.truth is None else self.truth.loc[self.truth.index.isin(ids)],
            meta=self.meta,
        )

    @classmethod
    def from_patients(
        cls, patients: Iterable[Patient], features: Sequence[str] = (), genes: Sequence[str] = ()
    ) -> Cohort:
        """Build a cohort from Patient objects (for uploads and what-if edits)."""
        patients = list(patients)
        ids = [p.patient_id for p in patients]
        if len(set(ids)) != len(ids):
            raise InputError("patient ids must be unique")
        features = list(features) or sorted(
            {str(k) for p in patients if p.record is not None for k in p.record.index}
        )
        rows = [
            (p.record.reindex(features) if p.record is not None else pd.Series(index=features))
            for p in patients
        ]
        clinical = pd.DataFrame(rows, index=pd.Index(ids, name=ID), columns=features)
        clinical = clinical.infer_objects()
        labels = None
        if patients and all(p.label is not None for p in patients):
            labels = pd.Series([int(p.label) for p in patients], index=clinical.index, name=LABEL)
        with_rna = [p for p in patients if p.rna is not None]
        rnaseq = None
        if with_rna:
            genes = list(genes) or [str(g) for g in with_rna[0].rna.index]
            rnaseq = pd.DataFrame(
                [p.rna.reindex(genes).to_numpy(dtype=np.float64) for p in with_rna],
                index=pd.Index([p.patient_id for p in with_rna], name=ID),
                columns=genes,
            )
        return cls(
            clinical=clinical,
            labels=labels,
            notes={p.patient_id: p.note for p in patients if p.note},
            images={p.patient_id: p.image for p in patients if p.image is not None},
            rnaseq=rnaseq,
        )

    # -- writing ---------------------------------------------------------------------------
    def write(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write the cohort folder atomically: all files appear together, or none do."""
        target = Path(path)
        if target.exists() and (not target.is_dir() or any(target.iterdir())) and not overwrite:
            raise InputError(
                f"{target}: already exists and is not empty; choose a new folder or overwrite it"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            self._write_files(staging)
            if target.exists():
                old = target.with_name(f".{target.name}.old-{os.getpid()}")
                os.replace(target, old)
                os.replace(staging, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return target

    def _write_files(self, folder: Path) -> None:
        clinical = self.clinical.copy()
        if self.labels is not None:
            clinical.insert(0, LABEL, self.labels.astype(int))
        clinical.index.name = ID
        clinical.to_csv(folder / "clinical.csv", lineterminator="\n")
        if self.notes:
            notes = pd.DataFrame(
                {ID: list(self.notes), "text": list(self.notes.values())}
            ).set_index(ID)
            notes.to_csv(folder / "notes.csv", lineterminator="\n")
        if self.images:
            (folder / "images").mkdir()
            for pid, image in self.images.items():
                (folder / "images" / f"{pid}.png").write_bytes(encode_png(image))
        if self.rnaseq is not None:
            counts = self.rnaseq
            if np.all(np.equal(np.mod(counts.to_numpy(), 1), 0)):
                counts = counts.astype(np.int64)
            counts.index.name = ID
            counts.to_csv(folder / "rnaseq.csv", lineterminator="\n")
        if self.truth is not None:
            truth = self.truth.copy()
            truth.index.name = ID
            truth.to_csv(folder / "truth.csv", lineterminator="\n")
        if self.meta:
            text = json.dumps(self.meta, indent=1, sort_keys=True)
            (folder / "truth.json").write_text(text + "\n", encoding="utf-8")


# -- reading -------------------------------------------------------------------------------
def read_cohort(path: str | os.PathLike[str], ids: Sequence[str] | None = None) -> Cohort:
    """Read and validate a cohort folder (see the module docstring).

    `ids`, when given, keeps only those patients (used to stream large cohorts in chunks).
    Raises InputError with the file, the row or column, and the fix for any problem.
    """
    folder = Path(path)
    if not folder.exists():
        raise InputError(f"{folder}: no such folder; give the path of a cohort folder")
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder; give the folder that holds clinical.csv")
    clinical_path = folder / "clinical.csv"
    if not clinical_path.is_file():
        raise InputError(
            f"{folder}: no clinical.csv; every cohort needs clinical.csv with a patient_id "
            "column (and a label column to train or evaluate)"
        )
    clinical, labels = parse_clinical(clinical_path.read_bytes(), str(clinical_path))
    known = set(clinical.index)
    if ids is not None:
        wanted = [str(i) for i in ids]
        missing = [i for i in wanted if i not in known]
        if missing:
            raise KeyError(f"patient {missing[0]!r} is not in {clinical_path}")
        clinical = clinical.loc[wanted]
        labels = None if labels is None else labels.loc[wanted]
    keep = set(clinical.index)

    notes: dict[str, str] = {}
    notes_path = folder / "notes.csv"
    if notes_path.is_file():
        notes = parse_notes(notes_path.read_bytes(), str(notes_path), known)
        notes = {i: t for i, t in notes.items() if i in keep}

    images: dict[str, np.ndarray] = {}
    images_dir = folder / "images"
    if images_dir.is_dir():
        for pid, file in _image_files(images_dir, known).items():
            if pid in keep:
                images[pid] = decode_image(file.read_bytes(), str(file))

    rnaseq = None
    rna_path = folder / "rnaseq.csv"
    if rna_path.is_file():
        rnaseq = parse_rnaseq(rna_path.read_bytes(), str(rna_path), known)
        rnaseq = rnaseq.loc[rnaseq.index.isin(keep)]

    truth = None
    truth_path = folder / "truth.csv"
    if truth_path.is_file():
        truth = _read_table(truth_path.read_bytes(), str(truth_path))
        truth = truth.set_index(ID) if ID in truth.columns else None
        if truth is not None:
            truth.index = truth.index.astype(str)
            truth = truth.apply(_numeric_if_possible)
            truth = truth.loc[truth.index.isin(keep)]
    meta: dict = {}
    meta_path = folder / "truth.json"
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise InputError(f"{meta_path}: not valid JSON; delete it or simulate again") from None
    return Cohort(clinical, labels, notes, images, rnaseq, truth, meta)


def _numeric_if_possible(column: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(column, errors="coerce")
    return numbers if numbers.notna().sum() == (column != "").sum() else column


def _decode_text(data: bytes, name: str) -> str:
    if data[:4] == b"PK\x03\x04":
        raise InputError(
            f"{name}: this is a ZIP or Excel (.xlsx) file, not CSV; save it as CSV (UTF-8)"
        )
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise InputError(f"{name}: this is an old Excel (.xls) file, not CSV; save it as CSV")
    if b"\x00" in data[:4096]:
        raise InputError(
            f"{name}: binary data (NUL bytes), not CSV text; save the file as CSV (UTF-8)"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{name}: not UTF-8 text (bad byte at line {line}); re-save the file as UTF-8"
        ) from None
    return text


def _read_table(data: bytes, name: str) -> pd.DataFrame:
    """Parse CSV bytes into a frame of strings ('' for empty cells), with checks."""
    text = _decode_text(data, name)
    if not text.strip():
        raise InputError(
            f"{name}: the file is empty; it needs a header row and one row per patient"
        )
    first_line = text.splitlines()[0]
    try:
        header = next(csv.reader([first_line]))
    except csv.Error as exc:
        raise InputError(f"{name}: the header row cannot be parsed as CSV ({exc})") from None
    header = [h.strip() for h in header]
    if any(not h for h in header):
        col = header.index("") + 1
        raise InputError(f"{name}: column {col} of the header has no name; name every column")
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise InputError(f"{name}: column {h!r} appears twice; keep one column of that name")
        seen.add(h)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skipinitialspace=False,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise InputError(
            f"{name}: not valid CSV ({_short(exc)}); every row needs as many cells as the header"
        ) from None
    except (pd.errors.EmptyDataError, UnicodeError, ValueError) as exc:
        raise InputError(f"{name}: not valid CSV ({_short(exc)})") from None
    frame.columns = header
    if len(frame) == 0:
        raise InputError(f"{name}: the file has a header but no rows; add one row per patient")
    return frame


def _check_ids(frame: pd.DataFrame, name: str) -> pd.Series:
    if ID not in frame.columns:
        raise InputError(
            f"{name}: no {ID!r} column (columns are {list(frame.columns)[:6]}); "
            f"name the identifier column {ID!r}"
        )
    ids = frame[ID].astype(str).str.strip()
    for row, pid in enumerate(ids, start=2):
        if not pid:
            raise InputError(f"{name}: row {row} has an empty patient_id; fill it in")
        if len(pid) > MAX_ID_LENGTH or any(ch in pid for ch in "/\\\x00") or pid in (".", ".."):
            raise InputError(
                f"{name}: row {row}: patient_id {pid[:40]!r} is not usable as a file name; "
                f"use letters, digits, '-', '_' or '.' (at most {MAX_ID_LENGTH} characters)"
            )
    dup = ids[ids.duplicated()]
    if len(dup):
        row = int(dup.index[0]) + 2
        raise InputError(
            f"{name}: patient_id {dup.iloc[0]!r} appears more than once (row {row}); "
            "give every patient one row"
        )
    return ids


def _check_known(ids: Iterable[str], known: set[str], name: str) -> None:
    for pid in ids:
        if pid not in known:
            raise InputError(
                f"{name}: patient_id {pid!r} is not in clinical.csv; add a clinical.csv row "
                "for it or remove it here"
            )


def parse_clinical(data: bytes, name: str) -> tuple[pd.DataFrame, pd.Series | None]:
    """clinical.csv bytes -> (features indexed by patient_id, labels or None)."""
    frame = _read_table(data, name)
    ids = _check_ids(frame, name)
    labels = None
    if LABEL in frame.columns:
        raw = frame[LABEL].str.strip()
        if (raw != "").any():
            labels = pd.Series(index=pd.Index(ids, name=ID), dtype=np.int64, name=LABEL)
            values = []
            for row, cell in enumerate(raw, start=2):
                if cell in ("0", "1", "0.0", "1.0"):
                    values.append(int(float(cell)))
                elif cell == "":
                    raise InputError(
                        f"{name}: row {row} has no label; give every patient 0 or 1, or "
                        "remove the label column to predict only"
                    )
                else:
                    raise InputError(
                        f"{name}: row {row} has label {cell[:20]!r}; labels must be 0 or 1"
                    )
            labels = pd.Series(values, index=pd.Index(ids, name=ID), name=LABEL)
    features = frame.drop(columns=[c for c in (ID, LABEL) if c in frame.columns])
    features.index = pd.Index(ids, name=ID)
    columns = {}
    for col in features.columns:
        columns[col] = _feature_column(features[col], col, name)
    clinical = pd.DataFrame(columns, index=features.index)
    return clinical, labels


def _feature_column(cells: pd.Series, col: str, name: str) -> pd.Series:
    stripped = cells.str.strip()
    empty = stripped.eq("") | stripped.str.upper().isin(["NA", "NAN", "N/A", "NULL", "NONE"])
    numbers = pd.to_numeric(stripped.where(~empty), errors="coerce")
    parsed = numbers.notna() | empty
    if parsed.all():
        infinite = ~np.isfinite(numbers.fillna(0.0))
        if infinite.any():
            row = int(np.flatnonzero(infinite.to_numpy())[0]) + 2
            raise InputError(
                f"{name}: column {col!r}, row {row} is infinite; give a finite number or leave "
                "the cell empty for a missing value"
            )
        return numbers.astype(np.float64)
    # text column: categories, empty = missing
    return stripped.where(~empty, other=np.nan).astype(object)


def parse_notes(data: bytes, name: str, known: set[str]) -> dict[str, str]:
    """notes.csv bytes -> {patient_id: text}; empty texts are dropped."""
    frame = _read_table(data, name)
    ids = _check_ids(frame, name)
    if "text" not in frame.columns:
        raise InputError(
            f"{name}: no 'text' column (columns are {list(frame.columns)[:6]}); "
            "notes.csv needs patient_id and text"
        )
    _check_known(ids, known, name)
    return {pid: text for pid, text in zip(ids, frame["text"]) if text.strip()}


def parse_rnaseq(data: bytes, name: str, known: set[str] | None) -> pd.DataFrame:
    """rnaseq.csv bytes -> counts (index patient_id, one column per gene), validated."""
    frame = _read_table(data, name)
    ids = _check_ids(frame, name)
    if known is not None:
        _check_known(ids, known, name)
    genes = frame.drop(columns=[ID])
    if genes.shape[1] == 0:
        raise InputError(f"{name}: no gene columns; add one column of counts per gene")
    values = genes.apply(lambda c: pd.to_numeric(c.str.strip(), errors="coerce"))
    bad = values.isna().to_numpy()
    if bad.any():
        row, col = (int(v[0]) for v in np.nonzero(bad))
        cell = genes.iat[row, col]
        raise InputError(
            f"{name}: gene {genes.columns[col]!r}, row {row + 2} has {cell[:20]!r}; counts "
            "must be numbers (no empty cells)"
        )
    array = values.to_numpy(dtype=np.float64)
    finite = np.isfinite(array)
    if not finite.all():
        row, col = (int(v[0]) for v in np.nonzero(~finite))
        raise InputError(
            f"{name}: gene {genes.columns[col]!r}, row {row + 2} is infinite; counts must be finite"
        )
    if (array < 0).any():
        row, col = (int(v[0]) for v in np.nonzero(array < 0))
        raise InputError(
            f"{name}: gene {genes.columns[col]!r}, row {row + 2} is negative; counts must be "
            "raw non-negative read counts"
        )
    return pd.DataFrame(array, index=pd.Index(ids, name=ID), columns=list(genes.columns))


def _image_files(folder: Path, known: set[str]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for file in sorted(folder.iterdir()):
        if file.name.startswith(".") or file.is_dir():
            continue
        ext = file.suffix.lower()
        if ext not in IMAGE_EXTENSIONS:
            raise InputError(
                f"{file}: unsupported extension {file.suffix!r}; images must be "
                f"<patient_id> with one of {', '.join(IMAGE_EXTENSIONS)}"
            )
        pid = file.name[: -len(file.suffix)]
        if pid not in known:
            raise InputError(
                f"{file}: patient_id {pid!r} is not in clinical.csv; name the image after a "
                "patient_id or add the patient"
            )
        if pid in files:
            raise InputError(
                f"{file}: patient {pid!r} has two images ({files[pid].name}); keep one"
            )
        files[pid] = file
    return files


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def is_valid_id(pid: str) -> bool:
    """Whether a patient id can be used as a file name in a cohort folder."""
    return bool(pid) and len(pid) <= MAX_ID_LENGTH and not any(c in pid for c in "/\\\x00")


__all__ = ["Cohort", "Patient", "read_cohort", "parse_clinical", "parse_notes", "parse_rnaseq"]
