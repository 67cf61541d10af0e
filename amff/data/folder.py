"""The cohort folder of DESIGN.md: the one reader (whole, by ids, or a chunk at a time) and
the one writer.

    clinical.csv   patient_id, [label], then any feature columns (numeric or text)
    notes.csv      patient_id, text                  (optional)
    images/        <patient_id>.png|.jpg|.jpeg|.dcm  (optional)
    rnaseq.csv     patient_id, then one column per gene: raw counts (optional)
    truth.csv      written by the simulator only (truth.json: its settings)

clinical.csv lists the patients; every other registered modality opens its own files through
its spec (`ModalitySpec.open`), which checks them against every clinical.csv id, and loads the
patients asked for. `read_cohort`, `CohortChunks` (training, the predictor's chunked scoring)
and `read_index` (the dashboard's patient picker) all go through `FolderReader`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amff.data.cohort import Cohort
from amff.data.tables import (
    ID,
    LABEL,
    check_feature_names,
    check_id_text,
    check_ids,
    numeric_if_possible,
    read_bytes,
    read_table,
    short_error,
    write_csv,
)
from amff.errors import InputError
from amff.modalities import MODALITIES, Modality
from amff.modalities.tabular import parse_clinical

STREAM_CHUNK = 2048  # patients per chunk when a folder is read a chunk at a time
ENCODE_CHUNK = 256  # chunks are a multiple of this (the predictor encodes in such blocks)


# -- reading -------------------------------------------------------------------------------
def clinical_csv(folder: Path) -> Path:
    """The folder's clinical.csv, after checking the folder is usable (InputError if not)."""
    try:
        exists = folder.exists()
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long, ...
        raise InputError(
            f"{str(folder)[:200]!r}: not a usable path ({short_error(exc)}); give the "
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


class FolderReader:
    """A cohort folder, checked on opening; `read(ids)` loads any patients as a Cohort.

    Opening parses clinical.csv, truth.csv and truth.json and lets every other modality check
    its files (stream=True indexes a large file instead of reading it whole).
    """

    def __init__(self, path: str | os.PathLike[str], stream: bool = False) -> None:
        self.folder = folder = Path(path)
        clinical_path = clinical_csv(folder)
        self.clinical, self.labels = parse_clinical(read_bytes(clinical_path), str(clinical_path))
        self.clinical_path = clinical_path
        known = set(self.clinical.index)
        self.sources = {}
        for m in MODALITIES:
            if m is not Modality.TABULAR:
                self.sources[m.value] = m.spec.open(folder, known, stream=stream)
        self.truth = read_truth(folder)
        self.meta = read_meta(folder)

    @property
    def ids(self) -> list[str]:
        return [str(i) for i in self.clinical.index]

    def read(self, ids: Sequence[str] | None = None) -> Cohort:
        """The patients `ids` (default: all), in that order."""
        clinical, labels = self.clinical, self.labels
        if ids is not None:
            wanted = self._check_wanted(ids)
            clinical = clinical.loc[wanted]
            labels = None if labels is None else labels.loc[wanted]
        keep = set(clinical.index)
        truth = None if self.truth is None else self.truth.loc[self.truth.index.isin(keep)]
        cohort = Cohort(clinical, labels, truth=truth, meta=self.meta)
        for name, source in self.sources.items():
            if source is not None:
                spec = Modality(name).spec
                cohort = replace(cohort, **spec.with_data(cohort, source.load(keep)))
        return cohort

    def _check_wanted(self, ids: Sequence[str]) -> list[str]:
        wanted = [str(i) for i in ids]
        missing = [i for i in wanted if i not in self.clinical.index]
        if missing:
            raise InputError(
                f"{self.clinical_path}: patient {missing[0]!r} is not in the file; ask only for "
                "patient ids that clinical.csv has"
            )
        if len(set(wanted)) != len(wanted):
            raise InputError(f"{self.folder}: a patient id is asked for twice; give each id once")
        return wanted


def read_cohort(path: str | os.PathLike[str], ids: Sequence[str] | None = None) -> Cohort:
    """Read and validate a cohort folder (see the module docstring).

    `ids`, when given, keeps only those patients, in that order; the other files are still
    checked against every clinical.csv id.
    Raises InputError with the file, the row or column, and the fix for any problem.
    """
    return FolderReader(path).read(ids)


class CohortChunks:
    """A cohort folder read a chunk of patients at a time, so memory stays flat in its size.

    The same reader as `read_cohort`, opened with stream=True: rnaseq.csv, the big file, is
    checked in one streaming pass that keeps where each row starts, and images are decoded
    only for the chunk asked for. `chunk(k)` equals `read_cohort(path, ids=chunk_ids(k))`.
    chunk_size is rounded up to a multiple of 256 (ENCODE_CHUNK), so each patient is encoded
    in the same block of patients whatever the chunk size (predictions do not depend on it).
    """

    def __init__(self, path: str | os.PathLike[str], chunk_size: int = STREAM_CHUNK) -> None:
        if chunk_size < 1:
            raise InputError(f"chunk size {chunk_size}: give at least 1 patient per chunk")
        self.chunk_size = -(-chunk_size // ENCODE_CHUNK) * ENCODE_CHUNK
        self.reader = FolderReader(path, stream=True)
        self.folder = self.reader.folder

    @property
    def ids(self) -> list[str]:
        return self.reader.ids

    @property
    def labels(self) -> pd.Series | None:
        return self.reader.labels

    @property
    def truth(self) -> pd.DataFrame | None:
        return self.reader.truth

    @property
    def rna(self) -> Any:
        """The streamed rnaseq.csv (None when the folder has none)."""
        return self.reader.sources.get("rna")

    def __len__(self) -> int:
        """The number of chunks."""
        return -(-len(self.reader.clinical) // self.chunk_size)

    def chunk_ids(self, k: int) -> list[str]:
        return self.ids[k * self.chunk_size : (k + 1) * self.chunk_size]

    def chunk(self, k: int) -> Cohort:
        """The k-th chunk of patients (clinical.csv order) as a Cohort."""
        return self.reader.read(self.chunk_ids(k))

    def __iter__(self) -> Iterator[Cohort]:
        for k in range(len(self)):
            yield self.chunk(k)


def read_index(path: str | os.PathLike[str]) -> Cohort:
    """The patients of a folder without their modality data: ids, labels and truth only
    (validated as `read_cohort` does), for a picker that must not wait for every image."""
    folder = Path(path)
    clinical_path = clinical_csv(folder)
    clinical, labels = parse_clinical(read_bytes(clinical_path), str(clinical_path))
    truth = read_truth(folder)
    if truth is not None:
        truth = truth.loc[truth.index.isin(set(clinical.index))]
    return Cohort(clinical, labels, truth=truth, meta=read_meta(folder))


def read_truth(folder: Path) -> pd.DataFrame | None:
    """truth.csv (the simulator's oracle table), or None."""
    path = folder / "truth.csv"
    if not path.is_file():
        return None
    return parse_truth(read_bytes(path), str(path))


def read_meta(folder: Path) -> dict:
    """truth.json (the simulator's settings), or {}."""
    path = folder / "truth.json"
    if not path.is_file():
        return {}
    try:
        meta = json.loads(read_bytes(path).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        meta = None
    if not isinstance(meta, dict):
        raise InputError(
            f"{path}: not a JSON object; delete it (only the simulator writes it) or simulate again"
        )
    return meta


def parse_truth(data: bytes, name: str) -> pd.DataFrame:
    frame = read_table(data, name)
    ids = check_ids(frame, name)
    truth = frame.drop(columns=[ID])
    truth.index = pd.Index(ids, name=ID)
    return truth.apply(numeric_if_possible)


# -- writing -------------------------------------------------------------------------------
def write_cohort(cohort: Cohort, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write the cohort folder atomically: all files appear together, or none do.

    An existing non-empty folder is replaced only with overwrite=True; if writing fails,
    the old folder is left as it was and no temporary folder is left behind.
    """
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not overwrite:
        raise InputError(
            f"{target}: already exists and is not empty; choose a new folder or overwrite it"
        )
    _check_writable(cohort, str(target))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as exc:
        raise InputError(
            f"{target}: cannot write here ({exc.strerror or exc}); choose a writable folder"
        ) from None
    try:
        _write_files(cohort, staging)
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


def _write_files(cohort: Cohort, folder: Path) -> None:
    clinical = cohort.clinical.copy()
    if cohort.labels is not None:
        clinical.insert(0, LABEL, cohort.labels.reindex(clinical.index).astype(np.int64))
    write_csv(clinical.rename_axis(ID), folder / "clinical.csv")
    for m in MODALITIES:
        if m is not Modality.TABULAR:
            m.spec.write(m.spec.data(cohort), folder)
    if cohort.truth is not None:
        write_csv(cohort.truth.rename_axis(ID), folder / "truth.csv")
    if cohort.meta:
        text = json.dumps(cohort.meta, indent=1, sort_keys=True)
        (folder / "truth.json").write_text(text + "\n", encoding="utf-8")


def _check_writable(cohort: Cohort, name: str) -> None:
    """What the folder format cannot hold is refused before anything is written."""
    check_feature_names(cohort.features, name)
    ids = cohort.ids
    for pid in ids:
        check_id_text(pid, name)
    if len(set(ids)) != len(ids):
        raise InputError(f"{name}: the cohort has duplicate patient ids; make them unique")
    known = set(ids)
    for what, keys in (("notes", cohort.notes), ("images", cohort.images)):
        unknown = [k for k in keys if k not in known]
        if unknown:
            raise InputError(
                f"{name}: {what} for patient {unknown[0]!r}, who has no clinical row; "
                "add the patient or drop the entry"
            )
    for pid, image in cohort.images.items():
        shape = np.shape(image)
        if len(shape) != 2 or 0 in shape:
            raise InputError(
                f"{name}: the image of patient {pid!r} has shape {shape}; images must be "
                "(H, W) grayscale arrays in [0, 1]"
            )
    if cohort.rnaseq is not None:
        unknown = [k for k in cohort.rnaseq.index if str(k) not in known]
        if unknown:
            raise InputError(
                f"{name}: RNA-seq for patient {unknown[0]!r}, who has no clinical row; "
                "add the patient or drop the row"
            )
    if (
        cohort.labels is not None
        and not cohort.labels.reindex(cohort.clinical.index).isin([0, 1]).all()
    ):
        raise InputError(
            f"{name}: every patient needs a label of 0 or 1; fix the labels before writing"
        )


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
