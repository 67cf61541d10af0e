"""`amff.load(path)`: a checkpoint ready to predict any patient or cohort, any modality subset.

The level-1 output (one vector per modality per patient) is kept, so switching modalities on
and off re-runs only level 2 (fusion, weights, head): a toggle costs a fraction of a forward.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable
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
            data = Cohort.from_patients([data], features=self.features, genes=self.genes)
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


def load(path: str | os.PathLike[str]) -> Predictor:
    """Load a checkpoint folder (safetensors + JSON only) as a Predictor."""
    model, preprocessor, config, history, metrics = load_checkpoint(path)
    return Predictor(model, preprocessor, config, history, metrics, Path(path))
