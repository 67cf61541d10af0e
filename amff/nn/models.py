"""AMFF-HT and the early and late fusion baselines, built from the same encoders.

Stages are separate methods so the cached predictor and the explanations reuse them:
    encode (level 1: encoders + attention pooling) -> fuse (level 2 cross-attention)
    -> pool (adaptive modality weights) -> head (MLP over [alpha_1 z_1; ...; alpha_4 z_4]).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from amff.config import ModelConfig
from amff.data.dataset import Batch
from amff.modalities import BUILTIN, Modality
from amff.nn.attention import AttentionPool
from amff.nn.fusion import CrossModalFusion, ModalityPool


class FusionOutput(NamedTuple):
    logit: Tensor  # (B,)
    modality_weights: Tensor | None  # (B, M): the weights the head used; None for early fusion


def model_modalities(schema: dict[str, Any]) -> tuple[Modality, ...]:
    """The modalities a model is built for, in order (the four built-ins unless the schema
    names others)."""
    return tuple(Modality(name) for name in schema.get("modalities", BUILTIN))


class ModalityEncoders(nn.Module):
    """Level 1 for a set of modalities: encoder -> tokens -> attention pooling -> h_m (B, D).

    Only the rows where a modality is present are encoded; absent rows of h stay exactly zero,
    so an absent modality's input can never influence anything downstream.
    """

    def __init__(
        self, config: ModelConfig, schema: dict[str, Any], modalities: tuple[Modality, ...]
    ) -> None:
        super().__init__()
        self.dim = config.dim
        self.columns = model_modalities(schema)  # one column of h per modality of the model
        self.modalities = modalities  # the ones encoded here
        self.encoders = nn.ModuleDict(
            {m.value: m.spec.build_encoder(config, schema) for m in modalities}
        )
        self.pools = nn.ModuleDict(
            {m.value: AttentionPool(config.dim, config.heads) for m in modalities}
        )

    def encode_one(self, modality: Modality, *inputs: Tensor) -> Tensor:
        """Encode and pool one modality's inputs (all rows): (B, D)."""
        tokens, mask = self.encoders[modality.value](*inputs)  # (B, L, D), (B, L)
        return self.pools[modality.value](tokens, mask)

    def forward(self, batch: Batch, present: Tensor) -> Tensor:
        n = len(batch)
        columns = []
        for j, m in enumerate(self.columns):
            column = present.new_zeros((n, self.dim), dtype=torch.float32)  # (B, D)
            rows = present[:, j].nonzero().squeeze(1) if m in self.modalities else None
            if rows is not None and rows.numel() > 0:
                inputs = tuple(t.index_select(0, rows) for t in batch.inputs(m))
                column = column.index_copy(0, rows, self.encode_one(m, *inputs))
            columns.append(column)
        return torch.stack(columns, dim=1)  # (B, M, D)


class AMFFHT(nn.Module):
    """Adaptive Multimodal Fusion with Hierarchical Transformers."""

    def __init__(self, config: ModelConfig, schema: dict[str, Any]) -> None:
        super().__init__()
        self.config = config
        self.modalities = model_modalities(schema)
        self.encoders = ModalityEncoders(config, schema, self.modalities)
        self.fusion = CrossModalFusion(
            config.dim, config.heads, config.fusion_layers, config.dropout, config.cross_attention
        )
        self.modality_pool = ModalityPool(config.dim, config.dim, config.pooling == "adaptive")
        self.classifier = nn.Sequential(
            nn.Linear(len(self.modalities) * config.dim, config.dim),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.dim, 1),
        )

    def encode(self, batch: Batch, present: Tensor | None = None) -> Tensor:
        """Level 1: (B, M, D) modality vectors h, zero where absent."""
        return self.encoders(batch, batch.present if present is None else present)

    def fuse(self, h: Tensor, present: Tensor) -> Tensor:
        """Level 2: cross-modal attention, (B, M, D) -> (B, M, D)."""
        return self.fusion(h * present[..., None], present)

    def pool(self, z: Tensor, present: Tensor) -> Tensor:
        """The adaptive modality weights alpha (B, M)."""
        return self.modality_pool(z, present)

    def head(self, z: Tensor, alpha: Tensor) -> Tensor:
        """The logit from [alpha_1 z_1; ...; alpha_4 z_4] (B,)."""
        weighted = (alpha[..., None] * z).flatten(1)  # (B, M D)
        return self.classifier(weighted).squeeze(-1)

    def forward_encoded(self, h: Tensor, present: Tensor) -> FusionOutput:
        """Everything after level 1: what a modality toggle re-runs."""
        z = self.fuse(h, present)
        alpha = self.pool(z, present)
        return FusionOutput(self.head(z, alpha), alpha)

    def forward(self, batch: Batch, present: Tensor | None = None) -> FusionOutput:
        present = batch.present if present is None else present
        return self.forward_encoded(self.encode(batch, present), present)


