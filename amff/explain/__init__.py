"""Explanations of one prediction: which modality mattered, and what inside each modality.

Shaped like Captum: a verb over any model (AMFF-HT, early or late fusion) and any modality
subset; arrays and DataFrames out; no drawing (`amff.explain_plots` draws the CLI's PNGs)::

    modality_importance(predictor, data, modalities=None) -> pd.DataFrame
        one row per patient x modality: patient_id, modality, used, weight (the alpha the
        head used; NaN for early fusion, which has none), logit, probability (with every
        used modality), drop_one_logit, drop_one_probability (the prediction with every used
        modality minus the prediction without this one: > 0 = it pushed risk up; 0 for an
        unused modality; NaN when it is the only modality used). From the cached level-1
        output (`Encoded`): a few milliseconds per patient.
    average_importance(frame) -> pd.DataFrame
        the cohort view of `modality_importance`: one row per modality, means over the
        patients that used it.
    attribute(predictor, patient, modality, method="integrated_gradients", modalities=None,
              n_steps=32, image_baseline="mean") -> Attribution
        Captum attributions inside one modality, explaining the fused logit for exactly the
        chosen modality subset. The other used modalities' level-1 vectors are held fixed
        (computed once); only this modality's encoder and pooling, then level 2, are re-run.
        A modality the patient lacks or that is not chosen raises InputError (it had no
        influence, so there is nothing to attribute; its weight is 0).
    attribute_all(predictor, patient, method=..., modalities=None, n_steps=32,
                  image_baseline="mean") -> dict[str, Attribution]
        `attribute` for every used modality, preprocessing and encoding the patient once
        (one patient's preprocessing costs about as much as all four attributions).
    attention_maps(predictor, patient, modalities=None) -> dict[str, AttentionMap]
        the intra-modality pooling attention: "text" per word, "image" a 4x4 grid of cells
        (and upsampled to the input size), read through forward hooks on `attn.attend`.
    explain_patient(predictor, patient, modalities=None, method=..., n_steps=32,
                    top_genes=50, image_baseline="mean") -> dict
        all of the above for one patient, JSON-able (what `python -m amff explain` writes):
        patient_id, model, modalities (used), available, method, prediction {probability,
        logit, label, threshold}, weights {modality: alpha}, drop_one {modality: {logit,
        probability}}, attributions {modality: Attribution.to_dict() or None when unused},
        attention {"text": {labels, weights}, "image": {weights (4x4)}}.

Methods (`METHODS`): "integrated_gradients" (Captum IntegratedGradients, Gauss-Legendre, the
n_steps in one batched forward, with Captum's convergence delta: attributions sum to
logit - baseline_logit + delta), "occlusion" (each feature, word or gene set to its baseline,
one at a time: Captum FeatureAblation; the image: Captum Occlusion with a window of 1/8 of the
side and half that stride), "saliency" (|gradient|) and "input_x_gradient" (cheap options).

What is attributed, and the baseline (the "absence of evidence" each attribution is measured
against):

- tabular: the input of the record MLP, so categorical columns are covered through their
  embeddings. Baseline: the training mean (standardised 0) for every recorded numeric value,
  the mean embedding of the known categories for every categorical column, and the missing
  flags as they are. A missing value gets zero attribution under every method: the model sees
  its learned fill-in, not a value (and the flag is the same in input and baseline).
- text: the WordPiece token embeddings (the output of `TextEncoder.token_embedding`, as
  Captum's LayerIntegratedGradients would), summed over the embedding and then over the
  pieces of each word (from the tokenizer's word ids and character offsets). Baseline: the
  [PAD] embedding, which is the zero vector (padding_idx 0), at every position, positions kept.
- image: the normalised model input (S x S, S = 64 for the shipped models). Baseline: the
  training-mean image, i.e. a uniform image at the training pixel mean (normalised 0), so
  the heatmap accounts for the whole image effect (diffuse opacity included).
  `image_baseline="blur"` measures against this image blurred instead: only fine detail
  (a nodule, a texture) is credited, which localises better (on the shipped model the
  nodule gets about 4x its area share of the mass against about 2.4x with the mean) but
  leaves the diffuse part of the effect unexplained; "black" is the all-black image.
- rna: the standardised log-CPM of every gene the model reads (the checkpoint's selection)
  and the standardised log10 library size. Baseline: the training mean of each
  (standardised 0). Results carry the raw counts and the log-CPM beside each gene.

Thread safety: a dashboard shares one Predictor across sessions. Attribution and attention
calls are serialised by a module-level lock (`ATTRIBUTION_LOCK`), because they add forward
hooks to the shared model for the duration of a call. Each hook also acts only on the thread
that registered it, so a prediction running meanwhile in another thread (which does not take
the lock) is never altered or recorded. Every hook is removed before a call returns, even on
error; parameters, buffers and train/eval mode are never changed; gradients are taken with
respect to the inputs only, inside `torch.enable_grad()` scoped to the call.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from amff.data.cohort import Cohort, Patient
from amff.data.dataset import Batch
from amff.errors import InputError
from amff.modalities import MODALITIES, Modality
from amff.predictor import Encoded, Modalities, Predictor, as_modalities

log = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("integrated_gradients", "occlusion", "saliency", "input_x_gradient")
ATTRIBUTION_LOCK = threading.RLock()
LIBRARY_LABEL = "log10_library_size"
IMPORTANCE_CHUNK = 1024  # patients per level-2 forward in modality_importance
ABLATION_PER_EVAL = 64  # perturbed copies per forward for occlusion

BASELINES = {
    Modality.TABULAR: "training mean (standardised 0) for recorded numeric values, mean "
    "category embedding for categorical columns, missing flags as they are",
    Modality.TEXT: "[PAD] (zero) embedding at every token position",
    Modality.IMAGE: "training-mean image (normalised 0)",
    Modality.RNA: "training mean of every gene's log-CPM and of the log library size "
    "(standardised 0)",
}
IMAGE_BASELINES = {
    "mean": BASELINES[Modality.IMAGE],
    "black": "black image (0 before normalisation)",
    "blur": "this image blurred (Gaussian, sigma = side / 32): attributes fine detail only",
}


# -- results -------------------------------------------------------------------------------
@dataclass
class Attribution:
    """Attributions inside one modality for one patient, explaining the fused logit.

    labels: feature names, words or gene names (empty for the image). values: (F,) for the
    record, (n_words,) for the note, (S, S) for the image, (G + 1,) for RNA (the genes, then
    the log library size). inputs: what is shown beside each value (the raw record values,
    the words, the (S, S) image in [0, 1], the raw counts). delta: Captum's convergence delta
    (integrated gradients only): values.sum() = logit - baseline_logit + delta. extra: more
    per-label columns for `frame()` (e.g. log_cpm, standardised, start/end offsets).
    """

    modality: str
    method: str
    labels: list[str]
    values: np.ndarray
    inputs: np.ndarray | list[Any]
    delta: float | None
    logit: float
    baseline_logit: float
    baseline: str
    extra: dict[str, np.ndarray | list[Any]] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """label, value, attribution (+ extra); for the image: row, col, value, attribution."""
        if self.modality == Modality.IMAGE.value:
            rows, cols = np.indices(self.values.shape)
            return pd.DataFrame(
                {
                    "row": rows.ravel(),
                    "col": cols.ravel(),
                    "value": np.asarray(self.inputs).ravel(),
                    "attribution": self.values.ravel(),
                }
            )
        frame = pd.DataFrame(
            {"label": self.labels, "value": list(self.inputs), "attribution": self.values}
        )
        for name, column in self.extra.items():
            frame[name] = list(column)
        return frame

    def top(self, k: int = 10) -> pd.DataFrame:
        """The k rows of `frame()` with the largest absolute attribution."""
        frame = self.frame()
        order = np.argsort(-np.abs(frame["attribution"].to_numpy()), kind="stable")
        return frame.iloc[order[:k]].reset_index(drop=True)

    def to_dict(self, top_k: int | None = None) -> dict[str, Any]:
        """JSON-able; the image as an (S, S) nested list, the rest as rows (top_k by |value|)."""
        out: dict[str, Any] = {
            "modality": self.modality,
            "method": self.method,
            "baseline": self.baseline,
            "logit": self.logit,
            "baseline_logit": self.baseline_logit,
            "delta": self.delta,
            "total": float(self.values.sum()),
        }
        if self.modality == Modality.IMAGE.value:
            out["heatmap"] = np.round(self.values, 8).tolist()
        else:
            rows = self.top(top_k) if top_k is not None else self.frame()
            out["n_features"] = len(self.labels)
            out["features"] = rows.to_dict(orient="records")
        return _jsonable(out)


@dataclass
class AttentionMap:
    """Pooling attention over one modality's tokens (heads averaged; sums to 1).

    text: labels are the words, weights (n_words,); image: labels empty, weights (4, 4)
    cells of the last feature map, upsampled (S, S) bilinearly to the input size.
    """

    modality: str
    labels: list[str]
    weights: np.ndarray
    upsampled: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"modality": self.modality, "weights": self.weights.tolist()}
        if self.labels:
            out["labels"] = self.labels
        return _jsonable(out)


# -- modality level ------------------------------------------------------------------------
def modality_importance(
    predictor: Predictor, data: Cohort | Patient | Encoded, modalities: Modalities = None
) -> pd.DataFrame:
    """Adaptive weights and drop-one importance per patient x modality (see module docs)."""
    encoded = data if isinstance(data, Encoded) else predictor.encode(data)
    chosen = as_modalities(modalities)
    selected = torch.tensor([m in chosen for m in MODALITIES], dtype=torch.bool)
    used = encoded.available & selected  # (N, 4)
    n, k = len(encoded), len(MODALITIES)
    # row 0 of each patient: every used modality; row 1 + j: without modality j
    drop = ~torch.eye(k, dtype=torch.bool)  # (4, 4)
    masks = torch.cat([used[:, None, :], used[:, None, :] & drop[None]], dim=1)  # (N, 5, 4)
    logits, weights = [], []
    with torch.inference_mode():
        for start in range(0, n, IMPORTANCE_CHUNK):
            part = slice(start, start + IMPORTANCE_CHUNK)
            rows = masks[part].shape[0]
            h = encoded.h[part][:, None].expand(-1, k + 1, -1, -1).reshape(rows * (k + 1), k, -1)
            out = predictor.model.forward_encoded(h, masks[part].reshape(-1, k))
            logits.append(out.logit.view(rows, k + 1).double())
            if out.modality_weights is not None:
                weights.append(out.modality_weights.view(rows, k + 1, k)[:, 0].double())
    logit = torch.cat(logits).numpy() if logits else np.zeros((0, k + 1))  # (N, 5)
    alpha = torch.cat(weights).numpy() if weights else np.full((n, k), np.nan)  # (N, 4)
    used_np = used.numpy()
    n_used = used_np.sum(axis=1, keepdims=True)
    prob = _sigmoid(logit)
    full_logit, full_prob = logit[:, :1], prob[:, :1]
    drop_logit = np.where(used_np, full_logit - logit[:, 1:], 0.0)
    drop_prob = np.where(used_np, full_prob - prob[:, 1:], 0.0)
    alone = used_np & (n_used == 1)
    drop_logit[alone] = np.nan
    drop_prob[alone] = np.nan
    nothing = n_used[:, 0] == 0
    full_logit = np.where(nothing[:, None], np.nan, full_logit)
    alpha = np.where(nothing[:, None], np.nan, alpha)
    return pd.DataFrame(
        {
            "patient_id": np.repeat(np.asarray(encoded.ids, dtype=object), k),
            "modality": np.tile([m.value for m in MODALITIES], n),
            "used": used_np.ravel(),
            "weight": alpha.ravel(),
            "logit": np.repeat(full_logit[:, 0], k),
            "probability": np.repeat(_sigmoid(full_logit[:, 0]), k),
            "drop_one_logit": drop_logit.ravel(),
            "drop_one_probability": drop_prob.ravel(),
        }
    )


def average_importance(frame: pd.DataFrame) -> pd.DataFrame:
    """Per modality, over the patients that used it: n_used, mean weight, mean drop-one
    (signed and absolute, logit and probability)."""
    used = frame[frame["used"]].copy()
    used["abs_drop_one_logit"] = used["drop_one_logit"].abs()
    used["abs_drop_one_probability"] = used["drop_one_probability"].abs()
    grouped = used.groupby("modality", sort=False)
    summary = pd.DataFrame(
        {
            "n_used": grouped.size(),
            "weight": grouped["weight"].mean(),
            "drop_one_logit": grouped["drop_one_logit"].mean(),
            "abs_drop_one_logit": grouped["abs_drop_one_logit"].mean(),
            "drop_one_probability": grouped["drop_one_probability"].mean(),
            "abs_drop_one_probability": grouped["abs_drop_one_probability"].mean(),
        }
    )
    order = [m.value for m in MODALITIES]
    summary = summary.reindex(order)
    summary["n_used"] = summary["n_used"].fillna(0).astype(int)
    summary.index.name = "modality"
    return summary


# -- inside a modality ---------------------------------------------------------------------
@dataclass
class _Prepared:
    """One patient, preprocessed and encoded once, for any number of modality explanations."""

    patient: Patient
    batch: Batch  # one row, note padding trimmed
    h: Tensor  # (1, 4, D): level 1, held fixed while one modality is explained
    used: Tensor  # (1, 4) bool: present, readable by the model, and chosen
    image_baseline: str = "mean"

    @property
    def names(self) -> list[str]:
        return [m.value for j, m in enumerate(MODALITIES) if bool(self.used[0, j])]

    def encoded(self) -> Encoded:
        return Encoded([self.patient.patient_id], self.h, self.batch.present.clone(), None)


@dataclass
class _Problem:
    """One modality of one patient, ready for Captum: run(x) -> (n,) fused logits."""

    modality: Modality
    run: Callable[[Tensor], Tensor]
    x: Tensor  # (1, *shape): the attributed input
    baseline: Tensor  # (1, *shape)
    groups: np.ndarray  # shape of x[0]: the label each element adds to; -1 = not reported
    labels: list[str]
    inputs: np.ndarray | list[Any]
    extra: dict[str, np.ndarray | list[Any]]


def attribute(
    predictor: Predictor,
    patient: Patient,
    modality: Modality | str,
    method: str = "integrated_gradients",
    modalities: Modalities = None,
    n_steps: int = 32,
    image_baseline: str = "mean",
) -> Attribution:
    """Captum attributions inside one modality of one patient (see the module docstring).

    image_baseline: "mean" (default), "black" or "blur" (see IMAGE_BASELINES).
    """
    modality = _one_modality(modality)
    _check_method(method, n_steps, image_baseline)
    with ATTRIBUTION_LOCK, _grad_mode():
        prepared = _prepare(predictor, patient, modalities, image_baseline)
        return _attribute(predictor, prepared, modality, method, n_steps)


def attribute_all(
    predictor: Predictor,
    patient: Patient,
    method: str = "integrated_gradients",
    modalities: Modalities = None,
    n_steps: int = 32,
    image_baseline: str = "mean",
) -> dict[str, Attribution]:
    """`attribute` for every modality the patient has among those chosen, preparing the
    patient once (what a dashboard panel wants): {modality name: Attribution}."""
    _check_method(method, n_steps, image_baseline)
    with ATTRIBUTION_LOCK, _grad_mode():
        prepared = _prepare(predictor, patient, modalities, image_baseline)
        return {
            m.value: _attribute(predictor, prepared, m, method, n_steps)
            for m in MODALITIES
            if m.value in prepared.names
        }


def _check_method(method: str, n_steps: int, image_baseline: str = "mean") -> None:
    if method not in METHODS:
        raise InputError(f"unknown attribution method {method!r}; use one of {', '.join(METHODS)}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 2:
        raise InputError(f"n_steps must be a whole number of at least 2, got {n_steps!r}")
    if image_baseline not in IMAGE_BASELINES:
        raise InputError(
            f"unknown image baseline {image_baseline!r}; use one of {', '.join(IMAGE_BASELINES)}"
        )


def _attribute(
    predictor: Predictor, prepared: _Prepared, modality: Modality, method: str, n_steps: int
) -> Attribution:
    with torch.inference_mode(False), torch.enable_grad():
        problem = _problem(predictor, prepared, modality)
        with torch.no_grad():
            both = problem.run(torch.cat([problem.x, problem.baseline]))  # (2,)
        logit, baseline_logit = float(both[0]), float(both[1])
        raw, delta = _captum(problem, method, n_steps)
    values = _reduce(raw, problem.groups, len(problem.labels), method, modality)
    return Attribution(
        modality=modality.value,
        method=method,
        labels=problem.labels,
        values=values,
        inputs=problem.inputs,
        delta=delta,
        logit=logit,
        baseline_logit=baseline_logit,
        baseline=(
            IMAGE_BASELINES[prepared.image_baseline]
            if modality is Modality.IMAGE
            else BASELINES[modality]
        ),
        extra=problem.extra,
    )


def _captum(problem: _Problem, method: str, n_steps: int) -> tuple[np.ndarray, float | None]:
    """Run one Captum method; the attributions in the shape of x[0], and the IG delta."""
    from captum.attr import (
        FeatureAblation,
        InputXGradient,
        IntegratedGradients,
        Occlusion,
        Saliency,
    )

    x, baseline, delta = problem.x.clone().requires_grad_(), problem.baseline, None
    if method == "integrated_gradients":
        attr, deltas = IntegratedGradients(problem.run).attribute(
            x,
            baselines=baseline,
            n_steps=n_steps,
            internal_batch_size=n_steps,
            return_convergence_delta=True,
        )
        delta = float(deltas.sum())
    elif method == "saliency":
        attr = Saliency(problem.run).attribute(x, abs=True)
    elif method == "input_x_gradient":
        attr = InputXGradient(problem.run).attribute(x)
    elif problem.modality is Modality.IMAGE:
        side = x.shape[-1]
        window = max(1, side // 8)
        stride = max(1, window // 2)
        attr = Occlusion(problem.run).attribute(
            x,
            sliding_window_shapes=(1, window, window),
            strides=(1, stride, stride),
            baselines=baseline,
            perturbations_per_eval=ABLATION_PER_EVAL,
        )
    else:
        n_labels = len(problem.labels)
        mask = np.where(problem.groups < 0, n_labels, problem.groups)
        attr = FeatureAblation(problem.run).attribute(
            x,
            baselines=baseline,
            feature_mask=torch.as_tensor(mask[None], dtype=torch.long),
            perturbations_per_eval=ABLATION_PER_EVAL,
        )
    return attr.detach()[0].double().numpy(), delta


def _reduce(
    raw: np.ndarray, groups: np.ndarray, n_labels: int, method: str, modality: Modality
) -> np.ndarray:
    """Elements -> labels: gradient methods add up a label's elements (so IG stays complete);
    ablation gives every element of a group the group's effect, so it takes one of them."""
    if modality is Modality.IMAGE:
        return raw.reshape(raw.shape[-2:])  # (S, S)
    keep = groups.ravel() >= 0
    index, flat = groups.ravel()[keep], raw.ravel()[keep]
    total = np.bincount(index, weights=flat, minlength=n_labels)
    if method == "occlusion":
        return total / np.maximum(np.bincount(index, minlength=n_labels), 1)
    return total


