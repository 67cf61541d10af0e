"""A figure described as data: panels of series, drawn by render_png and render_html alike."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from amff.config import MODEL_KINDS

# Short modality words for legends ("image", where Modality.label says "medical image")
MODALITY_NAMES = {
    "tabular": "clinical record",
    "text": "clinical note",
    "image": "image",
    "rna": "RNA-seq",
}
MAIN = MODEL_KINDS


@dataclass
class Series:
    """One line, set of bars or set of points; low/high draw a band or error bars."""

    name: str
    x: list[Any]
    y: list[float | None]
    color: str
    kind: str = "line"  # line | bar | point
    low: list[float | None] | None = None
    high: list[float | None] | None = None
    dash: bool = False
    seeds: list[list[float]] | None = None  # the per-seed values behind each point


@dataclass
class Panel:
    title: str
    xlabel: str
    ylabel: str
    series: list[Series]
    categorical: bool = False
    references: list[tuple[float, str]] = field(default_factory=list)  # horizontal lines
    horizontal: bool = False  # categories on the y axis (forest plots)


@dataclass
class FigureSpec:
    name: str
    title: str
    panels: list[Panel]
    caption: str
    columns: int = 2


def clean(values: Sequence[float | None]) -> list[float]:
    """Values as floats, None as NaN (what both renderers draw)."""
    return [math.nan if v is None else float(v) for v in values]


def self_labelled(panel: Panel, s: Series) -> bool:
    """A series that is its own category (one method per row): the axis names it already."""
    return panel.categorical and list(s.x) == [s.name]


def stat(s: dict[str, Any] | None, key: str = "mean") -> float | None:
    """A summary's value, None when missing or NaN."""
    if s is None:
        return None
    value = s.get(key)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def sd_band(summaries: Sequence[dict[str, Any]]) -> tuple[list, list]:
    """mean - sd and mean + sd of each summary."""
    low, high = [], []
    for s in summaries:
        mean, sd = stat(s), stat(s, "sd")
        low.append(None if mean is None or sd is None else mean - sd)
        high.append(None if mean is None or sd is None else mean + sd)
    return low, high


def seed_values(summaries: Sequence[dict[str, Any]]) -> list[list[float]]:
    """The per-seed values behind each summary."""
    return [list(s.get("values") or []) for s in summaries]


def summary_series(
    name: str,
    x: list[Any],
    rows: Sequence[dict[str, Any]],
    color: str,
    kind: str,
    seeds: bool = False,
    dash: bool = False,
) -> Series:
    """A series of means with +-1 sd bars (and the single seeds, if asked)."""
    low, high = sd_band(rows)
    return Series(
        name,
        x,
        [stat(r) for r in rows],
        color,
        kind,
        low,
        high,
        dash=dash,
        seeds=seed_values(rows) if seeds else None,
    )


def interval_series(name: str, x: list[Any], rows: Sequence[dict[str, Any]], color: str) -> Series:
    """Points with their 95% interval (low, high of each summary)."""
    return Series(
        name,
        x,
        [stat(r) for r in rows],
        color,
        "point",
        [stat(r, "low") for r in rows],
        [stat(r, "high") for r in rows],
    )