class EarlyFusion(nn.Module):
    """Baseline: concatenate the modality vectors and presence flags, then an MLP."""

    def __init__(self, config: ModelConfig, schema: dict[str, Any]) -> None:
        super().__init__()
        self.config = config
        self.modalities = model_modalities(schema)
        self.encoders = ModalityEncoders(config, schema, self.modalities)
        width = len(self.modalities) * (config.dim + 1)
        self.classifier = nn.Sequential(
            nn.Linear(width, 2 * config.dim),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(2 * config.dim, 1),
        )

    def encode(self, batch: Batch, present: Tensor | None = None) -> Tensor:
        return self.encoders(batch, batch.present if present is None else present)

    def forward_encoded(self, h: Tensor, present: Tensor) -> FusionOutput:
        h = h * present[..., None]
        x = torch.cat([h.flatten(1), present.float()], dim=1)  # (B, M (D + 1))
        return FusionOutput(self.classifier(x).squeeze(-1), None)

    def forward(self, batch: Batch, present: Tensor | None = None) -> FusionOutput:
        present = batch.present if present is None else present
        return self.forward_encoded(self.encode(batch, present), present)


class UnimodalModel(nn.Module):
    """One modality alone: encoder -> attention pooling -> MLP head (late fusion's members)."""

    def __init__(self, config: ModelConfig, schema: dict[str, Any], modality: Modality) -> None:
        super().__init__()
        self.config = config
        self.modality = modality
        self.index = model_modalities(schema).index(modality)
        self.encoders = ModalityEncoders(config, schema, (modality,))
        self.classifier = nn.Sequential(
            nn.Linear(config.dim, config.dim),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.dim, 1),
        )

    def encode(self, batch: Batch, present: Tensor | None = None) -> Tensor:
        return self.encoders(batch, batch.present if present is None else present)

    def forward_encoded(self, h: Tensor, present: Tensor) -> FusionOutput:
        logit = self.classifier(h[:, self.index]).squeeze(-1)
        return FusionOutput(logit * present[:, self.index], None)

    def forward(self, batch: Batch, present: Tensor | None = None) -> FusionOutput:
        present = batch.present if present is None else present
        return self.forward_encoded(self.encode(batch, present), present)


class LateFusion(nn.Module):
    """Baseline: one unimodal model per modality, trained alone; the mean of the present
    modalities' probabilities. The modality weights are the averaging weights, 1/|present|."""

    def __init__(self, config: ModelConfig, schema: dict[str, Any]) -> None:
        super().__init__()
        self.config = config
        self.modalities = model_modalities(schema)
        self.members = nn.ModuleDict(
            {m.value: UnimodalModel(config, schema, m) for m in self.modalities}
        )

    def encode(self, batch: Batch, present: Tensor | None = None) -> Tensor:
        present = batch.present if present is None else present
        return sum(member.encode(batch, present) for member in self.members.values())  # (B, M, D)

    def forward_encoded(self, h: Tensor, present: Tensor) -> FusionOutput:
        logits = torch.stack(
            [member.forward_encoded(h, present).logit for member in self.members.values()], dim=1
        )  # (B, M)
        weights = present.float() / present.float().sum(dim=1, keepdim=True).clamp(min=1.0)
        prob = (torch.sigmoid(logits) * weights).sum(dim=1).clamp(1e-6, 1 - 1e-6)
        return FusionOutput(torch.logit(prob), weights)

    def forward(self, batch: Batch, present: Tensor | None = None) -> FusionOutput:
        present = batch.present if present is None else present
        return self.forward_encoded(self.encode(batch, present), present)


def build_model(config: ModelConfig, schema: dict[str, Any]) -> nn.Module:
    """The model of config.kind for a data schema (Preprocessor.schema())."""
    if config.kind == "amff":
        return AMFFHT(config, schema)
    if config.kind == "early":
        return EarlyFusion(config, schema)
    return LateFusion(config, schema)