def _problem(predictor: Predictor, prepared: _Prepared, modality: Modality) -> _Problem:
    patient, used, h, batch = prepared.patient, prepared.used, prepared.h, prepared.batch
    j = MODALITIES.index(modality)
    if not bool(used[0, j]):
        reason = (
            "is not among the chosen modalities"
            if bool(batch.present[0, j])
            else "is absent for this patient"
        )
        raise InputError(
            f"patient {patient.patient_id!r}: the {modality.value} modality {reason}, so it had "
            "no influence on the prediction and has nothing to attribute; choose one of "
            f"{', '.join(prepared.names)}"
        )
    model = predictor.model
    encoders = _encoders_of(model, modality)
    raw = batch.inputs(modality)

    def fused_logit(h_m: Tensor) -> Tensor:  # (n, D) -> (n,)
        n = h_m.shape[0]
        fixed = h.expand(n, -1, -1)
        columns = [h_m if k == j else fixed[:, k] for k in range(len(MODALITIES))]
        return model.forward_encoded(torch.stack(columns, dim=1), used.expand(n, -1)).logit

    def expanded(n: int) -> list[Tensor]:
        return [t.expand(n, *t.shape[1:]) for t in raw]

    encoder = encoders.encoders[modality.value]
    if modality is Modality.TABULAR:
        with torch.no_grad(), _capture_input(encoder.mlp) as seen:
            encoders.encode_one(modality, *raw)
        x = seen[0].detach().clone()  # (1, 2F + 8C): the record MLP's input

        def run(x: Tensor) -> Tensor:
            with _replace_input(encoder.mlp, x):
                h_m = encoders.encode_one(modality, *expanded(x.shape[0]))
            return fused_logit(h_m)

        return _tabular_problem(predictor, patient, encoder, batch, x, run)
    if modality is Modality.TEXT:
        with torch.no_grad():
            x = encoder.token_embedding(raw[0]).detach().clone()  # (1, L, D)

        def run(x: Tensor) -> Tensor:
            with _replace_output(encoder.token_embedding, x):
                h_m = encoders.encode_one(modality, *expanded(x.shape[0]))
            return fused_logit(h_m)

        return _text_problem(predictor, patient, raw[0], x, run)

    def run(x: Tensor) -> Tensor:
        return fused_logit(encoders.encode_one(modality, x))

    x = raw[0].detach().clone()
    if modality is Modality.IMAGE:
        shown = x[0, 0].double().numpy() * predictor.preprocessor.image.sd
        shown = np.clip(shown + predictor.preprocessor.image.mean, 0.0, 1.0)
        baseline = _image_baseline(predictor, x, prepared.image_baseline)
        return _Problem(modality, run, x, baseline, np.zeros(x.shape[1:], int), [], shown, {})
    return _rna_problem(predictor, patient, x, run)


