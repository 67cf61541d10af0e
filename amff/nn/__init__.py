"""Neural building blocks: attention, encoders, fusion, and the three models."""

from amff.nn.attention import Attention, AttentionPool, Block
from amff.nn.models import AMFFHT, EarlyFusion, FusionOutput, LateFusion, UnimodalModel, build_model

__all__ = [
    "AMFFHT",
    "Attention",
    "AttentionPool",
    "Block",
    "EarlyFusion",
    "FusionOutput",
    "LateFusion",
    "UnimodalModel",
    "build_model",
]
