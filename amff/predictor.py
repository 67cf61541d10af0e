"""`amff.load(path)`: a checkpoint ready to predict any patient or cohort, any modality subset.

The level-1 output (one vector per modality per patient) is kept, so switching modalities on
and off re-runs only level 2 (fusion, weights, head): a toggle costs a fraction of a forward.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import json
import logging
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from amff.checkpoint import load_checkpoint
from amff.data.cohort import Cohort, Patient
from amff.data.dataset import Batch
from amff.errors import InputError
from amff.modalities import MODALITIES, NAMES, Modality, subset_name

log = logging.getLogger(__name__)

ENCODE_CHUNK = 256
Modalities = Iterable[Modality | str] | None


@dataclass
class Encoded:
    """Level-1 output of a cohort: what a modality toggle starts from. Treat as opaque."""

    ids: list[str]
    h: Tensor  # (N, 4, D)
    available: Tensor  # (N, 4) bool: which modalities each patient has
    labels: np.ndarray | None

    def __len__(self) -> int:
        return len(self.ids)

    def available_matrix(self) -> np.ndarray:
        return self.available.numpy().copy()


def as_modalities(modalities: Modalities) -> tuple[Modality, ...]:
    """Modalities from names or members; all four for None. InputError for unknown names."""
    if modalities is None:
        return MODALITIES
    chosen = set()
    for m in modalities:
        try:
            chosen.add(Modality(m))
        except ValueError:
            raise InputError(f"unknown modality {m!r}; use some of {', '.join(NAMES)}") from None
    return tuple(m for m in MODALITIES if m in chosen)


class Predictor:
    """A loaded checkpoint: model (eval mode, never modified), preprocessors, threshold."""

    def __init__(
        self,
        model: torch.nn.Module,
        preprocessor: Any,
        config: dict[str, Any],
        history: list[Any] | None = None,
        metrics: dict[str, Any] | None = None,
        path: Path | None = None,
    ) -> None:
        self.model = model.eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.preprocessor = preprocessor
        self.config = config
        self.history = history or []
        self.metrics = metrics or {}
        self.path = path
        self._cache: OrderedDict[int, tuple[weakref.ref, Encoded]] = OrderedDict()
        self._lock = threading.Lock()

    # -- what the model is -------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return str(self.config["kind"])

    @property
    def threshold(self) -> float:
        return float(self.config["threshold"])

    @property
    def features(self) -> list[str]:
        return self.preprocessor.tabular.features

    @property
    def genes(self) -> list[str]:
        return self.preprocessor.rna.genes

    @property
    def image_size(self) -> int:
        return int(self.preprocessor.image.size)

    # -- data in -----------------------------------------------------------------------------
    def as_cohort(self, data: Cohort | Patient) -> Cohort:
        """A cohort for a single patient (or the cohort itself), checked against the schema."""
        if isinstance(data, Patient):
            genes = self.preprocessor.rna.library_genes or self.genes
            data = Cohort.from_patients([data], features=self.features, genes=genes)
        self.preprocessor.check(data)
        return data

    def batch(self, data: Cohort | Patient) -> Batch:
        return self.preprocessor.transform(self.as_cohort(data))

    @torch.inference_mode()
    def encode(self, data: Cohort | Patient) -> Encoded:
        """Level 1 for every patient (cached per cohort object while it lives)."""
        key = id(data)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0]() is data:
                self._cache.move_to_end(key)
                return hit[1]
        cohort = self.as_cohort(data)
        batch = self.preprocessor.transform(cohort)
        parts = []
        for start in range(0, len(batch), ENCODE_CHUNK):
            part = batch.index(slice(start, start + ENCODE_CHUNK)).trim_text()
            parts.append(self.model.encode(part))
        h = torch.cat(parts) if parts else torch.zeros(0, len(MODALITIES), self.model.config.dim)
        labels = None if cohort.labels is None else cohort.labels.loc[cohort.ids].to_numpy()
        encoded = Encoded(cohort.ids, h, batch.present.clone(), labels)
        if not isinstance(data, Patient):
            with self._lock:
                self._cache[key] = (weakref.ref(data), encoded)
                while len(self._cache) > 8:
                    self._cache.popitem(last=False)
        return encoded

    # -- predictions -------------------------------------------------------------------------
    @torch.inference_mode()
    def predict_arrays(
        self, encoded: Encoded, modalities: Modalities = None
    ) -> dict[str, np.ndarray]:
        """probability (N,), logit (N,), weights (N, 4) (NaN for early fusion), used (N, 4)."""
        chosen = as_modalities(modalities)
        selected = torch.tensor([m in chosen for m in MODALITIES], dtype=torch.bool)
        used = encoded.available & selected  # (N, 4)
        out = self.model.forward_encoded(encoded.h, used)
        logit = out.logit.numpy().astype(np.float64)
        nothing = ~used.any(dim=1).numpy()
        logit[nothing] = np.nan
        prob = 1.0 / (1.0 + np.exp(-logit))
        if out.modality_weights is None:
            weights = np.full((len(encoded), len(MODALITIES)), np.nan)
        else:
            weights = out.modality_weights.numpy().astype(np.float64)
            weights[nothing] = np.nan
        return {"probability": prob, "logit": logit, "weights": weights, "used": used.numpy()}

    def predict_encoded(self, encoded: Encoded, modalities: Modalities = None) -> pd.DataFrame:
        arrays = self.predict_arrays(encoded, modalities)
        prob = arrays["probability"]
        label = np.where(np.isnan(prob), pd.NA, (prob >= self.threshold).astype(int))
        frame = pd.DataFrame(
            {
                "patient_id": encoded.ids,
                "probability": prob,
                "label": pd.array(label, dtype="Int64"),
            }
        )
        for j, m in enumerate(MODALITIES):
            frame[f"weight_{m.value}"] = arrays["weights"][:, j]
        frame["modalities"] = [
            subset_name([m for j, m in enumerate(MODALITIES) if row[j]]) for row in arrays["used"]
        ]
        return frame

    def predict(self, data: Cohort | Patient, modalities: Modalities = None) -> pd.DataFrame:
        """One row per patient: patient_id, probability, label (at the stored threshold),
        weight_tabular, weight_text, weight_image, weight_rna, modalities (those used)."""
        return self.predict_encoded(self.encode(data), modalities)

    def predict_one(self, patient: Patient, modalities: Modalities = None) -> dict[str, Any]:
        """A dict for one patient: probability, label, weights {modality: weight}, modalities."""
        row = self.predict(patient, modalities).iloc[0]
        return {
            "patient_id": patient.patient_id,
            "probability": float(row["probability"]),
            "label": None if pd.isna(row["label"]) else int(row["label"]),
            "threshold": self.threshold,
            "weights": {m.value: float(row[f"weight_{m.value}"]) for m in MODALITIES},
            "modalities": [m for m in str(row["modalities"]).split("+") if m],
        }

    # -- the schema, as the dashboard asks for it (the app reads no preprocessor) ----------
    @property
    def library_genes(self) -> list[str]:
        """Every gene an RNA-seq input must have: the model reads `genes`, but normalises by
        the library of all the training genes."""
        return list(self.preprocessor.rna.library_genes or self.genes)

    def record_schema(self) -> dict[str, dict[str, Any]]:
        """Each record feature, in model order: kind ('numeric' or 'categorical'), categories
        (text features; [] for numbers) and the usual range low, high (the 1st and 99th
        percentiles of the training patients; None for text features)."""
        tab = self.preprocessor.tabular
        schema: dict[str, dict[str, Any]] = {}
        for feature, low, high in zip(tab.numeric, tab.low, tab.high):
            schema[feature] = {"kind": "numeric", "categories": [], "low": low, "high": high}
        for feature, categories in tab.categorical.items():
            schema[feature] = {
                "kind": "categorical",
                "categories": list(categories),
                "low": None,
                "high": None,
            }
        return schema

    def out_of_range(self, record: pd.Series) -> dict[str, str]:
        """For each numeric value of a record: 'low' or 'high' outside the usual range (see
        `record_schema`), '' inside it; missing values are left out."""
        return self.preprocessor.tabular.out_of_range(record)


def load(path: str | os.PathLike[str]) -> Predictor:
    """Load a checkpoint folder (safetensors + JSON only) as a Predictor."""
    model, preprocessor, config, history, metrics = load_checkpoint(path)
    return Predictor(model, preprocessor, config, history, metrics, Path(path))


# -- large cohorts, a chunk at a time -----------------------------------------------------------
STREAM_CHUNK = 2048  # patients per chunk; a multiple of ENCODE_CHUNK
RNA_BLOCK_ROWS = 1024  # rnaseq.csv rows parsed at once while checking the file


class CohortChunks:
    """A cohort folder read a chunk of patients at a time, so memory stays flat in its size.

    Reading checks the folder as `read_cohort` does, in the same order and with its parsers:
    clinical.csv, notes.csv, truth.csv and the image file names are read whole (they are small
    next to the rest); rnaseq.csv, the big one, is checked in one streaming pass that keeps only
    where each patient's row starts, and `chunk(k)` reads just its patients' rows and images.
    Any rnaseq.csv the streaming pass cannot take (a bad or unusual file) goes whole to
    read_cohort's own parser, which raises its message (or reads an odd but valid file whole).
    An unreadable image is reported when its chunk is read.

    `chunk(k)` equals `read_cohort(path, ids=chunk_ids(k))`. chunk_size is rounded up to a
    multiple of 256 (ENCODE_CHUNK), so each patient is encoded in the same block of patients
    whatever the chunk size, and the predictions do not depend on it (bit for bit).
    """

    def __init__(self, path: str | os.PathLike[str], chunk_size: int = STREAM_CHUNK) -> None:
        from amff.data.cohort import (
            _image_files,
            _parse_truth,
            _read_bytes,
            clinical_csv,
            parse_clinical,
            parse_notes,
        )

        if chunk_size < 1:
            raise InputError(f"chunk size {chunk_size}: give at least 1 patient per chunk")
        self.chunk_size = -(-chunk_size // ENCODE_CHUNK) * ENCODE_CHUNK
        folder = Path(path)
        self.folder = folder
        clinical_path = clinical_csv(folder)
        self.clinical, self.labels = parse_clinical(_read_bytes(clinical_path), str(clinical_path))
        known = set(self.clinical.index)
        self.notes: dict[str, str] = {}
        notes_path = folder / "notes.csv"
        if notes_path.is_file():
            self.notes = parse_notes(_read_bytes(notes_path), str(notes_path), known)
        self.image_files: dict[str, Path] = {}
        images_dir = folder / "images"
        if images_dir.exists() and not images_dir.is_dir():
            raise InputError(
                f"{images_dir}: not a folder; images/ must be a folder of <patient_id>.png, "
                ".jpg, .jpeg or .dcm files"
            )
        if images_dir.is_dir():
            self.image_files = _image_files(images_dir, known)
        rna_path = folder / "rnaseq.csv"
        self.rna = _RnaRows(rna_path, known) if rna_path.is_file() else None
        self.truth: pd.DataFrame | None = None
        truth_path = folder / "truth.csv"
        if truth_path.is_file():
            self.truth = _parse_truth(_read_bytes(truth_path), str(truth_path))
        self.meta: dict = {}
        meta_path = folder / "truth.json"
        if meta_path.is_file():
            try:
                meta = json.loads(_read_bytes(meta_path).decode("utf-8"))
            except (ValueError, UnicodeDecodeError, RecursionError):
                meta = None
            if not isinstance(meta, dict):
                raise InputError(
                    f"{meta_path}: not a JSON object; delete it (only the simulator writes it) "
                    "or simulate again"
                )
            self.meta = meta

    @property
    def ids(self) -> list[str]:
        return [str(i) for i in self.clinical.index]

    def __len__(self) -> int:
        """The number of chunks."""
        return -(-len(self.clinical) // self.chunk_size)

    def chunk_ids(self, k: int) -> list[str]:
        return self.ids[k * self.chunk_size : (k + 1) * self.chunk_size]

    def chunk(self, k: int) -> Cohort:
        """The k-th chunk of patients (clinical.csv order) as a Cohort."""
        from amff.data.cohort import _read_bytes
        from amff.data.images import decode_image

        ids = self.chunk_ids(k)
        keep = set(ids)
        images = {
            pid: decode_image(_read_bytes(file), str(file))
            for pid, file in self.image_files.items()
            if pid in keep
        }
        truth = None if self.truth is None else self.truth.loc[self.truth.index.isin(keep)]
        return Cohort(
            clinical=self.clinical.loc[ids],
            labels=None if self.labels is None else self.labels.loc[ids],
            notes={i: t for i, t in self.notes.items() if i in keep},
            images=images,
            rnaseq=None if self.rna is None else self.rna.rows(keep),
            truth=truth,
            meta=self.meta,
        )

    def __iter__(self) -> Iterator[Cohort]:
        for k in range(len(self)):
            yield self.chunk(k)


class _RnaRows:
    """rnaseq.csv, checked once in blocks of rows; afterwards any patients' rows on demand.

    Each block (the header plus RNA_BLOCK_ROWS lines) goes through parse_rnaseq, the reader's
    own parser, and only the byte span of each patient's line is kept. A file this cannot take
    line by line (quotes, a row error, a duplicate across blocks, ...) is parsed whole instead.
    """

    def __init__(self, path: Path, known: set[str]) -> None:
        self.path, self.name = path, str(path)
        self.spans: dict[str, tuple[int, int]] = {}
        self.genes: list[str] = []
        self.whole: pd.DataFrame | None = None
        self.header = b""
        reason = self._index(known)
        if reason is not None:
            from amff.data.cohort import _read_bytes, parse_rnaseq

            self.whole = parse_rnaseq(_read_bytes(path), self.name, known)
            self.genes = [str(g) for g in self.whole.columns]
            self.spans = {}
            log.warning("%s: read whole, not in chunks (%s)", path, reason)

    def _index(self, known: set[str]) -> str | None:
        """Check the file block by block and keep each row's span; a reason when it cannot."""
        try:
            with open(self.path, "rb") as handle:
                header = handle.readline()
                if not header.strip() or b'"' in header:
                    return "an unusual header row"
                self.header = header if header.endswith(b"\n") else header + b"\n"
                offset = len(header)
                lines: list[bytes] = []
                spans: list[tuple[int, int]] = []
                for line in handle:
                    if line.strip():  # blank lines are skipped, as the reader does
                        if b'"' in line:
                            return "quoted cells"
                        lines.append(line if line.endswith(b"\n") else line + b"\n")
                        spans.append((offset, len(line)))
                    offset += len(line)
                    if len(lines) == RNA_BLOCK_ROWS:
                        if reason := self._check_block(lines, spans, known):
                            return reason
                        lines, spans = [], []
                if lines and (reason := self._check_block(lines, spans, known)):
                    return reason
        except OSError:
            return "it cannot be read in parts"
        return None if self.spans else "no rows"

    def _check_block(
        self, lines: list[bytes], spans: list[tuple[int, int]], known: set[str]
    ) -> str | None:
        from amff.data.cohort import parse_rnaseq

        try:
            frame = parse_rnaseq(self.header + b"".join(lines), self.name, known)
        except InputError:
            return "a problem in the file"
        if len(frame) != len(lines):
            return "rows that are not one line each"
        for pid, span in zip(frame.index, spans):
            if pid in self.spans:
                return "a repeated patient"
            self.spans[str(pid)] = span
        self.genes = [str(g) for g in frame.columns]
        return None

    def rows(self, keep: set[str]) -> pd.DataFrame:
        """The counts of the patients in `keep` that have a row, in file order."""
        if self.whole is not None:
            return self.whole.loc[self.whole.index.isin(keep)]
        from amff.data.cohort import ID, parse_rnaseq

        spans = sorted(self.spans[pid] for pid in keep if pid in self.spans)
        if not spans:
            return pd.DataFrame(
                np.zeros((0, len(self.genes))),
                index=pd.Index([], name=ID, dtype="str"),
                columns=pd.Index(self.genes),
            )
        parts = [self.header]
        with open(self.path, "rb") as handle:
            for start, length in spans:
                handle.seek(start)
                line = handle.read(length)
                parts.append(line if line.endswith(b"\n") else line + b"\n")
        return parse_rnaseq(b"".join(parts), self.name, None)