def _image_baseline(predictor: Predictor, x: Tensor, kind: str) -> Tensor:
    """The image baseline in the model's normalised units, (1, 1, S, S)."""
    if kind == "black":
        image = predictor.preprocessor.image
        return torch.full_like(x, -image.mean / image.sd)
    if kind == "blur":
        from scipy import ndimage

        sigma = x.shape[-1] / 32.0
        blurred = ndimage.gaussian_filter(x.numpy(), sigma=(0, 0, sigma, sigma), mode="nearest")
        return torch.as_tensor(blurred, dtype=x.dtype)
    return torch.zeros_like(x)


def _tabular_problem(
    predictor: Predictor,
    patient: Patient,
    encoder: nn.Module,
    batch: Any,
    x: Tensor,
    run: Callable[[Tensor], Tensor],
) -> _Problem:
    tab = predictor.preprocessor.tabular
    n_numeric = len(tab.numeric)
    missing = batch.tabular_missing[0].numpy() > 0.5  # (F,)
    baseline = x.clone()
    recorded = torch.as_tensor(~missing)
    baseline[0, :n_numeric] = torch.where(recorded, 0.0, x[0, :n_numeric])
    groups = np.full(x.shape[1], -1, dtype=np.int64)
    groups[:n_numeric] = np.where(missing, -1, np.arange(n_numeric))
    offset = 2 * n_numeric
    for c, embedding in enumerate(encoder.cat_embeddings):
        width = embedding.embedding_dim
        known = embedding.weight[1:] if embedding.num_embeddings > 1 else embedding.weight
        baseline[0, offset : offset + width] = known.detach().mean(dim=0)
        groups[offset : offset + width] = n_numeric + c
        offset += width
    record = patient.record if patient.record is not None else pd.Series(dtype=object)
    values = [_plain(record.get(f)) for f in tab.features]
    standardised = np.concatenate(
        [
            np.where(missing, np.nan, x[0, :n_numeric].double().numpy()),
            np.full(len(tab.categorical), np.nan),
        ]
    )
    extra = {"standardised": standardised, "missing": [pd.isna(v) for v in values]}
    return _Problem(Modality.TABULAR, run, x, baseline, groups, tab.features, values, extra)


