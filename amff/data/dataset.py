"""Tensors for the model: a Batch holds every modality's inputs and the present mask."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import Dataset

from amff.modalities import Modality


@dataclass
class Batch:
    """Model inputs for B patients; rows of absent modalities hold zeros and are never read.

    tensors: each modality's encoder inputs, in its argument order, by modality name
    (tabular: values, missing flags, category codes; text: WordPiece ids; image: (B, 1, S, S);
    rna: standardised log-CPM and log library size). present is (B, M) bool in that order;
    label is (B,) float or None.
    """

    tensors: dict[str, tuple[Tensor, ...]]
    present: Tensor  # (B, M) bool
    label: Tensor | None = None  # (B,) float

    def __len__(self) -> int:
        return self.present.shape[0]

    @property
    def modalities(self) -> tuple[Modality, ...]:
        return tuple(Modality(name) for name in self.tensors)

    def inputs(self, modality: str) -> tuple[Tensor, ...]:
        """The tensors one modality's encoder takes, in its argument order."""
        return self.tensors[Modality(modality).value]

    def _map(self, fn) -> Batch:  # type: ignore[no-untyped-def]
        tensors = {name: tuple(fn(t) for t in parts) for name, parts in self.tensors.items()}
        label = None if self.label is None else fn(self.label)
        return Batch(tensors, fn(self.present), label)

    def index(self, idx: Tensor | slice) -> Batch:
        """The patients at idx (a LongTensor or a slice)."""
        return self._map(lambda t: t[idx])

    def to(self, device: torch.device | str) -> Batch:
        return self._map(lambda t: t.to(device))

    def trim(self) -> Batch:
        """Drop padding that no patient in this batch uses (saves attention work)."""
        tensors = {name: Modality(name).spec.trim(parts) for name, parts in self.tensors.items()}
        return Batch(tensors, self.present, self.label)

    def augment(self, flips: Tensor) -> Batch:
        """Training-time augmentation of every modality (flips: (B,) bool drawn per batch)."""
        tensors = {
            name: Modality(name).spec.augment(parts, flips) for name, parts in self.tensors.items()
        }
        return Batch(tensors, self.present, self.label)


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
