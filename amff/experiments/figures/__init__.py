"""Figures of the reproduction, from results.json: a PNG (matplotlib) and an interactive Plotly
version of each, drawn from one description so both show the same numbers.

    spec = fig4_data_size(results)      # data in: a FigureSpec (panels of series)
    to_matplotlib(spec).savefig(...)    # drawing
    to_plotly(spec)                     # the same figure, interactive

Colours are the Okabe-Ito palette (safe for colour-blind readers); error bars are +-1 sd over
seeds unless a caption says otherwise; PNGs are 960 px wide, readable at 800 px.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
METHOD_COLORS = {
    "amff": OKABE_ITO["blue"],
    "early": OKABE_ITO["orange"],
    "late": OKABE_ITO["green"],
    "amff-no-cross-attention": OKABE_ITO["purple"],
    "amff-no-masking": OKABE_ITO["vermillion"],
    "amff-mean-pooling": OKABE_ITO["sky"],
}
METHOD_NAMES = {
    "amff": "AMFF-HT",
    "early": "Early fusion",
    "late": "Late fusion",
    "amff-no-cross-attention": "AMFF-HT, no cross-attention",
    "amff-no-masking": "AMFF-HT, no modality masking",
    "amff-mean-pooling": "AMFF-HT, mean pooling",
}
MAIN = ("amff", "early", "late")
MODALITY_NAMES = {
    "tabular": "clinical record",
    "text": "clinical note",
    "image": "image",
    "rna": "RNA-seq",
}
WIDTH_IN, DPI = 8.0, 120


# -- the description -----------------------------------------------------------------------
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


def _v(s: dict[str, Any] | None, key: str = "mean") -> float | None:
    if s is None:
        return None
    value = s.get(key)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _sd_band(summaries: Sequence[dict[str, Any]]) -> tuple[list, list]:
    low, high = [], []
    for s in summaries:
        mean, sd = _v(s), _v(s, "sd")
        low.append(None if mean is None or sd is None else mean - sd)
        high.append(None if mean is None or sd is None else mean + sd)
    return low, high


def _values(summaries: Sequence[dict[str, Any]]) -> list[list[float]]:
    return [list(s.get("values") or []) for s in summaries]


# -- figures -------------------------------------------------------------------------------
def fig2_training_dynamics(results: dict[str, Any]) -> FigureSpec:
    sec = results["sim1"]
    curves = sec["curves"]
    epochs = list(range(1, len(curves["val_auroc"]) + 1))

    def line(key: str, name: str, color: str, dash: bool = False) -> Series:
        points = curves[key]
        return Series(
            name,
            epochs,
            [_v(p) for p in points],
            color,
            low=[_v(p, "min") for p in points],
            high=[_v(p, "max") for p in points],
            dash=dash,
        )

    metrics_panel = Panel(
        "Validation metrics",
        "epoch",
        "score on the validation split",
        [
            line("val_auroc", "AUROC", OKABE_ITO["blue"]),
            line("val_f1", "F1", OKABE_ITO["vermillion"]),
            line("val_accuracy", "accuracy", OKABE_ITO["green"]),
        ],
    )
    loss_panel = Panel(
        "Loss",
        "epoch",
        "binary cross-entropy (pos.-weighted)",
        [
            line("train_loss", "training loss", OKABE_ITO["orange"], dash=True),
            line("val_loss", "validation loss", OKABE_ITO["purple"]),
        ],
    )
    n_seeds = len(sec["per_seed"])
    return FigureSpec(
        "fig2_training_dynamics",
        f"Simulation 1: AMFF-HT training dynamics (N = {sec['n']:,}, {n_seeds} seeds)",
        [metrics_panel, loss_panel],
        "Mean over seeds; the band spans the lowest to the highest seed. Runs stop early, so "
        "later epochs average fewer seeds. F1 and accuracy at probability 0.5, as the trainer "
        "logs them; training loss with dropout and modality masking on.",
    )


def fig3_per_modality(results: dict[str, Any]) -> FigureSpec:
    sec = results["sim2"]
    modalities = ["tabular", "text", "image", "rna"]
    labels = [MODALITY_NAMES[m] for m in modalities]
    panels = []
    for metric, name in (("auroc", "AUROC"), ("f1", "F1")):
        series = []
        for method, label, color in (
            ("amff", "AMFF-HT, one modality on", METHOD_COLORS["amff"]),
            ("late", "model trained on that modality alone", METHOD_COLORS["late"]),
        ):
            rows = [sec["methods"][method][m][metric] for m in modalities]
            low, high = _sd_band(rows)
            series.append(
                Series(
                    label,
                    labels,
                    [_v(r) for r in rows],
                    color,
                    "point",
                    low,
                    high,
                    seeds=_values(rows),
                )
            )
        panels.append(
            Panel(
                f"{name} on the held-out cohort",
                "modality on at test time",
                name,
                series,
                categorical=True,
            )
        )
    return FigureSpec(
        "fig3_per_modality",
        "Simulation 2: one modality at test time",
        panels,
        "Mean ± 1 sd over seeds; patients without the modality are left out. F1 at each "
        "model's validation threshold for that modality.",
    )


def fig3b_subsets(results: dict[str, Any]) -> FigureSpec:
    sec = results["sim2"]
    subsets = list(sec["methods"]["amff"])
    series = []
    for method in MAIN:
        rows = [sec["methods"][method][s]["auroc"] for s in subsets]
        low, high = _sd_band(rows)
        series.append(
            Series(
                METHOD_NAMES[method],
                subsets,
                [_v(r) for r in rows],
                METHOD_COLORS[method],
                "point",
                low,
                high,
            )
        )
    return FigureSpec(
        "fig3b_subsets",
        "Simulation 2: every modality subset at test time",
        [
            Panel(
                "AUROC by the modalities switched on",
                "AUROC on the held-out cohort",
                "modalities on",
                series,
                categorical=True,
                horizontal=True,
            )
        ],
        "Mean ± 1 sd over seeds. With one modality on, late fusion is the model trained on "
        "that modality alone.",
        columns=1,
    )


def table1_fusion_benchmark(results: dict[str, Any]) -> FigureSpec:
    sec = results["sim3"]
    methods = list(sec["rows"])
    names = [METHOD_NAMES[m] for m in methods]
    panels = []
    for metric, label in (("auroc", "AUROC"), ("f1", "F1"), ("accuracy", "accuracy")):
        series = []
        for m, name in zip(methods, names):
            row = sec["rows"][m][metric]
            low, high = _sd_band([row])
            series.append(
                Series(
                    name,
                    [name],
                    [_v(row)],
                    METHOD_COLORS[m],
                    "point",
                    low,
                    high,
                    seeds=_values([row]),
                )
            )
        paper = Series(
            "paper's Table 1",
            [METHOD_NAMES[m] for m in sec["paper"]],
            [sec["paper"][m][metric] for m in sec["paper"]],
            OKABE_ITO["black"],
            "point",
        )
        references = (
            [(sec["oracles"]["bayes"][metric], "Bayes oracle")] if metric == "auroc" else []
        )
        panels.append(
            Panel(
                label,
                f"{label} on the held-out cohort",
                "",
                [*series, paper],
                categorical=True,
                references=references,
                horizontal=True,
            )
        )
    diffs = sec["differences"]
    keys = [k for k in diffs if k.startswith("amff-vs-")]
    labels = [f"minus {METHOD_NAMES[k.split('-vs-')[1]]}" for k in keys]
    seeds = [diffs[k]["auroc"] for k in keys]
    boot = [diffs[k]["auroc_bootstrap"] for k in keys]
    panels.append(
        Panel(
            "AMFF-HT AUROC minus ...",
            "AUROC difference (95% CI)",
            "",
            [
                Series(
                    "over seeds (t)",
                    labels,
                    [_v(s) for s in seeds],
                    OKABE_ITO["blue"],
                    "point",
                    [_v(s, "low") for s in seeds],
                    [_v(s, "high") for s in seeds],
                ),
                Series(
                    "over test patients (bootstrap)",
                    labels,
                    [b["difference"] for b in boot],
                    OKABE_ITO["vermillion"],
                    "point",
                    [b["low"] for b in boot],
                    [b["high"] for b in boot],
                ),
            ],
            categorical=True,
            references=[(0.0, "no difference")],
            horizontal=True,
        )
    )
    return FigureSpec(
        "table1_fusion_benchmark",
        f"Simulation 3: fusion benchmark (N = {sec['n']:,})",
        panels,
        "Mean ± 1 sd over seeds, small dots single seeds; black diamonds: the paper's Table 1 "
        "(its own, unpublished simulator: levels are not comparable). Last panel: paired "
        "differences with 95% intervals over seeds and over test patients.",
    )


def fig4_data_size(results: dict[str, Any]) -> FigureSpec:
    sec = results["sim4"]
    sizes = sec["sizes"]
    panels = []
    for metric, label in (("auroc", "AUROC"), ("f1", "F1")):
        series = []
        for m in MAIN:
            rows = [sec["by_size"][str(n)][m][metric] for n in sizes]
            low, high = _sd_band(rows)
            series.append(
                Series(
                    METHOD_NAMES[m],
                    sizes,
                    [_v(r) for r in rows],
                    METHOD_COLORS[m],
                    "line",
                    low,
                    high,
                    seeds=_values(rows),
                )
            )
        panels.append(
            Panel(
                f"{label} against training size",
                "training cohort size N (patients)",
                f"{label} on the held-out cohort",
                series,
            )
        )
    return FigureSpec(
        "fig4_data_size",
        "Simulation 4: data size",
        panels,
        "Mean ± 1 sd over seeds (the band); dots are single seeds.",
    )


def fig5a_corruption(results: dict[str, Any]) -> FigureSpec:
    sec = results["sim5a"]
    panels = []
    for modality in ("tabular", "text", "image", "rna"):
        series = []
        for m in MAIN:
            points = sec["auroc"][m][modality]
            low, high = _sd_band(points)
            series.append(
                Series(
                    METHOD_NAMES[m],
                    [p["severity"] for p in points],
                    [_v(p) for p in points],
                    METHOD_COLORS[m],
                    "line",
                    low,
                    high,
                )
            )
        panels.append(
            Panel(
                f"{MODALITY_NAMES[modality]} corrupted",
                "corruption severity (0 = clean, 1 = worst)",
                "AUROC",
                series,
            )
        )
    return FigureSpec(
        "fig5a_corruption",
        "Beyond the paper (a): one modality corrupted at test time",
        panels,
        "Mean ± 1 sd over seeds; models trained on clean data. Severity follows "
        "amff.data.simulate.corrupt.",
    )


def fig5b_missing(results: dict[str, Any]) -> FigureSpec:
    sec = results["sim5b"]
    series = []
    for m in sec["auroc"]:
        points = sec["auroc"][m]
        low, high = _sd_band(points)
        series.append(
            Series(
                METHOD_NAMES[m],
                [p["rate"] for p in points],
                [_v(p) for p in points],
                METHOD_COLORS[m],
                "line",
                low,
                high,
                dash=m not in MAIN,
            )
        )
    return FigureSpec(
        "fig5b_missing",
        "Beyond the paper (b): modalities missing at test time",
        [
            Panel(
                "AUROC as modalities go missing",
                "probability that each present modality is removed",
                "AUROC on the held-out cohort",
                series,
            )
        ],
        "Mean ± 1 sd over seeds; every patient keeps at least one modality. Dashed: ablations.",
        columns=1,
    )


def fig5c_synergy(results: dict[str, Any]) -> FigureSpec:
    sec = results["sim5c"]
    scenarios = list(sec["scenarios"].values())
    labels = [s["label"] for s in scenarios]
    series = []
    for m in MAIN:
        rows = [s["rows"][m]["auroc"] for s in scenarios]
        low, high = _sd_band(rows)
        series.append(
            Series(
                METHOD_NAMES[m],
                labels,
                [_v(r) for r in rows],
                METHOD_COLORS[m],
                "point",
                low,
                high,
                seeds=_values(rows),
            )
        )
    series.append(
        Series(
            "Bayes oracle",
            labels,
            [s["bayes_auroc"] for s in scenarios],
            OKABE_ITO["black"],
            "point",
        )
    )
    return FigureSpec(
        "fig5c_synergy",
        "Beyond the paper (c): with and without the synergy term",
        [Panel("AUROC by simulator", "", "AUROC on the held-out cohort", series, categorical=True)],
        "Mean ± 1 sd over seeds. With gamma = 0 no outcome signal needs two modalities at once, "
        "so late fusion loses nothing by fusing late.",
        columns=1,
    )


def fig5d_weights(results: dict[str, Any]) -> FigureSpec:
    sec = results["sim5d"]
    modalities = ["tabular", "text", "image", "rna"]
    labels = [MODALITY_NAMES[m] for m in modalities]
    table = sec["methods"]["amff"]
    panels = []
    series = []
    for quality, color in (("good", OKABE_ITO["blue"]), ("poor", OKABE_ITO["vermillion"])):
        rows = [table[m][quality] for m in modalities]
        low, high = _sd_band(rows)
        series.append(
            Series(
                f"{quality}-quality reading",
                labels,
                [_v(r) for r in rows],
                color,
                "bar",
                low,
                high,
                seeds=_values(rows),
            )
        )
    panels.append(
        Panel(
            "AMFF-HT's weight by reading quality",
            "modality",
            "mean adaptive weight alpha",
            series,
            categorical=True,
            references=[(0.25, "equal weights")],
        )
    )
    if "sim5a" in results:
        weights = results["sim5a"]["amff_weight_of_corrupted_modality"]
        series = []
        for m, color in zip(
            modalities,
            (OKABE_ITO["orange"], OKABE_ITO["purple"], OKABE_ITO["blue"], OKABE_ITO["green"]),
        ):
            points = weights[m]
            low, high = _sd_band(points)
            series.append(
                Series(
                    MODALITY_NAMES[m],
                    [p["severity"] for p in points],
                    [_v(p) for p in points],
                    color,
                    "line",
                    low,
                    high,
                )
            )
        panels.append(
            Panel(
                "Weight of a modality as it is corrupted",
                "corruption severity",
                "mean weight of the corrupted modality",
                series,
            )
        )
    return FigureSpec(
        "fig5d_weights",
        "Beyond the paper (d): do the adaptive weights adapt?",
        panels,
        "Mean ± 1 sd over seeds; left: test patients with all four modalities, split by the "
        "simulator's quality flag; right: patients with the corrupted modality.",
    )


def fig5e_limited_noisy(results: dict[str, Any]) -> FigureSpec:
    sec = results["sim5e"]
    scenarios = sec["scenarios"]
    labels = [f"{name.replace('_', ' + ')}\n(N = {s['n']:,})" for name, s in scenarios.items()]
    series = []
    for m in MAIN:
        rows = [s["rows"][m]["auroc"] for s in scenarios.values()]
        low, high = _sd_band(rows)
        series.append(
            Series(
                METHOD_NAMES[m],
                labels,
                [_v(r) for r in rows],
                METHOD_COLORS[m],
                "point",
                low,
                high,
                seeds=_values(rows),
            )
        )
    gains = []
    for base, color in (("early", METHOD_COLORS["early"]), ("late", METHOD_COLORS["late"])):
        rows = [s["amff_minus"][base] for s in scenarios.values()]
        gains.append(
            Series(
                f"AMFF-HT minus {METHOD_NAMES[base].lower()}",
                labels,
                [_v(r) for r in rows],
                color,
                "point",
                [_v(r, "low") for r in rows],
                [_v(r, "high") for r in rows],
            )
        )
    return FigureSpec(
        "fig5e_limited_noisy",
        "Beyond the paper (e): limited and noisy data",
        [
            Panel(
                "AUROC by scenario", "", "AUROC on the held-out cohort", series, categorical=True
            ),
            Panel(
                "AMFF-HT's gain (95% interval over seeds)",
                "",
                "AUROC difference",
                gains,
                categorical=True,
                references=[(0.0, "no gain")],
            ),
        ],
        "Noisy: poor_quality_rate = 0.5 (default 0.2), the held-out cohort drawn the same way.",
    )


BUILDERS: dict[str, tuple[str, Callable[[dict[str, Any]], FigureSpec]]] = {
    "fig2_training_dynamics": ("sim1", fig2_training_dynamics),
    "fig3_per_modality": ("sim2", fig3_per_modality),
    "fig3b_subsets": ("sim2", fig3b_subsets),
    "table1_fusion_benchmark": ("sim3", table1_fusion_benchmark),
    "fig4_data_size": ("sim4", fig4_data_size),
    "fig5a_corruption": ("sim5a", fig5a_corruption),
    "fig5b_missing": ("sim5b", fig5b_missing),
    "fig5c_synergy": ("sim5c", fig5c_synergy),
    "fig5d_weights": ("sim5d", fig5d_weights),
    "fig5e_limited_noisy": ("sim5e", fig5e_limited_noisy),
}


def build_all(results: dict[str, Any]) -> list[FigureSpec]:
    """Every figure whose section is in results."""
    return [build(results) for section, build in BUILDERS.values() if section in results]


# -- matplotlib ----------------------------------------------------------------------------
def _clean(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


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


def _self_labelled(panel: Panel, s: Series) -> bool:
    """A series that is its own category (one method per row): the axis names it already."""
    return panel.categorical and list(s.x) == [s.name]


def _offsets(panel: Panel, kind: str, step: float) -> dict[tuple[int, Any], float]:
    """Dodge: the offset of each (series, category) among the series of `kind` sharing it."""
    offsets = {}
    categories = {c for s in panel.series for c in s.x}
    for c in categories:
        sharing = [i for i, s in enumerate(panel.series) if s.kind == kind and c in s.x]
        for k, i in enumerate(sharing):
            offsets[(i, c)] = (k - (len(sharing) - 1) / 2) * step / max(1, len(sharing))
    return offsets


def _draw_panel(ax: Any, panel: Panel) -> None:
    import numpy as np

    ax.set_title(panel.title, fontsize=10)
    categories: list[Any] = []
    if panel.categorical:
        for s in panel.series:
            categories += [c for c in s.x if c not in categories]
    bar_offsets = _offsets(panel, "bar", 0.8)
    point_offsets = _offsets(panel, "point", 0.5)
    for i, s in enumerate(panel.series):
        y = np.array(_clean(s.y))
        label = "_nolegend_" if _self_labelled(panel, s) else s.name
        if panel.categorical:
            offsets = bar_offsets if s.kind == "bar" else point_offsets
            x = np.array([categories.index(c) + offsets.get((i, c), 0.0) for c in s.x])
        else:
            x = np.array(s.x, dtype=float)
        err = None
        if s.low is not None and s.high is not None:
            low, high = np.array(_clean(s.low)), np.array(_clean(s.high))
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
                xs,
                ys,
                **{e: err},
                fmt=marker,
                color=s.color,
                label=label,
                capsize=3,
                ms=5,
                zorder=3,
            )
        else:
            ax.plot(
                x,
                y,
                marker="o",
                ms=3.5,
                color=s.color,
                label=label,
                linestyle="--" if s.dash else "-",
            )
            if err is not None:
                ax.fill_between(x, y - err[0], y + err[1], color=s.color, alpha=0.12, lw=0)
        for xi, values in zip(x, s.seeds or []):  # the single seeds behind a mean
            dots = (
                (values, [xi] * len(values)) if panel.horizontal else ([xi] * len(values), values)
            )
            ax.plot(
                *dots,
                "o",
                ms=2.5,
                color="#333333" if s.kind == "bar" else s.color,
                alpha=0.7,
                zorder=4,
            )
    for value, label in panel.references:
        if value is None:
            continue
        line = ax.axvline if panel.horizontal else ax.axhline
        line(value, color="#555555", linestyle=":", linewidth=1.2, label=label)
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


# -- plotly --------------------------------------------------------------------------------
def to_plotly(spec: FigureSpec) -> Any:
    """The same figure as an interactive Plotly Figure."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    columns = min(spec.columns, len(spec.panels))
    rows = math.ceil(len(spec.panels) / columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=[p.title for p in spec.panels])
    shown: set[str] = set()
    for index, panel in enumerate(spec.panels):
        row, col = index // columns + 1, index % columns + 1
        for s in panel.series:
            y = _clean(s.y)
            error = None
            if s.low is not None and s.high is not None:
                plus = [h - v if h is not None else None for h, v in zip(s.high, s.y)]
                minus = [v - lo if lo is not None else None for lo, v in zip(s.low, s.y)]
                error = {"type": "data", "array": plus, "arrayminus": minus, "visible": True}
            x = [str(v).replace("\n", " ") for v in s.x] if panel.categorical else s.x
            common = {
                "name": s.name,
                "legendgroup": s.name,
                "showlegend": s.name not in shown and not _self_labelled(panel, s),
                "marker": {"color": s.color},
            }
            shown.add(s.name)
            if s.kind == "bar":
                trace = (
                    go.Bar(x=y, y=x, orientation="h", error_x=error, **common)
                    if panel.horizontal
                    else go.Bar(x=x, y=y, error_y=error, **common)
                )
            elif s.kind == "point" or panel.horizontal:
                trace = (
                    go.Scatter(x=y, y=x, mode="markers", error_x=error, **common)
                    if panel.horizontal
                    else go.Scatter(x=x, y=y, mode="markers", error_y=error, **common)
                )
            else:
                trace = go.Scatter(
                    x=x,
                    y=y,
                    mode="lines+markers",
                    error_y=error,
                    line={"dash": "dash" if s.dash else "solid"},
                    **common,
                )
            fig.add_trace(trace, row=row, col=col)
        for value, label in panel.references:
            if value is None:
                continue
            if panel.horizontal:
                fig.add_vline(x=value, line_dash="dot", annotation_text=label, row=row, col=col)
            else:
                fig.add_hline(y=value, line_dash="dot", annotation_text=label, row=row, col=col)
        fig.update_xaxes(
            title_text=panel.xlabel if not panel.horizontal else panel.xlabel, row=row, col=col
        )
        fig.update_yaxes(title_text=panel.ylabel, row=row, col=col)
        if any(isinstance(v, int) and v >= 1000 for s in panel.series for v in s.x):
            fig.update_xaxes(type="log", row=row, col=col)
        if panel.horizontal:
            fig.update_yaxes(autorange="reversed", row=row, col=col)
    fig.update_layout(
        title={"text": spec.title},
        barmode="group",
        template="simple_white",
        height=420 * rows + (200 if any(p.horizontal for p in spec.panels) else 0),
        legend={"orientation": "h", "y": -0.15},
        margin={"b": 120},
    )
    return fig