def _text_problem(
    predictor: Predictor, patient: Patient, ids: Tensor, x: Tensor, run: Callable[[Tensor], Tensor]
) -> _Problem:
    words, starts, ends, token_word = note_words(predictor, patient.note or "", ids[0].tolist())
    groups = np.repeat(np.asarray(token_word, dtype=np.int64)[:, None], x.shape[-1], axis=1)
    extra = {"start": starts, "end": ends}
    return _Problem(Modality.TEXT, run, x, torch.zeros_like(x), groups, words, words, extra)


def _rna_problem(
    predictor: Predictor, patient: Patient, x: Tensor, run: Callable[[Tensor], Tensor]
) -> _Problem:
    from amff.data.preprocess import RnaPreprocessor

    rna = predictor.preprocessor.rna
    genes = predictor.genes  # the genes the model reads (a selection of the cohort's)
    basis = getattr(rna, "library_genes", None) or genes  # the genes CPM is computed over
    counts = patient.rna.reindex(basis).to_numpy(dtype=np.float64)[None]  # (1, G_all)
    log_cpm, log_lib = RnaPreprocessor.log_cpm(counts)
    columns = {g: j for j, g in enumerate(basis)}
    read = [columns[g] for g in genes]
    inputs = np.concatenate([counts[0, read], [counts.sum()]])
    extra = {
        "log_cpm": np.concatenate([log_cpm[0, read], log_lib]),
        "standardised": x[0].double().numpy(),
    }
    groups = np.arange(x.shape[1])
    labels = [*genes, LIBRARY_LABEL]
    return _Problem(Modality.RNA, run, x, torch.zeros_like(x), groups, labels, inputs, extra)