def encode_folder(
    predictor: Predictor,
    chunks: CohortChunks,
    device: str | torch.device = "cpu",
    progress: Callable[[int], None] | None = None,
) -> Iterator[Encoded]:
    """Level 1 of every chunk of a cohort folder, in order: memory stays flat in its size.

    Under torchrun the ranks take the chunks in turn and rank 0 receives every chunk's output
    in order (the other ranks' iterators yield nothing; iterate them all the same).
    progress(n) is called on rank 0 with each chunk's patient count.
    """
    from amff import distributed

    device = torch.device(device)
    model = predictor.model
    if device.type != "cpu":
        model = copy.deepcopy(model).to(device)  # the predictor's own model stays on the CPU

    @torch.inference_mode()
    def work(k: int) -> Encoded:
        _release_freed_memory()  # the last chunk's (or the file checks') memory is free now
        cohort = predictor.as_cohort(chunks.chunk(k))
        batch = predictor.preprocessor.transform(cohort)
        ids = cohort.ids
        labels = None if cohort.labels is None else cohort.labels.loc[ids].to_numpy()
        del cohort  # the decoded images and counts: only the tensors are needed now
        parts = []
        for start in range(0, len(batch), ENCODE_CHUNK):
            part = batch.index(slice(start, start + ENCODE_CHUNK)).trim_text()
            parts.append(model.encode(part.to(device)).cpu())  # (n, 4, D)
        return Encoded(ids, torch.cat(parts), batch.present.clone(), labels)

    for encoded in distributed.map_ordered(len(chunks), work):
        if progress is not None:
            progress(len(encoded))
        yield encoded


