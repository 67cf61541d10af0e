"""Tensors for the model: a Batch holds every modality's inputs and the present mask."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor
from torch.utils.data import Dataset

from amff.modalities import Modality


@dataclass
class Batch:
    """Model inputs for B patients; rows of absent modalities hold zeros and are never read.

    present is (B, 4) bool in modality order; label is (B,) float or None.
    """

    tabular_values: Tensor  # (B, F) float, standardised, 0 where missing
    tabular_missing: Tensor  # (B, F) float, 1 = missing
    tabular_categories: Tensor  # (B, C) long, 0 = missing or unseen
    text_ids: Tensor  # (B, L) long WordPiece ids, 0 = padding
    image: Tensor  # (B, 1, S, S) float, normalised
    rna: Tensor  # (B, G + 1) float: standardised log-CPM and log library size
    present: Tensor  # (B, 4) bool
    label: Tensor | None = None  # (B,) float

    def __len__(self) -> int:
        return self.present.shape[0]

    def inputs(self, modality: Modality) -> tuple[Tensor, ...]:
        """The tensors one modality's encoder takes, in its argument order."""
        if modality is Modality.TABULAR:
            return (self.tabular_values, self.tabular_missing, self.tabular_categories)
        if modality is Modality.TEXT:
            return (self.text_ids,)
        if modality is Modality.IMAGE:
            return (self.image,)
        return (self.rna,)

    def index(self, idx: Tensor | slice) -> Batch:
        """The patients at idx (a LongTensor or a slice)."""
        values = {}
        for f in fields(self):
            tensor = getattr(self, f.name)
            values[f.name] = None if tensor is None else tensor[idx]
        return Batch(**values)

    def to(self, device: torch.device | str) -> Batch:
        values = {}
        for f in fields(self):
            tensor = getattr(self, f.name)
            values[f.name] = None if tensor is None else tensor.to(device)
        return Batch(**values)

    def trim_text(self) -> Batch:
        """Drop padding columns that no note in this batch uses (saves attention work)."""
        used = int((self.text_ids != 0).sum(dim=1).max().item()) if len(self) else 0
        return replace(self, text_ids=self.text_ids[:, : max(used, 1)])

    def with_present(self, present: Tensor) -> Batch:
        """The same inputs with another present mask (modality toggles, masking)."""
        return replace(self, present=present)

    @staticmethod
    def concat(batches: list[Batch]) -> Batch:
        values = {}
        for f in fields(Batch):
            parts = [getattr(b, f.name) for b in batches]
            values[f.name] = None if any(p is None for p in parts) else torch.cat(parts, dim=0)
        return Batch(**values)


class IndexDataset(Dataset):
    """A dataset of patient positions; `collate` turns a list of positions into a Batch.

    Keeping the whole cohort as tensors and indexing it avoids per-patient collation; a
    DistributedSampler or a shuffling sampler works on the positions.
    """

    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def __len__(self) -> int:
        return len(self.batch)

    def __getitem__(self, i: int) -> int:
        return i

    def collate(self, positions: list[int]) -> Batch:
        return self.batch.index(torch.as_tensor(positions, dtype=torch.long))