def note_words(
    predictor: Predictor, note: str, ids: list[int]
) -> tuple[list[str], list[int], list[int], list[int]]:
    """Words of a note as the model read it: (words, start, end, word index of each token).

    Uses the tokenizer's word ids and character offsets, so a word split into WordPiece
    pieces is one word; only the tokens the model read (after truncation) are covered.
    """
    encoding = predictor.preprocessor.text.encode(note)
    n = len(ids)
    if list(encoding.ids[:n]) != list(ids):  # cannot happen with a consistent checkpoint
        log.warning("note tokens differ from the model input; showing WordPiece tokens")
        tokens = list(encoding.tokens[:n])
        return tokens, [0] * n, [0] * n, list(range(n))
    words: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    token_word: list[int] = []
    last: int | None = None
    for word_id, (start, end) in zip(encoding.word_ids[:n], encoding.offsets[:n]):
        if word_id is None or word_id != last:
            words.append("")
            starts.append(start)
            ends.append(end)
            last = word_id
        ends[-1] = max(ends[-1], end)
        token_word.append(len(words) - 1)
    words = [note[s:e] for s, e in zip(starts, ends)]
    return words, starts, ends, token_word


# -- attention -----------------------------------------------------------------------------
def attention_maps(
    predictor: Predictor, patient: Patient, modalities: Modalities = None
) -> dict[str, AttentionMap]:
    """Which words and image cells the pooling attended to (used text and image only)."""
    with ATTRIBUTION_LOCK, _grad_mode():
        return _attention_maps(predictor, _prepare(predictor, patient, modalities))