def _release_freed_memory() -> None:
    """Give freed heap memory back to the system. glibc keeps it, fragmented, so a long run's
    resident memory would creep up chunk after chunk (measured: ~60 MB a chunk); elsewhere
    this does nothing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _blocks(encoded: Encoded) -> Iterator[Encoded]:
    """Encoded in ENCODE_CHUNK blocks: level 2 then runs on the same blocks whatever the chunk."""
    for start in range(0, len(encoded), ENCODE_CHUNK):
        stop = start + ENCODE_CHUNK
        labels = None if encoded.labels is None else encoded.labels[start:stop]
        yield Encoded(
            encoded.ids[start:stop], encoded.h[start:stop], encoded.available[start:stop], labels
        )


def predict_chunk(
    predictor: Predictor, encoded: Encoded, modalities: Modalities = None
) -> pd.DataFrame:
    """`Predictor.predict_encoded` for one chunk from `encode_folder`, block by block."""
    return pd.concat(
        [predictor.predict_encoded(block, modalities) for block in _blocks(encoded)],
        ignore_index=True,
    )


def probabilities_chunk(
    predictor: Predictor, encoded: Encoded, modalities: Modalities = None
) -> np.ndarray:
    """The probabilities (N,) of `Predictor.predict_arrays` for one chunk, block by block."""
    return np.concatenate(
        [predictor.predict_arrays(block, modalities)["probability"] for block in _blocks(encoded)]
    )
