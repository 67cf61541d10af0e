"""Per-modality attribution adapters: what is attributed inside a modality, and against what.

An adapter turns one modality of one patient (a `Context`) into a `Problem` that Captum can
attribute: a forward function from the attributed tensor to the fused logit, the tensor, its
baseline (the "absence of evidence" each attribution is measured against), and how elements
add up to labels. `ADAPTERS` holds one per built-in modality; `adapter_for(name)` falls back to
`GenericAdapter` for any other modality whose encoder takes one float tensor (B, F).

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
  the heatmap accounts for the whole image effect (diffuse opacity included). Baseline kind
  "blur" measures against this image blurred instead: only fine detail (a nodule, a texture)
  is credited, which localises better (on the shipped model the nodule gets about 4x its area
  share of the mass against about 2.4x with the mean) but leaves the diffuse part of the
  effect unexplained; "black" is the all-black image.
- rna: the standardised log-CPM of every gene the model reads (the checkpoint's selection)
  and the standardised log10 library size. Baseline: the training mean of each
  (standardised 0). Results carry the raw counts and the log-CPM beside each gene.
- any other modality: its encoder's float input (B, F) as it is, baseline zeros, labels from
  the modality's preprocessor (`features` or `feature_names`) or f0..f{F-1}.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from amff.data.cohort import Patient
from amff.errors import InputError
from amff.explain.hooks import capture_input, capture_output, replace_input, replace_output
from amff.explain.results import AttentionMap
from amff.modalities import NAMES, Modality
from amff.predictor import Predictor

log = logging.getLogger(__name__)

LIBRARY_LABEL = "log10_library_size"


@dataclass
class Context:
    """One modality of one patient, as an adapter sees it; level 1 of the others held fixed."""

    predictor: Predictor
    patient: Patient
    modality: Modality  # the key the model's encoders take
    j: int  # the modality's column in h and in the used mask
    encoders: Any  # the ModalityEncoders that encodes this modality
    raw: tuple[Tensor, ...]  # this modality's input tensors, one row, in the encoder's order
    h: Tensor  # (1, K, D): level 1 of every modality
    used: Tensor  # (1, K) bool: the modalities the fused logit reads
    baseline_kind: str = "mean"  # for adapters with several baselines (the image's)

    @property
    def name(self) -> str:
        return str(self.modality)

    @property
    def encoder(self) -> nn.Module:
        """This modality's encoder (before attention pooling)."""
        return self.encoders.encoders[self.name]

    @property
    def preprocessor(self) -> Any:
        """This modality's fitted preprocessor (None when the predictor has none by its name)."""
        return getattr(self.predictor.preprocessor, self.name, None)

    def encode_one(self, *inputs: Tensor) -> Tensor:
        """Encoder and pooling of this modality: inputs (n, ...) -> h_m (n, D)."""
        return self.encoders.encode_one(self.modality, *inputs)

    def fused_logit(self, h_m: Tensor) -> Tensor:
        """Level 2 with this modality's vector replaced by h_m: (n, D) -> (n,)."""
        n = h_m.shape[0]
        fixed = self.h.expand(n, -1, -1)
        columns = [h_m if k == self.j else fixed[:, k] for k in range(self.h.shape[1])]
        stacked = torch.stack(columns, dim=1)  # (n, K, D)
        return self.predictor.model.forward_encoded(stacked, self.used.expand(n, -1)).logit

    def pooling_attention(self) -> np.ndarray:
        """The pooling's attention over this modality's tokens, heads averaged: (L,)."""
        with capture_output(self.encoders.pools[self.name].attn.attend) as seen:
            self.encode_one(*self.raw)
        return seen[0][0].double().mean(dim=0)[0].numpy()  # (B, H, 1, L) -> (L,)

    def expanded(self, n: int) -> list[Tensor]:
        """The raw inputs repeated n times (views)."""
        return [t.expand(n, *t.shape[1:]) for t in self.raw]


@dataclass
class Problem:
    """One modality of one patient, ready for Captum: run(x) -> (n,) fused logits."""

    run: Callable[[Tensor], Tensor]
    x: Tensor  # (1, *shape): the attributed input
    baseline: Tensor  # (1, *shape)
    groups: np.ndarray  # shape of x[0]: the label each element adds to; -1 = not reported
    labels: list[str]
    inputs: np.ndarray | list[Any]
    extra: dict[str, np.ndarray | list[Any]]