def _attention_maps(predictor: Predictor, prepared: _Prepared) -> dict[str, AttentionMap]:
    patient, used, batch = prepared.patient, prepared.used, prepared.batch
    maps: dict[str, AttentionMap] = {}
    with torch.inference_mode():
        for modality in (Modality.TEXT, Modality.IMAGE):
            if not bool(used[0, MODALITIES.index(modality)]):
                continue
            encoders = _encoders_of(predictor.model, modality)
            inputs = batch.inputs(modality)
            with _capture_output(encoders.pools[modality.value].attn.attend) as seen:
                encoders.encode_one(modality, *inputs)
            weights = seen[0][0].double().mean(dim=0)[0].numpy()  # (B, H, 1, L) -> (L,)
            if modality is Modality.TEXT:
                ids = inputs[0][0].tolist()
                words, _, _, token_word = note_words(predictor, patient.note or "", ids)
                merged = np.bincount(token_word, weights=weights[: len(token_word)])
                maps["text"] = AttentionMap("text", words, merged)
            else:
                side = int(round(math.sqrt(len(weights))))
                grid = weights.reshape(side, side)
                size = inputs[0].shape[-1]
                up = torch.nn.functional.interpolate(
                    torch.as_tensor(grid)[None, None], size=(size, size), mode="bilinear"
                )[0, 0].numpy()
                maps["image"] = AttentionMap("image", [], grid, up * grid.sum() / up.sum())
    return maps


