"""Cohort and Patient, and the cohort folder of DESIGN.md: read, validate, write.

A cohort folder::

    clinical.csv   patient_id, [label], then any feature columns (numeric or text)
    notes.csv      patient_id, text                  (optional)
    images/        <patient_id>.png|.jpg|.jpeg|.dcm  (optional)
    rnaseq.csv     patient_id, then one column per gene: raw counts (optional)
    truth.csv      written by the simulator only

Validation happens here, at the boundary: every problem is an InputError naming the file, the
row or column, and the fix. Nothing is hard-wired to the simulator's features or genes.
Row numbers in messages are spreadsheet rows: the header is row 1.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from amff.data.images import IMAGE_EXTENSIONS, decode_image, encode_png
from amff.errors import InputError
from amff.modalities import MODALITIES, Modality

ID = "patient_id"
LABEL = "label"
TEXT = "text"
MAX_ID_LENGTH = 128
# cells read as missing, compared upper-case after stripping (an empty cell is missing too)
MISSING_TOKENS = ("NA", "N/A", "NAN", "NULL", "NONE", "#N/A", "<NA>")
# files that file managers drop into folders; never images
_JUNK_FILES = {"thumbs.db", "desktop.ini"}
_BAD_ID_CHARS = re.compile(r"[/\\\x00-\x1f\x7f]")


@dataclass(eq=False)
class Patient:
    """One patient: any subset of the four modalities, and the label when known."""

    patient_id: str
    record: pd.Series | None = None  # feature -> value; NaN = missing
    note: str | None = None
    image: np.ndarray | None = None  # (H, W) float32 in [0, 1]
    rna: pd.Series | None = None  # gene -> raw count
    label: int | None = None

    def __repr__(self) -> str:  # the id and which modalities, never a patient value
        names = "+".join(m.value for m in self.modalities) or "none"
        return f"Patient({self.patient_id!r}, modalities={names})"

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


@dataclass(repr=False, eq=False)
class Cohort:
    """Patients with up to four modalities each.

    clinical: one row per patient (index patient_id, str), feature columns only: float64 for
        numeric features, pandas' str dtype (NaN = missing) for text ones.
    labels: 0/1 per patient (int64), or None when the cohort has no label column.
    notes / images: by patient id, only for patients that have them.
    rnaseq: counts (float64), index patient_id, one column per gene, or None.
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
            return np.array([bool((self.notes.get(i) or "").strip()) for i in ids], dtype=bool)
        if modality is Modality.IMAGE:
            return np.array([i in self.images for i in ids], dtype=bool)
        if self.rnaseq is None:
            return np.zeros(len(ids), dtype=bool)
        return np.asarray(ids.isin(self.rnaseq.index), dtype=bool)

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
        """A cohort of these patients, in this order (KeyError names an unknown id)."""
        ids = [str(i) for i in ids]
        missing = [i for i in ids if i not in self.clinical.index]
        if missing:
            raise KeyError(f"patient {missing[0]!r} is not in this cohort")
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise InputError(f"patient {dup!r} is asked for more than once; give each id once")
        rnaseq = None
        if self.rnaseq is not None:
            rnaseq = self.rnaseq.loc[[i for i in ids if i in self.rnaseq.index]]
        truth = None
        if self.truth is not None:
            truth = self.truth.loc[[i for i in ids if i in self.truth.index]]
        return Cohort(
            clinical=self.clinical.loc[ids],
            labels=None if self.labels is None else self.labels.loc[ids],
            notes={i: self.notes[i] for i in ids if i in self.notes},
            images={i: self.images[i] for i in ids if i in self.images},
            rnaseq=rnaseq,
            truth=truth,
            meta=self.meta,
        )

    @classmethod
    def from_patients(
        cls, patients: Iterable[Patient], features: Sequence[str] = (), genes: Sequence[str] = ()
    ) -> Cohort:
        """Build a cohort from Patient objects (for uploads and what-if edits).

        Features default to the union of the records' keys (sorted), genes to the first RNA
        profile's. Labels are kept when every patient has one.
        """
        patients = list(patients)
        ids = [str(p.patient_id) for p in patients]
        for pid in ids:
            _check_id_text(pid, "the patients")
        seen: set[str] = set()
        for pid in ids:
            if pid in seen:
                raise InputError(
                    f"the patients: patient_id {pid!r} appears more than once; give every "
                    "patient one id"
                )
            seen.add(pid)
        features = [str(f) for f in features] or sorted(
            {str(k) for p in patients if p.record is not None for k in p.record.index}
        )
        _check_feature_names(features, "the patients")
        columns: dict[str, list[object]] = {f: [] for f in features}
        for p in patients:
            record = p.record.reindex(features) if p.record is not None else None
            for f in features:
                columns[f].append(np.nan if record is None else record[f])
        index = pd.Index(ids, name=ID)
        clinical = pd.DataFrame(
            {f: _plain_column(values, ids, f) for f, values in columns.items()},
            index=index,
            columns=pd.Index(features),
        )
        labels = None
        if patients and all(p.label is not None for p in patients):
            for p in patients:
                if isinstance(p.label, (bool, np.bool_)) or p.label not in (0, 1):
                    raise InputError(
                        f"the patients: patient {p.patient_id!r} has label {p.label!r}; "
                        "labels must be 0 or 1"
                    )
            labels = pd.Series([int(p.label) for p in patients], index=index, name=LABEL)
        with_rna = [p for p in patients if p.rna is not None]
        rnaseq = None
        if with_rna:
            genes = [str(g) for g in genes] or [str(g) for g in with_rna[0].rna.index]
            rows = []
            for p in with_rna:
                row = pd.to_numeric(p.rna.reindex(genes), errors="coerce").to_numpy(np.float64)
                bad = ~(np.isfinite(row) & (row >= 0))
                if bad.any():
                    gene = genes[int(np.flatnonzero(bad)[0])]
                    raise InputError(
                        f"the patients: patient {p.patient_id!r} has no usable count for gene "
                        f"{gene!r} ({int(bad.sum())} of {len(genes)} genes); give a finite, "
                        "non-negative count for every gene"
                    )
                rows.append(row)
            rnaseq = pd.DataFrame(
                np.array(rows, dtype=np.float64).reshape(len(rows), len(genes)),
                index=pd.Index([str(p.patient_id) for p in with_rna], name=ID),
                columns=pd.Index(genes),
            )
        return cls(
            clinical=clinical,
            labels=labels,
            notes={str(p.patient_id): p.note for p in patients if p.note},
            images={str(p.patient_id): p.image for p in patients if p.image is not None},
            rnaseq=rnaseq,
        )

    # -- writing ---------------------------------------------------------------------------
    def write(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write the cohort folder atomically: all files appear together, or none do.

        An existing non-empty folder is replaced only with overwrite=True; if writing fails,
        the old folder is left as it was and no temporary folder is left behind.
        """
        target = Path(path)
        if target.exists() and (not target.is_dir() or any(target.iterdir())) and not overwrite:
            raise InputError(
                f"{target}: already exists and is not empty; choose a new folder or overwrite it"
            )
        self._check_writable(str(target))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        except OSError as exc:
            raise InputError(
                f"{target}: cannot write here ({exc.strerror or exc}); choose a writable folder"
            ) from None
        try:
            self._write_files(staging)
            _swap_into_place(staging, target)
        except OSError as exc:
            raise InputError(
                f"{target}: writing failed ({exc.strerror or exc}); check the disk space and "
                "permissions, then write again"
            ) from None
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return target

    def _check_writable(self, name: str) -> None:
        """What the folder format cannot hold is refused before anything is written."""
        _check_feature_names(self.features, name)
        ids = self.ids
        for pid in ids:
            _check_id_text(pid, name)
        if len(set(ids)) != len(ids):
            raise InputError(f"{name}: the cohort has duplicate patient ids; make them unique")
        known = set(ids)
        for what, keys in (("notes", self.notes), ("images", self.images)):
            unknown = [k for k in keys if k not in known]
            if unknown:
                raise InputError(
                    f"{name}: {what} for patient {unknown[0]!r}, who has no clinical row; "
                    "add the patient or drop the entry"
                )
        for pid, image in self.images.items():
            shape = np.shape(image)
            if len(shape) != 2 or 0 in shape:
                raise InputError(
                    f"{name}: the image of patient {pid!r} has shape {shape}; images must be "
                    "(H, W) grayscale arrays in [0, 1]"
                )
        if self.rnaseq is not None:
            unknown = [k for k in self.rnaseq.index if str(k) not in known]
            if unknown:
                raise InputError(
                    f"{name}: RNA-seq for patient {unknown[0]!r}, who has no clinical row; "
                    "add the patient or drop the row"
                )
        if (
            self.labels is not None
            and not self.labels.reindex(self.clinical.index).isin([0, 1]).all()
        ):
            raise InputError(
                f"{name}: every patient needs a label of 0 or 1; fix the labels before writing"
            )

    def _write_files(self, folder: Path) -> None:
        clinical = self.clinical.copy()
        if self.labels is not None:
            clinical.insert(0, LABEL, self.labels.reindex(clinical.index).astype(np.int64))
        _write_csv(clinical.rename_axis(ID), folder / "clinical.csv")
        if self.notes:
            notes = pd.DataFrame({TEXT: list(self.notes.values())}, index=list(self.notes))
            _write_csv(notes.rename_axis(ID), folder / "notes.csv")
        if self.images:
            (folder / "images").mkdir()
            for pid, image in self.images.items():
                (folder / "images" / f"{pid}.png").write_bytes(encode_png(image))
        if self.rnaseq is not None:
            counts = self.rnaseq.rename_axis(ID)
            values = counts.to_numpy(dtype=np.float64)
            if np.all(np.isfinite(values)) and np.all(np.mod(values, 1) == 0):
                counts = counts.astype(np.int64)
            _write_csv(counts, folder / "rnaseq.csv")
        if self.truth is not None:
            _write_csv(self.truth.rename_axis(ID), folder / "truth.csv")
        if self.meta:
            text = json.dumps(self.meta, indent=1, sort_keys=True)
            (folder / "truth.json").write_text(text + "\n", encoding="utf-8")


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """UTF-8 CSV with "\\n" line ends. Python's CSV writer leaves a lone CR in a cell unquoted,
    which every reader takes for a line break, so a frame with one quotes all its text."""
    text_columns = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    has_cr = any(
        frame[c].astype("str").str.contains("\r", regex=False).any() for c in text_columns
    ) or any("\r" in str(v) for v in [*frame.index, *frame.columns])
    quoting = csv.QUOTE_NONNUMERIC if has_cr else csv.QUOTE_MINIMAL
    frame.to_csv(path, lineterminator="\n", quoting=quoting, encoding="utf-8")


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename the finished staging folder to target, moving an old target aside first."""
    if not target.exists() and not target.is_symlink():
        os.replace(staging, target)
        return
    old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        os.replace(old, target)  # put the old folder back
        raise
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink(missing_ok=True)


# -- reading -------------------------------------------------------------------------------
def clinical_csv(folder: Path) -> Path:
    """The folder's clinical.csv, after checking the folder is usable (InputError if not)."""
    try:
        exists = folder.exists()
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long, ...
        raise InputError(
            f"{str(folder)[:200]!r}: not a usable path ({_short(exc)}); give the "
            "path of a cohort folder"
        ) from None
    if not exists:
        raise InputError(f"{folder}: no such folder; give the path of a cohort folder")
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder; give the folder that holds clinical.csv")
    clinical_path = folder / "clinical.csv"
    if not clinical_path.is_file():
        raise InputError(
            f"{folder}: no clinical.csv; every cohort needs clinical.csv with a patient_id "
            "column (and a label column to train or evaluate)"
        )
    return clinical_path


def read_cohort(path: str | os.PathLike[str], ids: Sequence[str] | None = None) -> Cohort:
    """Read and validate a cohort folder (see the module docstring).

    `ids`, when given, keeps only those patients, in that order (used to stream large cohorts
    in chunks); the other files are still checked against every clinical.csv id.
    Raises InputError with the file, the row or column, and the fix for any problem.
    """
    folder = Path(path)
    clinical_path = clinical_csv(folder)
    clinical, labels = parse_clinical(_read_bytes(clinical_path), str(clinical_path))
    known = set(clinical.index)
    if ids is not None:
        wanted = [str(i) for i in ids]
        missing = [i for i in wanted if i not in known]
        if missing:
            raise InputError(
                f"{clinical_path}: patient {missing[0]!r} is not in the file; ask only for "
                "patient ids that clinical.csv has"
            )
        if len(set(wanted)) != len(wanted):
            raise InputError(f"{folder}: a patient id is asked for twice; give each id once")
        clinical = clinical.loc[wanted]
        labels = None if labels is None else labels.loc[wanted]
    keep = set(clinical.index)

    notes: dict[str, str] = {}
    notes_path = folder / "notes.csv"
    if notes_path.is_file():
        notes = parse_notes(_read_bytes(notes_path), str(notes_path), known)
        notes = {i: t for i, t in notes.items() if i in keep}

    images: dict[str, np.ndarray] = {}
    images_dir = folder / "images"
    if images_dir.exists() and not images_dir.is_dir():
        raise InputError(
            f"{images_dir}: not a folder; images/ must be a folder of <patient_id>.png, .jpg, "
            ".jpeg or .dcm files"
        )
    if images_dir.is_dir():
        files = _image_files(images_dir, known)
        images = _decode_images({pid: f for pid, f in files.items() if pid in keep})

    rnaseq = None
    rna_path = folder / "rnaseq.csv"
    if rna_path.is_file():
        rnaseq = parse_rnaseq(_read_bytes(rna_path), str(rna_path), known)
        rnaseq = rnaseq.loc[rnaseq.index.isin(keep)]

    truth = None
    truth_path = folder / "truth.csv"
    if truth_path.is_file():
        truth = _parse_truth(_read_bytes(truth_path), str(truth_path))
        truth = truth.loc[truth.index.isin(keep)]
    meta: dict = {}
    meta_path = folder / "truth.json"
    if meta_path.is_file():
        try:
            meta = json.loads(_read_bytes(meta_path).decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            meta = None
        if not isinstance(meta, dict):
            raise InputError(
                f"{meta_path}: not a JSON object; delete it (only the simulator writes it) or "
                "simulate again"
            )
    return Cohort(clinical, labels, notes, images, rnaseq, truth, meta)


def read_index(path: str | os.PathLike[str]) -> Cohort:
    """The light part of a cohort folder: ids, labels and the simulator's truth table only.

    Read and validated as `read_cohort` reads them (clinical.csv, truth.csv), without the
    notes, images and RNA-seq, so a patient picker need not wait for every file. The cohort
    returned has no notes, images or RNA-seq.
    """
    folder = Path(path)
    clinical_path = clinical_csv(folder)
    clinical, labels = parse_clinical(_read_bytes(clinical_path), str(clinical_path))
    truth = None
    truth_path = folder / "truth.csv"
    if truth_path.is_file():
        truth = _parse_truth(_read_bytes(truth_path), str(truth_path))
        truth = truth.loc[truth.index.isin(set(clinical.index))]
    return Cohort(clinical, labels, truth=truth)


def parse_clinical(data: bytes, name: str) -> tuple[pd.DataFrame, pd.Series | None]:
    """clinical.csv bytes -> (features indexed by patient_id, labels or None).

    Feature columns are float64 when every non-missing cell is a number, else str (text
    categories); empty cells and NA-like cells are missing (NaN). Labels must be 0 or 1 in
    every row, or absent (no column, or an all-empty column) for a predict-only cohort.
    """
    frame = _read_table(data, name)
    ids = _check_ids(frame, name)
    _check_label_name(frame, name)
    labels = None
    if LABEL in frame.columns:
        labels = _parse_labels(frame[LABEL], ids, name)
    features = frame.drop(columns=[ID] + ([LABEL] if LABEL in frame.columns else []))
    index = pd.Index(ids, name=ID)
    columns = {}
    for col in features.columns:
        values = _feature_column(features[col], col, name)
        dtype = np.float64 if values.dtype == np.float64 else "str"
        columns[col] = pd.Series(values, index=index, dtype=dtype, name=col)
    clinical = pd.DataFrame(columns, index=index, columns=pd.Index(list(features.columns)))
    return clinical, labels


def parse_notes(data: bytes, name: str, known: set[str] | None) -> dict[str, str]:
    """notes.csv bytes -> {patient_id: text}, text verbatim; empty texts are dropped."""
    frame = _read_table(data, name)
    if TEXT not in frame.columns:
        hint = _near_name(frame.columns, TEXT, ("note", "notes", "text"))
        raise InputError(
            f"{name}: no 'text' column (columns are {_columns(frame)}); "
            + (f"rename column {hint!r} to 'text'" if hint else "notes.csv needs patient_id, text")
        )
    ids = _check_ids(frame, name)
    if known is not None:
        _check_known(ids, frame.index, known, name)
    return {pid: text for pid, text in zip(ids, frame[TEXT]) if text.strip()}


MAX_COUNT = 1e12  # no sequencing run gives a gene more reads; larger values are not counts


def parse_rnaseq(data: bytes, name: str, known: set[str] | None) -> pd.DataFrame:
    """rnaseq.csv bytes -> counts (float64; index patient_id, one column per gene), validated.

    Every cell must be a finite non-negative number: a patient without RNA-seq is left out of
    the file, not given empty cells.
    """
    text = _decode_text(data, name)
    fast = _fast_counts(data, text, known)
    if fast is not None:
        return fast
    frame = _parse_csv(text, name)
    ids = _check_ids(frame, name)
    if known is not None:
        _check_known(ids, frame.index, known, name)
    genes = frame.drop(columns=[ID])
    if genes.shape[1] == 0:
        raise InputError(f"{name}: no gene columns; add one column of counts per gene")
    stripped = genes.apply(lambda c: c.str.strip())
    values = stripped.apply(lambda c: pd.to_numeric(c, errors="coerce")).astype(np.float64)
    array = values.to_numpy()
    bad = np.isnan(array)
    if bad.any():
        row, col = (int(v[0]) for v in np.nonzero(bad))
        cell = stripped.iat[row, col]
        where = f"gene {genes.columns[col]!r}, row {frame.index[row]}"
        if cell == "":
            raise InputError(
                f"{name}: {where} is empty; every patient in rnaseq.csv needs a count for every "
                "gene (0 if none); leave patients without RNA-seq out of the file"
            )
        if cell.upper() in MISSING_TOKENS:
            raise InputError(
                f"{name}: {where} is {cell[:20]!r}, not a number; give a count for every gene, "
                "or leave the patient out of rnaseq.csv"
            )
        raise InputError(f"{name}: {where} has {cell[:20]!r}, not a number; counts must be numbers")
    infinite = ~np.isfinite(array)
    if infinite.any():
        row, col = (int(v[0]) for v in np.nonzero(infinite))
        raise InputError(
            f"{name}: gene {genes.columns[col]!r}, row {frame.index[row]} is infinite; counts "
            "must be finite numbers"
        )
    huge = array > MAX_COUNT
    if huge.any():
        row, col = (int(v[0]) for v in np.nonzero(huge))
        raise InputError(
            f"{name}: gene {genes.columns[col]!r}, row {frame.index[row]} is "
            f"{stripped.iat[row, col][:20]}, too large to be a read count (limit {MAX_COUNT:.0e}); "
            "give raw read counts"
        )
    negative = array < 0
    if negative.any():
        row, col = (int(v[0]) for v in np.nonzero(negative))
        raise InputError(
            f"{name}: gene {genes.columns[col]!r}, row {frame.index[row]} is negative "
            f"({stripped.iat[row, col][:20]}); counts must be raw non-negative read counts"
        )
    return pd.DataFrame(
        array,
        index=pd.Index(ids, name=ID),
        columns=pd.Index(list(genes.columns)),
    )


def is_valid_id(pid: str) -> bool:
    """Whether a patient id can be used as a file name in a cohort folder."""
    return (
        bool(pid)
        and pid == pid.strip()
        and len(pid) <= MAX_ID_LENGTH
        and pid not in (".", "..")
        and not _BAD_ID_CHARS.search(pid)
    )


# -- reading helpers -----------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"{path}: cannot be read ({exc.strerror or exc}); check that it is a readable file"
        ) from None


def _decode_text(data: bytes, name: str) -> str:
    """UTF-8 text (a byte order mark is dropped), or an InputError saying what the file is."""
    if data[:4] == b"PK\x03\x04":
        raise InputError(
            f"{name}: this is a ZIP or Excel (.xlsx) file, not CSV; save it as CSV (UTF-8)"
        )
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise InputError(f"{name}: this is an old Excel (.xls) file, not CSV; save it as CSV")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError(
            f"{name}: the text is UTF-16 (or UTF-32), not UTF-8; save it again as CSV (UTF-8)"
        )
    if b"\x00" in data:
        raise InputError(
            f"{name}: binary data (NUL bytes), not CSV text; save the file as CSV (UTF-8)"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save the "
            "file again as CSV UTF-8"
        ) from None


def _read_table(data: bytes, name: str) -> pd.DataFrame:
    """CSV bytes -> a frame of stripped-name columns and str cells ('' when empty)."""
    return _parse_csv(_decode_text(data, name), name)


_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


def _parse_csv(text: str, name: str) -> pd.DataFrame:
    """Parse CSV text strictly: the first non-blank row is the header, every row fits it.

    The frame's index holds spreadsheet row numbers (header = 1); blank rows are dropped, and
    unnamed columns that are empty throughout (trailing commas) are dropped.
    """
    skipped, start = 0, 0  # leading blank rows (pandas cannot size a table from them)
    while (end := text.find("\n", start)) >= 0 and not text[start:end].strip(" \t\r,"):
        skipped, start = skipped + 1, end + 1
    text = text[start:]
    if not text.strip():
        raise InputError(
            f"{name}: the file is empty; it needs a header row and one row per patient"
        )
    try:
        raw = pd.read_csv(
            io.StringIO(text),
            header=None,
            dtype=str,
            na_filter=False,
            keep_default_na=False,
            skip_blank_lines=False,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise _parser_error(str(exc), name, skipped) from None
    except Exception as exc:  # pandas raises several kinds for malformed text
        raise InputError(f"{name}: not valid CSV ({_short(exc)}); save it again as CSV") from None
    raw = raw.fillna("")  # short rows: the missing cells are empty
    raw.index = pd.RangeIndex(1 + skipped, len(raw) + 1 + skipped)  # spreadsheet row numbers
    raw.columns = pd.RangeIndex(raw.shape[1])
    stripped = raw.apply(lambda c: c.str.strip()) if raw.shape[1] else raw
    blank = (stripped == "").all(axis=1).to_numpy()
    if blank.all():
        raise InputError(
            f"{name}: the file is empty; it needs a header row and one row per patient"
        )
    header_at = int(np.flatnonzero(~blank)[0])
    header = [str(h) for h in stripped.iloc[header_at]]
    body = raw.iloc[header_at + 1 :][~blank[header_at + 1 :]]
    keep = []
    for position, column in enumerate(header):
        if column:
            keep.append(position)
        elif (stripped.iloc[header_at + 1 :, position] != "").any():
            raise InputError(
                f"{name}: column {position + 1} has no name in the header but holds values; "
                "name every column"
            )
    names = [header[p] for p in keep]
    seen: set[str] = set()
    for column in names:
        if column in seen:
            raise InputError(
                f"{name}: column {column!r} appears twice; keep one column of that name"
            )
        seen.add(column)
    body = body.iloc[:, keep]
    body.columns = pd.Index(names)
    if len(body) == 0:
        raise InputError(f"{name}: the file has a header but no rows; add one row per patient")
    return body


def _parser_error(message: str, name: str, skipped: int) -> InputError:
    """pandas' tokenizer error as one message, its row counted as in a spreadsheet."""
    fields = _FIELDS.search(message)
    if fields:
        expected, line, saw = fields.groups()
        row = int(line) + skipped
        return InputError(
            f"{name}: row {row} has {saw} cells but the header has {expected} columns; give "
            "every row one cell per column (quote cells that contain commas)"
        )
    quote = _OPEN_QUOTE.search(message)
    if quote:
        row = int(quote.group(1)) + 1 + skipped
        return InputError(
            f'{name}: a quote (") opened in row {row} is never closed; close the quote or remove it'
        )
    return InputError(f"{name}: not valid CSV ({_short(message)}); save it again as CSV")


def _columns(frame: pd.DataFrame) -> str:
    names = [str(c) for c in frame.columns]
    return repr(names[:6])[:-1] + (", ...]" if len(names) > 6 else "]")


def _near_name(columns: Iterable[object], want: str, also: Sequence[str] = ()) -> str | None:
    """A column that is probably `want` spelled differently ('Patient ID', 'Label')."""

    def norm(text: str) -> str:
        return re.sub(r"[^a-z0-9]", "", text.lower())

    targets = {norm(want), *(norm(a) for a in also)}
    for column in columns:
        if str(column) != want and norm(str(column)) in targets:
            return str(column)
    return None


def _check_id_text(pid: str, name: str, where: str = "") -> None:
    if not is_valid_id(pid):
        raise InputError(
            f"{name}: {where}patient_id {pid[:40]!r} cannot be used as a file name; use "
            f"letters, digits, '-', '_' or '.' (at most {MAX_ID_LENGTH} characters)"
        )


def _check_ids(frame: pd.DataFrame, name: str) -> list[str]:
    """The stripped patient ids of a parsed table, checked: present, usable, unique."""
    if ID not in frame.columns:
        if len(frame.columns) == 1 and re.search(r"[;\t|]", str(frame.columns[0])):
            sep = {";": "semicolon", "\t": "tab", "|": "pipe"}[
                re.search(r"[;\t|]", str(frame.columns[0])).group()
            ]
            raise InputError(
                f"{name}: the columns are separated by {sep}s, not commas; save the file as "
                "comma-separated CSV"
            )
        hint = _near_name(frame.columns, ID, ("id", "patient", "patientid", "subjectid"))
        fix = (
            f"rename column {hint!r} to {ID!r}"
            if hint
            else f"add a {ID!r} column (or rename the identifier column to {ID!r})"
        )
        raise InputError(f"{name}: no {ID!r} column (columns are {_columns(frame)}); {fix}")
    ids = frame[ID].str.strip()
    empty = (ids == "").to_numpy()
    if empty.any():
        row = frame.index[int(np.flatnonzero(empty)[0])]
        raise InputError(f"{name}: row {row} has an empty patient_id; fill it in")
    valid = ids.map(is_valid_id).to_numpy(dtype=bool)
    if not valid.all():
        at = int(np.flatnonzero(~valid)[0])
        _check_id_text(ids.iloc[at], name, f"row {frame.index[at]}: ")
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        first = ids.iloc[int(np.flatnonzero(dup)[0])]
        rows = [str(r) for r, pid in zip(frame.index, ids) if pid == first]
        raise InputError(
            f"{name}: patient_id {first!r} appears more than once (rows {', '.join(rows[:3])}); "
            "give every patient one row"
        )
    return ids.tolist()


def _check_known(ids: Sequence[str], rows: Sequence[int], known: set[str], name: str) -> None:
    for pid, row in zip(ids, rows):
        if pid not in known:
            raise InputError(
                f"{name}: row {row}: patient_id {pid!r} is not in clinical.csv; add a "
                "clinical.csv row for it or remove it here"
            )


def _check_label_name(frame: pd.DataFrame, name: str) -> None:
    if LABEL in frame.columns:
        return
    hint = _near_name(frame.columns, LABEL)
    if hint:
        raise InputError(
            f"{name}: column {hint!r} looks like the label; rename it to {LABEL!r} (lower "
            "case), or give it another name if it is a feature"
        )


def _check_feature_names(features: Sequence[str], name: str) -> None:
    seen: set[str] = set()
    for feature in features:
        if feature in (ID, LABEL) or not feature.strip() or feature != feature.strip():
            raise InputError(
                f"{name}: feature {feature!r} cannot be a column of clinical.csv; rename it "
                f"(not {ID!r} or {LABEL!r}, not empty, no surrounding spaces)"
            )
        if feature in seen:
            raise InputError(f"{name}: feature {feature!r} appears twice; keep one")
        seen.add(feature)


def _parse_labels(cells: pd.Series, ids: list[str], name: str) -> pd.Series | None:
    raw = cells.str.strip()
    empty = (raw == "").to_numpy()
    if empty.all():
        return None  # an empty label column: predict only
    if empty.any():
        row = cells.index[int(np.flatnonzero(empty)[0])]
        raise InputError(
            f"{name}: row {row} has no label; give every patient 0 or 1, or remove the label "
            "column to predict only"
        )
    numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    ok = (numbers == 0) | (numbers == 1)
    if not ok.all():
        at = int(np.flatnonzero(~ok)[0])
        raise InputError(
            f"{name}: row {cells.index[at]} has label {raw.iloc[at][:20]!r}; labels must be "
            "0 or 1 (1 = the outcome happened)"
        )
    return pd.Series(numbers.astype(np.int64), index=pd.Index(ids, name=ID), name=LABEL)


def _feature_column(cells: pd.Series, col: str, name: str) -> np.ndarray:
    """float64 when every non-missing cell is a number, else object text (NaN = missing)."""
    stripped = cells.str.strip()
    empty = (stripped.eq("") | stripped.str.upper().isin(MISSING_TOKENS)).to_numpy()
    numbers = pd.to_numeric(stripped.where(~empty), errors="coerce").to_numpy(dtype=np.float64)
    if (~np.isnan(numbers) | empty).all():
        infinite = np.isinf(numbers)
        if infinite.any():
            row = cells.index[int(np.flatnonzero(infinite)[0])]
            raise InputError(
                f"{name}: column {col!r}, row {row} is infinite; give a finite number or leave "
                "the cell empty for a missing value"
            )
        return numbers
    values = np.array(stripped.tolist(), dtype=object)
    values[empty] = np.nan
    return values


def _plain_column(values: Sequence[object], ids: list[str], col: str) -> pd.Series:
    """Record values as the reader would make them from clinical.csv: float64 if every
    non-missing value is a number (or a numeric string), else str; NaN = missing."""
    cells = []
    for value in values:
        if value is None or (np.ndim(value) == 0 and bool(pd.isna(value))):
            cells.append("")
        elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)
        ):
            cells.append(repr(float(value)))
        else:
            cells.append(str(value))
    index = pd.Index(ids, name=ID)
    parsed = _feature_column(pd.Series(cells, index=index, dtype="str"), col, "the patients")
    dtype = np.float64 if parsed.dtype == np.float64 else "str"
    return pd.Series(parsed, index=index, dtype=dtype, name=col)


