"""One attention module for self-, cross- and pooling attention (after lucidrains' vit-pytorch)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Attention(nn.Module):
    """Multi-head attention: `forward(x)` is self-attention, `forward(x, context)` cross-attention.

    mask marks the keys that may be attended to (True = keep): shape (B, M) for every query, or
    (B, N, M) per query. Masked keys get exactly zero weight, and a query with no key left
    gets a zero output (not NaN). The attention map passes through `self.attend`, an identity
    module, so a forward hook can read it without flags threaded through forward.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim={dim} must be divisible by heads={heads}")
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.to_q = nn.Linear(dim, dim)
        self.to_kv = nn.Linear(dim, 2 * dim)
        self.attend = nn.Identity()  # hook point: receives the (B, H, N, M) attention map
        self.to_out = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(dropout))

    def forward(
        self, x: Tensor, context: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        context = x if context is None else context
        b, n, d = x.shape
        m = context.shape[1]
        h = self.heads
        q = self.to_q(x).view(b, n, h, d // h).transpose(1, 2)  # (B, H, N, d)
        k, v = self.to_kv(context).chunk(2, dim=-1)
        k = k.view(b, m, h, d // h).transpose(1, 2)  # (B, H, M, d)
        v = v.view(b, m, h, d // h).transpose(1, 2)  # (B, H, M, d)
        scores = (q @ k.transpose(-2, -1)) * self.scale  # (B, H, N, M)
        if mask is not None:
            keep = mask[:, None, None, :] if mask.dim() == 2 else mask[:, None, :, :]
            scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
            attn = scores.softmax(dim=-1) * keep  # exact zeros; all-masked rows become zeros
        else:
            attn = scores.softmax(dim=-1)
        attn = self.attend(attn)
        out = (attn @ v).transpose(1, 2).reshape(b, n, d)  # (B, N, D)
        return self.to_out(out)


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Block(nn.Module):
    """A pre-norm transformer block: self-attention then feed-forward, each residual."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, 2 * dim, dropout)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = x + self.attn(self.norm1(x), mask=mask)
        x = x + self.ff(self.norm2(x))
        return x


class AttentionPool(nn.Module):
    """Pool tokens (B, L, D) into one vector (B, D) with a learned query.

    The weights over the tokens (which words, which image cells) are read by hooking
    `self.attn.attend`.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.attn = Attention(dim, heads)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: Tensor, mask: Tensor | None = None) -> Tensor:
        query = self.query.expand(tokens.shape[0], -1, -1)  # (B, 1, D)
        pooled = self.attn(query, context=tokens, mask=mask)  # (B, 1, D)
        return self.norm(pooled.squeeze(1) + query.squeeze(1))  # (B, D)