# -- one patient, everything ---------------------------------------------------------------
def explain_patient(
    predictor: Predictor,
    patient: Patient,
    modalities: Modalities = None,
    method: str = "integrated_gradients",
    n_steps: int = 32,
    top_genes: int = 50,
    image_baseline: str = "mean",
) -> dict[str, Any]:
    """Prediction, weights, drop-one, attributions (per used modality) and attention, as a
    JSON-able dict. RNA lists the top_genes genes by |attribution|; the image is a heatmap."""
    return _explain(predictor, patient, modalities, method, n_steps, top_genes, image_baseline)[0]


def _explain(
    predictor: Predictor,
    patient: Patient,
    modalities: Modalities,
    method: str,
    n_steps: int,
    top_genes: int,
    image_baseline: str = "mean",
) -> tuple[dict[str, Any], dict[str, Attribution], dict[str, AttentionMap]]:
    """explain_patient's dict, and the Attribution and AttentionMap objects behind it."""
    _check_method(method, n_steps, image_baseline)
    with ATTRIBUTION_LOCK, _grad_mode():
        prepared = _prepare(predictor, patient, modalities, image_baseline)
        names = prepared.names
        if not names:
            raise InputError(
                f"patient {patient.patient_id!r} has none of the chosen modalities "
                f"({', '.join(m.value for m in as_modalities(modalities))}); it has "
                f"{', '.join(m.value for m in patient.modalities) or 'none'}"
            )
        frame = modality_importance(predictor, prepared.encoded(), names)
        attributions = {
            m.value: _attribute(predictor, prepared, m, method, n_steps)
            for m in MODALITIES
            if m.value in names
        }
        attention = _attention_maps(predictor, prepared)
    frame = frame.set_index("modality")
    first = frame.iloc[0]
    result: dict[str, Any] = {
        "patient_id": patient.patient_id,
        "model": predictor.kind,
        "checkpoint": None if predictor.path is None else str(predictor.path),
        "modalities": names,
        "available": [m.value for m in patient.modalities],
        "method": method,
        "prediction": {
            "probability": float(first["probability"]),
            "logit": float(first["logit"]),
            "label": int(first["probability"] >= predictor.threshold),
            "threshold": predictor.threshold,
        },
        "weights": {m.value: float(frame.loc[m.value, "weight"]) for m in MODALITIES},
        "drop_one": {
            m.value: {
                "logit": float(frame.loc[m.value, "drop_one_logit"]),
                "probability": float(frame.loc[m.value, "drop_one_probability"]),
            }
            for m in MODALITIES
        },
        "attributions": {
            m.value: (
                attributions[m.value].to_dict(top_genes if m is Modality.RNA else None)
                if m.value in attributions
                else None
            )
            for m in MODALITIES
        },
        "attention": {name: found.to_dict() for name, found in attention.items()},
    }
    return _jsonable(result), attributions, attention


# -- helpers -------------------------------------------------------------------------------
def _one_modality(modality: Modality | str) -> Modality:
    return as_modalities([modality])[0]


def _prepare(
    predictor: Predictor, patient: Patient, modalities: Modalities, image_baseline: str = "mean"
) -> _Prepared:
    """Preprocess and encode one patient once (the costly, shared part of every call)."""
    if not isinstance(patient, Patient):
        raise InputError(
            f"expected a Patient, got {type(patient).__name__}; use cohort.patient(patient_id)"
        )
    chosen = as_modalities(modalities)
    batch = predictor.batch(_as_cohort(predictor, patient)).trim_text()
    with torch.inference_mode():
        h = predictor.model.encode(batch)  # (1, 4, D)
    selected = torch.tensor([[m in chosen for m in MODALITIES]], dtype=torch.bool)
    # a clone made outside inference mode is an ordinary tensor, usable under autograd
    with torch.inference_mode(False):
        h = h.clone()
    return _Prepared(patient, batch, h, batch.present & selected, image_baseline)


def _as_cohort(predictor: Predictor, patient: Patient) -> Cohort:
    """A one-patient cohort with every gene the RNA preprocessing needs: CPM is computed over
    all the training genes (`library_genes`), of which the model reads a selection."""
    genes = getattr(predictor.preprocessor.rna, "library_genes", None) or predictor.genes
    return Cohort.from_patients([patient], features=predictor.features, genes=genes)