def _lines(text: str) -> Iterator[str]:
    """The text's lines, lazily (csv.reader asks for more when a quoted cell spans lines)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _fast_counts(data: bytes, text: str, known: set[str] | None) -> pd.DataFrame | None:
    """Parse a well-formed rnaseq.csv at C speed; None sends anything unusual to the slow,
    exact path, which finds the problem and names its row and column."""
    try:
        header = next(csv.reader(_lines(text)))
    except (csv.Error, StopIteration):
        return None
    names = [h.strip() for h in header]
    if names.count(ID) != 1 or len(set(names)) != len(names) or "" in names or len(names) < 2:
        return None
    id_column = header[names.index(ID)]
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            dtype={id_column: str},
            na_filter=False,
            encoding="utf-8-sig",
            engine="c",
        )
    except Exception:  # the slow path reports it
        return None
    if not isinstance(frame.index, pd.RangeIndex) or [str(c) for c in frame.columns] != header:
        return None
    genes = frame.drop(columns=[id_column])
    for dtype in genes.dtypes:
        if not (pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype)):
            return None
    array = genes.to_numpy(dtype=np.float64)
    if not np.isfinite(array).all() or (array < 0).any() or (array > MAX_COUNT).any():
        return None
    ids = frame[id_column].str.strip()
    if (ids == "").any() or ids.duplicated().any() or not ids.map(is_valid_id).all():
        return None
    if known is not None and not ids.isin(known).all():
        return None
    return pd.DataFrame(
        array,
        index=pd.Index(ids.tolist(), name=ID),
        columns=pd.Index(names[: names.index(ID)] + names[names.index(ID) + 1 :]),
    )


def _parse_truth(data: bytes, name: str) -> pd.DataFrame:
    frame = _read_table(data, name)
    ids = _check_ids(frame, name)
    truth = frame.drop(columns=[ID])
    truth.index = pd.Index(ids, name=ID)
    return truth.apply(_numeric_if_possible)


def _numeric_if_possible(column: pd.Series) -> pd.Series:
    cells = column.str.strip()
    numbers = pd.to_numeric(cells, errors="coerce")
    if numbers.notna().sum() == (cells != "").sum():
        return numbers  # int64 where every cell is an integer, as the simulator writes them
    return column


def _image_files(folder: Path, known: set[str]) -> dict[str, Path]:
    """<patient_id> -> image file, checked: supported extension, known patient, one each."""
    files: dict[str, Path] = {}
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise InputError(
            f"{folder}: cannot be listed ({exc.strerror or exc}); check its permissions"
        ) from None
    for file in entries:
        if file.name.startswith(".") or file.name.lower() in _JUNK_FILES or file.is_dir():
            continue
        ext = file.suffix.lower()
        if ext not in IMAGE_EXTENSIONS:
            raise InputError(
                f"{file}: unsupported extension {file.suffix!r}; name images <patient_id> "
                f"plus one of {', '.join(IMAGE_EXTENSIONS)}"
            )
        pid = file.name[: -len(file.suffix)]
        if pid not in known:
            raise InputError(
                f"{file}: patient_id {pid!r} is not in clinical.csv; name the image after a "
                "patient_id or add the patient"
            )
        if pid in files:
            raise InputError(
                f"{file}: patient {pid!r} has two images ({files[pid].name} too); keep one"
            )
        files[pid] = file
    return files


def _decode_images(files: dict[str, Path]) -> dict[str, np.ndarray]:
    """Decode image files, on a few threads when there are many (Pillow and zlib release the
    GIL). The error reported is the first failing file in `files` order, as when serial."""

    def load(file: Path) -> np.ndarray:
        return decode_image(_read_bytes(file), str(file))

    if len(files) < 64:
        return {pid: load(file) for pid, file in files.items()}
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        try:
            arrays = list(pool.map(load, files.values()))
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
    return dict(zip(files, arrays))


def _short(exc: BaseException | str) -> str:
    text = str(exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    return text if len(text) <= 100 else text[:97] + "..."


__all__ = [
    "Cohort",
    "Patient",
    "is_valid_id",
    "parse_clinical",
    "parse_notes",
    "parse_rnaseq",
    "read_cohort",
]
