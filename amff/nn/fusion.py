"""Level 2: cross-modal attention over the modality vectors, then adaptive modality pooling."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from amff.nn.attention import Attention, FeedForward


class CrossModalLayer(nn.Module):
    """Each present modality queries the other present modalities (residual, LayerNorm, FF)."""

    def __init__(self, dim: int, heads: int, dropout: float, cross_attention: bool = True) -> None:
        super().__init__()
        self.cross_attention = cross_attention
        self.attn = Attention(dim, heads, dropout) if cross_attention else None
        self.norm1 = nn.LayerNorm(dim) if cross_attention else None
        self.ff = FeedForward(dim, 2 * dim, dropout)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, h: Tensor, present: Tensor) -> Tensor:
        # h: (B, M, D); present: (B, M) bool
        if self.attn is not None and self.norm1 is not None:
            m = h.shape[1]
            others = ~torch.eye(m, dtype=torch.bool, device=h.device)  # (M, M): not itself
            keys = present[:, None, :] & others[None]  # (B, M, M): query i may see present j != i
            h = self.norm1(h + self.attn(h, context=h, mask=keys))
        h = self.norm2(h + self.ff(h))
        return h * present[..., None]  # absent modalities stay exactly zero


class CrossModalFusion(nn.Module):
    def __init__(
        self, dim: int, heads: int, layers: int, dropout: float, cross_attention: bool = True
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            CrossModalLayer(dim, heads, dropout, cross_attention) for _ in range(layers)
        )

    def forward(self, h: Tensor, present: Tensor) -> Tensor:
        for layer in self.layers:
            h = layer(h, present)
        return h  # (B, M, D)


class ModalityPool(nn.Module):
    """The adaptive modality weights of paper section 3.4 (gated attention, Ilse et al. 2018).

    alpha_m = softmax over present m of w^T (tanh(V z_m) * sigmoid(U z_m)); 0 for absent m.
    With adaptive=False (the ablation) alpha is uniform over the present modalities.
    """

    def __init__(self, dim: int, hidden: int, adaptive: bool = True) -> None:
        super().__init__()
        self.adaptive = adaptive
        if adaptive:  # the mean-pooling ablation has no parameters
            self.V = nn.Linear(dim, hidden)
            self.U = nn.Linear(dim, hidden)
            self.w = nn.Linear(hidden, 1, bias=False)

    def forward(self, z: Tensor, present: Tensor) -> Tensor:
        # z: (B, M, D) -> alpha (B, M)
        if not self.adaptive:
            weights = present.float()
            return weights / weights.sum(dim=1, keepdim=True).clamp(min=1.0)
        scores = self.w(torch.tanh(self.V(z)) * torch.sigmoid(self.U(z))).squeeze(-1)  # (B, M)
        scores = scores.masked_fill(~present, torch.finfo(scores.dtype).min)
        return scores.softmax(dim=1) * present