def _encoders_of(model: nn.Module, modality: Modality) -> Any:
    """The ModalityEncoders that encodes this modality (late fusion: that member's)."""
    members = getattr(model, "members", None)
    if members is not None:
        return members[modality.value].encoders
    return model.encoders


@contextmanager
def _grad_mode() -> Iterator[None]:
    """Ordinary autograd for the call, whatever the caller's no_grad or inference mode, so the
    patient's tensors are ordinary ones that Captum can differentiate through."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


@contextmanager
def _replace_input(module: nn.Module, value: Tensor) -> Iterator[None]:
    """While open, `module` receives `value` as its input (on this thread only)."""
    owner = threading.get_ident()

    def hook(mod: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        return (value,) if threading.get_ident() == owner else None

    handle = module.register_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def _replace_output(module: nn.Module, value: Tensor) -> Iterator[None]:
    """While open, `module` returns `value` (on this thread only)."""
    owner = threading.get_ident()

    def hook(mod: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        return value if threading.get_ident() == owner else None

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def _capture_input(module: nn.Module) -> Iterator[list[Tensor]]:
    """Record the first input of every call of `module` on this thread."""
    owner, seen = threading.get_ident(), []

    def hook(mod: nn.Module, args: tuple[Any, ...]) -> None:
        if threading.get_ident() == owner:
            seen.append(args[0])

    handle = module.register_forward_pre_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


@contextmanager
def _capture_output(module: nn.Module) -> Iterator[list[Tensor]]:
    """Record the output of every call of `module` on this thread."""
    owner, seen = threading.get_ident(), []

    def hook(mod: nn.Module, args: tuple[Any, ...], output: Tensor) -> None:
        if threading.get_ident() == owner:
            seen.append(output.detach())

    handle = module.register_forward_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _plain(value: Any) -> Any:
    """A record cell as a plain Python value (NaN for missing)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return float("nan")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _jsonable(value: Any) -> Any:
    """Plain JSON types; NaN and infinities become None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- command line --------------------------------------------------------------------------
def add_cli(subparsers: Any) -> None:
    """`python -m amff explain --checkpoint C --data DIR --patient ID --out DIR`."""
    p = subparsers.add_parser(
        "explain", help="explain one patient's prediction: JSON and four PNG panels"
    )
    p.add_argument("--checkpoint", required=True, help="checkpoint folder")
    p.add_argument("--data", required=True, help="cohort folder that holds the patient")
    p.add_argument("--patient", required=True, help="the patient_id to explain")
    p.add_argument("--out", required=True, help="folder to write (must be new or empty)")
    p.add_argument("--modalities", help="comma-separated subset, e.g. tabular,image (default all)")
    p.add_argument("--method", choices=METHODS, default="integrated_gradients")
    p.add_argument("--steps", type=int, default=32, help="integration steps (default 32)")
    p.add_argument(
        "--image-baseline",
        choices=tuple(IMAGE_BASELINES),
        default="mean",
        help="what the image attributions are measured against (default: the training mean)",
    )
    p.set_defaults(func=_cmd_explain)


def _cmd_explain(args: argparse.Namespace) -> int:
    import amff
    from amff.data.cohort import read_cohort
    from amff.explain_plots import write_panels

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"--out {out}: already exists and is not empty; choose a new folder")
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: folder {out.parent} does not exist; create it first")
    if args.steps < 2:
        raise InputError(f"--steps {args.steps}: use at least 2 integration steps")
    names = None
    if args.modalities:
        names = [part.strip() for part in args.modalities.split(",") if part.strip()]
        try:
            names = [m.value for m in as_modalities(names)]
        except InputError as exc:
            raise InputError(f"--modalities: {exc}") from None
    predictor = amff.load(args.checkpoint)
    cohort = read_cohort(args.data, ids=[args.patient])
    patient = cohort.patient(args.patient)
    result, attributions, attention = _explain(
        predictor, patient, names, args.method, args.steps, 50, args.image_baseline
    )
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
        (staging / "explanation.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
        write_panels(staging, patient, result, attributions, attention)
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    say(f"wrote the explanation of patient {args.patient} to {out}")
    return 0


__all__ = [
    "ATTRIBUTION_LOCK",
    "BASELINES",
    "IMAGE_BASELINES",
    "METHODS",
    "AttentionMap",
    "Attribution",
    "attention_maps",
    "attribute",
    "attribute_all",
    "average_importance",
    "explain_patient",
    "modality_importance",
    "note_words",
]


def say(text: str, error: bool = False) -> None:
    """Command output through the CLI's single writer."""
    from amff.cli import say as cli_say

    cli_say(text, error)
