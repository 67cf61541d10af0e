"""Model and training settings: typed dataclasses with a JSON round trip.

The checkpoint stores both next to the weights, so a checkpoint rebuilds its own model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

ModelKind = Literal["amff", "early", "late"]
MODEL_KINDS: tuple[str, ...] = ("amff", "early", "late")

T = TypeVar("T")


def _from_dict(cls: type[T], data: dict[str, Any]) -> T:
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown setting(s) {unknown}; known: {sorted(names)}")
    return cls(**data)


@dataclass
class ModelConfig:
    """Architecture of AMFF-HT and its baselines.

    dim is the width every modality is projected to; the level-2 fusion works at that width.
    """

    kind: str = "amff"  # amff | early | late
    dim: int = 64  # token width D shared by all modalities
    heads: int = 4  # attention heads (dim must be divisible)
    dropout: float = 0.2
    # level 1 -----------------------------------------------------------------
    tabular_hidden: int = 128  # record MLP hidden width
    tabular_tokens: int = 4  # the record MLP's output is read as this many tokens
    text_layers: int = 1  # transformer layers over the note (1 keeps CPU training fast)
    text_max_len: int = 128  # WordPiece tokens kept per note
    image_width: int = 16  # ResNet-18 base width (torchvision uses 64; see nn/encoders.py)
    rna_hidden: int = 128
    rna_tokens: int = 4
    # level 2 -----------------------------------------------------------------
    fusion_layers: int = 1  # cross-modal attention layers
    cross_attention: bool = True  # ablation switch: False skips level-2 cross-attention
    pooling: str = "adaptive"  # adaptive (gated attention weights) | mean (ablation)

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"model kind {self.kind!r} is unknown; use one of {MODEL_KINDS}")
        if self.pooling not in ("adaptive", "mean"):
            raise ValueError(f"pooling {self.pooling!r} is unknown; use 'adaptive' or 'mean'")
        if self.dim % self.heads:
            raise ValueError(f"dim={self.dim} must be divisible by heads={self.heads}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return _from_dict(cls, data)


@dataclass
class TrainConfig:
    """How a model is trained (paper section 3.3)."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 5e-4
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    modality_dropout: float = 0.25  # P(drop) for each present modality; one is always kept
    augment: bool = True  # random left-right flips of training images
    patience: int = 6  # epochs without a better validation AUROC before stopping
    val_fraction: float = 0.2
    pos_weight: float | None = None  # None: negatives / positives in the training split
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes kept with the run

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 2:
            raise ValueError(f"batch size must be at least 2, got {self.batch_size}")
        if not 0.0 <= self.modality_dropout < 1.0:
            raise ValueError(f"modality_dropout must be in [0, 1), got {self.modality_dropout}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return _from_dict(cls, data)
