"""`amff.load(path)`: a checkpoint ready to predict any patient or cohort, any modality subset.

The level-1 output (one vector per modality per patient) is kept, so switching modalities on
and off re-runs only level 2 (fusion, weights, head): a toggle costs a fraction of a forward.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import logging
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
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
from amff.data.folder import ENCODE_CHUNK, CohortChunks
from amff.errors import InputError
from amff.modalities import MODALITIES, Modality, subset_name

log = logging.getLogger(__name__)

Modalities = Iterable[Modality | str] | None


@dataclass
class Encoded:
    """Level-1 output of a cohort: what a modality toggle starts from. Treat as opaque."""

    ids: list[str]
    h: Tensor  # (N, M, D)
    available: Tensor  # (N, M) bool: which modalities each patient has
    labels: np.ndarray | None

    def __len__(self) -> int:
        return len(self.ids)


def as_modalities(
    modalities: Modalities, among: Sequence[Modality] | None = None
) -> tuple[Modality, ...]:
    """Modalities from names or members, in the order of `among` (default: every registered
    one); all of `among` for None. InputError for unknown names."""
    among = tuple(MODALITIES) if among is None else tuple(among)
    if modalities is None:
        return among
    chosen = set()
    for m in modalities:
        if str(m) not in {a.value for a in among}:
            names = ", ".join(a.value for a in among)
            raise InputError(f"unknown modality {m!r}; use some of {names}")
        chosen.add(Modality(m))
    return tuple(m for m in among if m in chosen)


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
    def modalities(self) -> tuple[Modality, ...]:
        """The modalities the model reads, in the order of its weights and columns."""
        return self.preprocessor.modalities

    @property
    def features(self) -> list[str]:
        return self.preprocessor.features

    @property
    def genes(self) -> list[str]:
        return self.preprocessor.genes

    @property
    def image_size(self) -> int:
        return int(self.preprocessor.image.size)

    # -- data in -----------------------------------------------------------------------------
    def one_patient_cohort(self, patient: Patient) -> Cohort:
        """A cohort of one patient with the model's features and every gene its RNA
        normalisation needs (absent features and genes are then named in the error)."""
        return Cohort.from_patients([patient], features=self.features, genes=self.library_genes)

    def as_cohort(self, data: Cohort | Patient) -> Cohort:
        """A cohort for a single patient (or the cohort itself), checked against the schema."""
        if isinstance(data, Patient):
            data = self.one_patient_cohort(data)
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
            part = batch.index(slice(start, start + ENCODE_CHUNK)).trim()
            parts.append(self.model.encode(part))
        h = (
            torch.cat(parts)
            if parts
            else torch.zeros(0, len(self.modalities), self.model.config.dim)
        )
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
        """probability (N,), logit (N,), weights (N, M) (NaN for early fusion), used (N, M)."""
        chosen = as_modalities(modalities, self.modalities)
        selected = torch.tensor([m in chosen for m in self.modalities], dtype=torch.bool)
        used = encoded.available & selected  # (N, M)
        out = self.model.forward_encoded(encoded.h, used)
        logit = out.logit.numpy().astype(np.float64)
        nothing = ~used.any(dim=1).numpy()
        logit[nothing] = np.nan
        prob = 1.0 / (1.0 + np.exp(-logit))
        if out.modality_weights is None:
            weights = np.full((len(encoded), len(self.modalities)), np.nan)
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
        for j, m in enumerate(self.modalities):
            frame[f"weight_{m.value}"] = arrays["weights"][:, j]
        frame["modalities"] = [
            subset_name([m for j, m in enumerate(self.modalities) if row[j]])
            for row in arrays["used"]
        ]
        return frame

    def predict(self, data: Cohort | Patient, modalities: Modalities = None) -> pd.DataFrame:
        """One row per patient: patient_id, probability, label (at the stored threshold),
        weight_<m> for each modality of the model, modalities (those used)."""
        return self.predict_encoded(self.encode(data), modalities)

    def predict_one(self, patient: Patient, modalities: Modalities = None) -> dict[str, Any]:
        """A dict for one patient: probability, label, weights {modality: weight}, modalities."""
        row = self.predict(patient, modalities).iloc[0]
        return {
            "patient_id": patient.patient_id,
            "probability": float(row["probability"]),
            "label": None if pd.isna(row["label"]) else int(row["label"]),
            "threshold": self.threshold,
            "weights": {m.value: float(row[f"weight_{m.value}"]) for m in self.modalities},
            "modalities": [m for m in str(row["modalities"]).split("+") if m],
        }

    # -- the schema, as the dashboard asks for it (the app reads no preprocessor) ----------
    @property
    def library_genes(self) -> list[str]:
        """Every gene an RNA-seq input must have: the model reads `genes`, but normalises by
        the library of all the training genes."""
        rna = self.preprocessor.parts.get("rna")
        return [] if rna is None else list(rna.library_genes or rna.genes)

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
            part = batch.index(slice(start, start + ENCODE_CHUNK)).trim()
            parts.append(model.encode(part.to(device)).cpu())  # (n, M, D)
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
