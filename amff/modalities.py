"""The four modalities, in the one order used everywhere (tensors, JSON, CLI, UI)."""

from __future__ import annotations

from enum import StrEnum


class Modality(StrEnum):
    """A data modality. The value is the name used in files, flags and JSON keys."""

    TABULAR = "tabular"
    TEXT = "text"
    IMAGE = "image"
    RNA = "rna"

    @property
    def label(self) -> str:
        """The plain-language name shown to users."""
        return _LABELS[self]


_LABELS = {
    Modality.TABULAR: "clinical record",
    Modality.TEXT: "clinical note",
    Modality.IMAGE: "medical image",
    Modality.RNA: "RNA-seq",
}

MODALITIES: tuple[Modality, ...] = (Modality.TABULAR, Modality.TEXT, Modality.IMAGE, Modality.RNA)
NAMES: tuple[str, ...] = tuple(m.value for m in MODALITIES)


def parse_modalities(text: str | None) -> tuple[Modality, ...]:
    """Parse 'tabular,image' into modalities (all four when text is empty or None).

    Raises ValueError with the accepted names when a name is unknown.
    """
    if text is None or not text.strip():
        return MODALITIES
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ValueError(
            f"unknown modality {unknown[0]!r}; use a comma-separated list of {', '.join(NAMES)}"
        )
    chosen = set(names)
    return tuple(m for m in MODALITIES if m.value in chosen)


def all_subsets() -> list[tuple[Modality, ...]]:
    """The 15 non-empty modality subsets, smallest first, in modality order within a size."""
    from itertools import combinations

    return [c for k in range(1, 5) for c in combinations(MODALITIES, k)]


def subset_name(subset: tuple[Modality, ...] | list[Modality]) -> str:
    """'tabular+image' for a subset; the key used in JSON for subset results."""
    return "+".join(m.value for m in subset)