# -- writing -------------------------------------------------------------------------------
def write_all(results: dict[str, Any], out: Path, html_name: str = "results.html") -> dict:
    """Write every figure as PNG, and all of them in one self-contained HTML page (plotly.js
    embedded once, so it works offline). Returns {"png": {name: file}, "html": file}."""
    import matplotlib.pyplot as plt

    specs = build_all(results)
    written: dict[str, Any] = {"png": {}, "html": html_name}
    for spec in specs:
        fig = to_matplotlib(spec)
        fig.savefig(out / f"{spec.name}.png", dpi=DPI)
        plt.close(fig)
        written["png"][spec.name] = f"{spec.name}.png"
    parts = []
    for i, spec in enumerate(specs):
        fig = to_plotly(spec)
        parts.append(f"<section><p>{spec.caption}</p>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
        parts.append("</section>")
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<title>AMFF-HT reproduction</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "section{margin-bottom:48px}</style></head><body>"
        "<h1>AMFF-HT: reproduction of the paper's simulations</h1>"
        f"<p>{results['meta']['command']} (commit "
        f"{(results['meta']['git'].get('commit') or 'unknown')[:12]}). Numbers: results.json; "
        "verdicts: REPRODUCTION.md.</p>" + "".join(parts) + "</body></html>"
    )
    (out / html_name).write_text(page, encoding="utf-8")
    return written
