"""A FigureSpec drawn with matplotlib (Agg): the PNGs of the reproduction, 960 px wide."""

from __future__ import annotations

import math
from typing import Any

from amff.experiments.figures.spec import FigureSpec, Panel, Series, clean, self_labelled
from amff.palette import OKABE_ITO

WIDTH_IN, DPI = 8.0, 120


def to_matplotlib(spec: FigureSpec) -> Any:
    """A matplotlib Figure (Agg) for a FigureSpec."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(spec.columns, len(spec.panels))
    rows = math.ceil(len(spec.panels) / columns)
    tall = (
        max(len(p.series[0].x) for p in spec.panels if p.horizontal)
        if any(p.horizontal for p in spec.panels)
        else 0
    )
    height = max(3.6 * rows, 0.32 * tall + 1.6) + 0.9
    with plt.rc_context({"font.size": 10, "axes.spines.top": False, "axes.spines.right": False}):
        fig, axes = plt.subplots(rows, columns, figsize=(WIDTH_IN, height), squeeze=False)
        for ax, panel in zip(axes.flat, spec.panels):
            _draw_panel(ax, panel)
        for ax in list(axes.flat)[len(spec.panels) :]:
            ax.set_visible(False)
        fig.suptitle(spec.title, fontsize=12, fontweight="bold")
        fig.text(
            0.01,
            0.005,
            spec.caption,
            fontsize=8,
            ha="left",
            va="bottom",
            wrap=True,
            color="#444444",
        )
        fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    return fig


def _offsets(panel: Panel, kind: str, step: float) -> dict[tuple[int, Any], float]:
    """Dodge: the offset of each (series, category) among the series of `kind` sharing it."""
    offsets = {}
    categories = {c for s in panel.series for c in s.x}
    for c in categories:
        sharing = [i for i, s in enumerate(panel.series) if s.kind == kind and c in s.x]
        for k, i in enumerate(sharing):
            offsets[(i, c)] = (k - (len(sharing) - 1) / 2) * step / max(1, len(sharing))
    return offsets


def _categories(panel: Panel) -> list[Any]:
    """The categories of a categorical panel, in order of first appearance."""
    categories: list[Any] = []
    if panel.categorical:
        for s in panel.series:
            categories += [c for c in s.x if c not in categories]
    return categories


def _draw_panel(ax: Any, panel: Panel) -> None:
    import numpy as np

    ax.set_title(panel.title, fontsize=10)
    categories = _categories(panel)
    bar_offsets = _offsets(panel, "bar", 0.8)
    point_offsets = _offsets(panel, "point", 0.5)
    for i, s in enumerate(panel.series):
        if panel.categorical:
            offsets = bar_offsets if s.kind == "bar" else point_offsets
            x = np.array([categories.index(c) + offsets.get((i, c), 0.0) for c in s.x])
        else:
            x = np.array(s.x, dtype=float)
        _draw_series(ax, panel, s, x)
        _draw_seeds(ax, panel, s, x)
    for value, label in panel.references:
        if value is None:
            continue
        line = ax.axvline if panel.horizontal else ax.axhline
        line(value, color="#555555", linestyle=":", linewidth=1.2, label=label)
    _format_axes(ax, panel, categories)
    _legend(ax)


def _draw_series(ax: Any, panel: Panel, s: Series, x: Any) -> None:
    """One series as bars, points with error bars, or a line with a band."""
    import numpy as np

    y = np.array(clean(s.y))
    label = "_nolegend_" if self_labelled(panel, s) else s.name
    err = None
    if s.low is not None and s.high is not None:
        low, high = np.array(clean(s.low)), np.array(clean(s.high))
        err = np.vstack([y - low, high - y])
    if s.kind == "bar":
        sharing = max(1, sum(1 for b in panel.series if b.kind == "bar" and s.x[0] in b.x))
        width = 0.8 / sharing
        if panel.horizontal:
            ax.barh(x, y, height=width, color=s.color, label=label, xerr=err, capsize=2)
        else:
            ax.bar(x, y, width=width, color=s.color, label=label, yerr=err, capsize=2)
    elif s.kind == "point":
        marker = "D" if s.color == OKABE_ITO["black"] else "o"
        xs, ys, e = (y, x, "xerr") if panel.horizontal else (x, y, "yerr")
        ax.errorbar(
            xs, ys, **{e: err}, fmt=marker, color=s.color, label=label, capsize=3, ms=5, zorder=3
        )
    else:
        linestyle = "--" if s.dash else "-"
        ax.plot(x, y, marker="o", ms=3.5, color=s.color, label=label, linestyle=linestyle)
        if err is not None:
            ax.fill_between(x, y - err[0], y + err[1], color=s.color, alpha=0.12, lw=0)


def _draw_seeds(ax: Any, panel: Panel, s: Series, x: Any) -> None:
    """The single seeds behind each mean, as small dots."""
    color = "#333333" if s.kind == "bar" else s.color
    for xi, values in zip(x, s.seeds or []):
        dots = (values, [xi] * len(values)) if panel.horizontal else ([xi] * len(values), values)
        ax.plot(*dots, "o", ms=2.5, color=color, alpha=0.7, zorder=4)


def _format_axes(ax: Any, panel: Panel, categories: list[Any]) -> None:
    """Category ticks, axis labels, integer or log ticks and the grid."""
    if panel.categorical:
        ticks = list(range(len(categories)))
        names = [str(c) for c in categories]
        if panel.horizontal:
            ax.set_yticks(ticks, names, fontsize=8)
            ax.invert_yaxis()
        else:
            rotate = max(len(n) for n in names) > 14
            ax.set_xticks(
                ticks,
                names,
                rotation=20 if rotate else 0,
                ha="right" if rotate else "center",
                fontsize=8,
            )
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    if not panel.categorical and all(isinstance(v, int) for s in panel.series for v in s.x):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if any(isinstance(v, int) and v >= 1000 for s in panel.series for v in s.x):
        ax.set_xscale("log")
        ticks = sorted({v for s in panel.series for v in s.x})
        ax.set_xticks(ticks, [f"{t:,}" for t in ticks])
        ax.minorticks_off()
    ax.grid(axis="x" if panel.horizontal else "y", alpha=0.3)


def _legend(ax: Any) -> None:
    """One legend entry per name."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if unique:
        ax.legend(
            unique.values(),
            unique.keys(),
            fontsize=7.5,
            loc="best",
            framealpha=0.85,
            edgecolor="none",
        )