class AttributionAdapter:
    """How one modality is attributed; one instance per modality, stateless.

    baseline: the baseline in words. keeps_shape: the attributions keep the input's shape (a
    heatmap) instead of adding up per label. window_occlusion: "occlusion" slides a window
    over the input (Captum Occlusion) instead of setting each label to its baseline (Captum
    FeatureAblation). top_only: a patient's explanation lists only the top labels (too many
    to list). attends: the modality's pooling attention is worth showing (`attention_map`).
    """

    baseline: str = "zero input"
    keeps_shape: bool = False
    window_occlusion: bool = False
    top_only: bool = False
    attends: bool = False

    def problem(self, ctx: Context) -> Problem:
        """The attributed tensor, its baseline, the forward function and the labels."""
        raise NotImplementedError

    def baseline_text(self, ctx: Context) -> str:
        """The baseline used for this call, in words."""
        return self.baseline

    def attention_map(self, ctx: Context, weights: np.ndarray) -> AttentionMap:
        """The pooling attention over this modality's tokens (L,), shown per label or cell."""
        raise NotImplementedError(f"the {ctx.name} modality shows no attention map")


class TabularAdapter(AttributionAdapter):
    """The record MLP's input, read and replaced through forward pre-hooks."""

    baseline = (
        "training mean (standardised 0) for recorded numeric values, mean "
        "category embedding for categorical columns, missing flags as they are"
    )

    def problem(self, ctx: Context) -> Problem:
        mlp = ctx.encoder.mlp
        with torch.no_grad(), capture_input(mlp) as seen:
            ctx.encode_one(*ctx.raw)
        x = seen[0].detach().clone()  # (1, 2F + 8C): the record MLP's input

        def run(x: Tensor) -> Tensor:
            with replace_input(mlp, x):
                h_m = ctx.encode_one(*ctx.expanded(x.shape[0]))
            return ctx.fused_logit(h_m)

        tab = ctx.preprocessor
        missing = ctx.raw[1][0].numpy() > 0.5  # (F,): inputs are (values, missing, categories)
        baseline, groups = self._baseline(ctx.encoder, x, missing, len(tab.numeric))
        record = ctx.patient.record if ctx.patient.record is not None else pd.Series(dtype=object)
        values = [_plain(record.get(f)) for f in tab.features]
        standardised = np.concatenate(
            [
                np.where(missing, np.nan, x[0, : len(tab.numeric)].double().numpy()),
                np.full(len(tab.categorical), np.nan),
            ]
        )
        extra = {"standardised": standardised, "missing": [pd.isna(v) for v in values]}
        return Problem(run, x, baseline, groups, tab.features, values, extra)

    @staticmethod
    def _baseline(
        encoder: nn.Module, x: Tensor, missing: np.ndarray, n_numeric: int
    ) -> tuple[Tensor, np.ndarray]:
        """The MLP input's baseline, and the feature each of its elements belongs to."""
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
        return baseline, groups


class TextAdapter(AttributionAdapter):
    """The token embeddings, replaced through a forward hook; attributions per word."""

    baseline = "[PAD] (zero) embedding at every token position"
    attends = True

    def problem(self, ctx: Context) -> Problem:
        embedding = ctx.encoder.token_embedding
        with torch.no_grad():
            x = embedding(ctx.raw[0]).detach().clone()  # (1, L, D)

        def run(x: Tensor) -> Tensor:
            with replace_output(embedding, x):
                h_m = ctx.encode_one(*ctx.expanded(x.shape[0]))
            return ctx.fused_logit(h_m)

        note = ctx.patient.note or ""
        words, starts, ends, token_word = note_words(ctx.predictor, note, ctx.raw[0][0].tolist())
        groups = np.repeat(np.asarray(token_word, dtype=np.int64)[:, None], x.shape[-1], axis=1)
        extra = {"start": starts, "end": ends}
        return Problem(run, x, torch.zeros_like(x), groups, words, words, extra)

    def attention_map(self, ctx: Context, weights: np.ndarray) -> AttentionMap:
        """Per word: the attention of its WordPiece tokens added up."""
        ids = ctx.raw[0][0].tolist()
        words, _, _, token_word = note_words(ctx.predictor, ctx.patient.note or "", ids)
        merged = np.bincount(token_word, weights=weights[: len(token_word)])
        return AttentionMap(ctx.name, words, merged)


