"""Level-1 encoders: each turns one modality's input into tokens (B, L, D) and a token mask.

Every encoder has the same small contract: `forward(*inputs) -> (tokens, mask)` with
`tokens` (B, L, dim) and `mask` (B, L) bool (True = a real token).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, conv1x1

from amff.nn.attention import Block


class TabularEncoder(nn.Module):
    """Clinical record -> MLP -> `n_tokens` tokens.

    A missing numeric value is replaced by a learned per-feature value (its missing-value
    embedding) and its missing flag is an input too, so the MLP can tell "missing" from
    "average". Categorical columns get an embedding per category (0 = missing or unseen).
    """

    def __init__(
        self,
        n_numeric: int,
        cat_cardinalities: list[int],
        hidden: int,
        n_tokens: int,
        dim: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.n_tokens, self.dim = n_tokens, dim
        self.missing_value = nn.Parameter(torch.zeros(n_numeric))
        cat_dim = 8
        self.cat_embeddings = nn.ModuleList(nn.Embedding(k + 1, cat_dim) for k in cat_cardinalities)
        in_dim = max(1, 2 * n_numeric + cat_dim * len(cat_cardinalities))
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, n_tokens * dim),
        )
        self.position = nn.Parameter(torch.randn(1, n_tokens, dim) * 0.02)

    def forward(self, values: Tensor, missing: Tensor, categories: Tensor) -> tuple[Tensor, Tensor]:
        # values, missing: (B, F) float; categories: (B, C) long
        filled = torch.where(missing > 0.5, self.missing_value.expand_as(values), values)
        parts = [filled, missing]
        parts += [emb(categories[:, i]) for i, emb in enumerate(self.cat_embeddings)]
        x = torch.cat(parts, dim=1)  # (B, 2F + 8C)
        if x.shape[1] == 0:
            x = values.new_zeros(values.shape[0], 1)
        tokens = self.mlp(x).view(-1, self.n_tokens, self.dim) + self.position  # (B, T, D)
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        return tokens, mask


class TextEncoder(nn.Module):
    """Clinical note: WordPiece ids -> token and position embeddings -> transformer encoder."""

    def __init__(
        self, vocab_size: int, max_len: int, dim: int, heads: int, layers: int, dropout: float
    ) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.position = nn.Parameter(torch.randn(1, max_len, dim) * 0.02)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(dim, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        return self.forward_embeddings(self.token_embedding(ids), ids != 0)

    def forward_embeddings(self, embedded: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """From token embeddings (B, L, D) on; the attribution methods start here."""
        x = self.dropout(embedded + self.position[:, : embedded.shape[1]])  # (B, L, D)
        for block in self.blocks:
            x = block(x, mask=mask)
        return self.norm(x), mask


def _resnet_stage(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    downsample = None
    if stride != 1 or inplanes != planes:
        downsample = nn.Sequential(conv1x1(inplanes, planes, stride), nn.BatchNorm2d(planes))
    layers = [BasicBlock(inplanes, planes, stride, downsample)]
    layers += [BasicBlock(planes, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ImageEncoder(nn.Module):
    """Medical image: ResNet-18 (torchvision's BasicBlock, layout [2, 2, 2, 2]), one-channel stem.

    Choices for 64x64 grayscale inputs, trained from scratch on CPU:
    - base width `width` (torchvision's is 64): 16 keeps the 18-layer depth at a sixteenth of
      the parameters (0.7 M against 11 M), so it trains at CPU speed and the shipped
      checkpoints stay small; the simulated images carry little fine texture.
    - the standard stem (7x7 stride 2, max-pool) and a last stage of stride 1 (not 2), so a
      64x64 input leaves a 4x4 feature map: 16 cells become 16 tokens, fine enough for the
      pooling attention to point at a region (a 2x2 map would only say "a quadrant").
    """

    def __init__(self, width: int, dim: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, width, kernel_size=7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        widths = [width, 2 * width, 4 * width, 8 * width]
        strides = [1, 2, 2, 1]
        stages, inplanes = [], width
        for planes, stride in zip(widths, strides):
            stages.append(_resnet_stage(inplanes, planes, 2, stride))
            inplanes = planes
        self.stages = nn.Sequential(*stages)
        self.to_tokens = nn.Linear(inplanes, dim)
        self.grid = 4
        self.position = nn.Parameter(torch.randn(1, self.grid * self.grid, dim) * 0.02)
        self.cells = nn.AdaptiveAvgPool2d(self.grid)

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        x = self.stages(self.stem(image))  # (B, 8w, h, w): 4x4 for a 64x64 input
        x = self.cells(x)  # (B, 8w, 4, 4) for any input size
        tokens = self.to_tokens(x.flatten(2).transpose(1, 2)) + self.position  # (B, 16, D)
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        return tokens, mask


class RnaEncoder(nn.Module):
    """RNA-seq: standardised log-CPM of the genes (+ log library size) -> feed-forward -> tokens."""

    def __init__(self, n_inputs: int, hidden: int, n_tokens: int, dim: int, dropout: float) -> None:
        super().__init__()
        self.n_tokens, self.dim = n_tokens, dim
        self.net = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(n_inputs, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, n_tokens * dim),
        )
        self.position = nn.Parameter(torch.randn(1, n_tokens, dim) * 0.02)

    def forward(self, expression: Tensor) -> tuple[Tensor, Tensor]:
        tokens = self.net(expression).view(-1, self.n_tokens, self.dim) + self.position
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        return tokens, mask  # (B, T, D)