class ImageAdapter(AttributionAdapter):
    """The normalised pixels; a heatmap, occluded by a sliding window."""

    baseline = "training-mean image (normalised 0)"
    keeps_shape = True
    window_occlusion = True
    attends = True

    def problem(self, ctx: Context) -> Problem:
        def run(x: Tensor) -> Tensor:
            return ctx.fused_logit(ctx.encode_one(x))

        x = ctx.raw[0].detach().clone()  # (1, 1, S, S)
        image = ctx.preprocessor
        shown = x[0, 0].double().numpy() * image.sd
        shown = np.clip(shown + image.mean, 0.0, 1.0)
        baseline = image_baseline(ctx.predictor, x, ctx.baseline_kind)
        return Problem(run, x, baseline, np.zeros(x.shape[1:], int), [], shown, {})

    def baseline_text(self, ctx: Context) -> str:
        return IMAGE_BASELINES[ctx.baseline_kind]

    def attention_map(self, ctx: Context, weights: np.ndarray) -> AttentionMap:
        """The grid of feature-map cells, and that grid upsampled to the input size."""
        side = int(round(math.sqrt(len(weights))))
        grid = weights.reshape(side, side)
        size = ctx.raw[0].shape[-1]
        up = torch.nn.functional.interpolate(
            torch.as_tensor(grid)[None, None], size=(size, size), mode="bilinear"
        )[0, 0].numpy()
        return AttentionMap(ctx.name, [], grid, up * grid.sum() / up.sum())


class RnaAdapter(AttributionAdapter):
    """The standardised log-CPM of the genes read, and the log library size."""

    baseline = "training mean of every gene's log-CPM and of the log library size (standardised 0)"
    top_only = True

    def problem(self, ctx: Context) -> Problem:
        from amff.modalities.rna import RnaPreprocessor

        def run(x: Tensor) -> Tensor:
            return ctx.fused_logit(ctx.encode_one(x))

        x = ctx.raw[0].detach().clone()  # (1, G + 1)
        genes = ctx.predictor.genes  # the genes the model reads (a selection of the cohort's)
        basis = getattr(ctx.preprocessor, "library_genes", None) or genes  # CPM's genes
        counts = ctx.patient.rna.reindex(basis).to_numpy(dtype=np.float64)[None]  # (1, G_all)
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
        return Problem(run, x, torch.zeros_like(x), groups, labels, inputs, extra)


class GenericAdapter(AttributionAdapter):
    """Any modality whose encoder takes one float tensor (B, F): that tensor, against zeros."""

    baseline = "zero input (the training mean, for a standardised input)"

    def problem(self, ctx: Context) -> Problem:
        if len(ctx.raw) != 1 or ctx.raw[0].ndim != 2 or not ctx.raw[0].is_floating_point():
            shapes = ", ".join(f"{tuple(t.shape)} {t.dtype}" for t in ctx.raw)
            raise InputError(
                f"the {ctx.name} modality's encoder takes {shapes}, not one float tensor "
                "(B, F); give it an AttributionAdapter in amff.explain.adapters.ADAPTERS"
            )

        def run(x: Tensor) -> Tensor:
            return ctx.fused_logit(ctx.encode_one(x))

        x = ctx.raw[0].detach().clone()  # (1, F)
        labels = feature_names(ctx.preprocessor, x.shape[1])
        inputs = x[0].double().numpy()
        return Problem(run, x, torch.zeros_like(x), np.arange(x.shape[1]), labels, inputs, {})


ADAPTERS: dict[str, AttributionAdapter] = {
    "tabular": TabularAdapter(),
    "text": TextAdapter(),
    "image": ImageAdapter(),
    "rna": RnaAdapter(),
}
GENERIC = GenericAdapter()

BASELINES = {Modality(name): adapter.baseline for name, adapter in ADAPTERS.items()}
IMAGE_BASELINES = {
    "mean": ImageAdapter.baseline,
    "black": "black image (0 before normalisation)",
    "blur": "this image blurred (Gaussian, sigma = side / 32): attributes fine detail only",
}


def adapter_for(name: str) -> AttributionAdapter:
    """The adapter a modality's spec names (`ModalitySpec.attribution`); `GENERIC` for a
    modality without its own."""
    key = Modality(name).spec.attribution if str(name) in NAMES else str(name)
    return ADAPTERS.get(key, GENERIC)


def feature_names(preprocessor: Any, n: int) -> list[str]:
    """The preprocessor's `features` or `feature_names` when there are n of them, else f0..."""
    for attribute in ("features", "feature_names"):
        names = getattr(preprocessor, attribute, None)
        if names is not None and len(names) == n:
            return [str(name) for name in names]
    return [f"f{i}" for i in range(n)]


def image_baseline(predictor: Predictor, x: Tensor, kind: str) -> Tensor:
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


def encoders_of(model: nn.Module, name: str) -> Any:
    """The ModalityEncoders that encodes this modality (late fusion: that member's)."""
    members = getattr(model, "members", None)
    if members is not None:
        return members[name].encoders
    return model.encoders


def _plain(value: Any) -> Any:
    """A record cell as a plain Python value (NaN for missing)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return float("nan")
    if isinstance(value, np.generic):
        return value.item()
    return value
