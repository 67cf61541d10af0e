"""The figures of our checks beyond the paper (5a-5e)."""

from __future__ import annotations

from typing import Any

from amff.experiments.figures.spec import (
    MAIN,
    MODALITY_NAMES,
    FigureSpec,
    Panel,
    Series,
    interval_series,
    summary_series,
)
from amff.palette import FIGURE_MODALITY_COLORS, METHOD_COLORS, METHOD_NAMES, OKABE_ITO

MODALITIES = ["tabular", "text", "image", "rna"]


def fig5a_corruption(results: dict[str, Any]) -> FigureSpec:
    sec = results["sim5a"]
    panels = []
    for modality in MODALITIES:
        series = [
            summary_series(
                METHOD_NAMES[m],
                [p["severity"] for p in sec["auroc"][m][modality]],
                sec["auroc"][m][modality],
                METHOD_COLORS[m],
                "line",
            )
            for m in MAIN
        ]
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
        "amff.simulator.corrupt.",
    )


def fig5b_missing(results: dict[str, Any]) -> FigureSpec:
    sec = results["sim5b"]
    series = [
        summary_series(
            METHOD_NAMES[m],
            [p["rate"] for p in points],
            points,
            METHOD_COLORS[m],
            "line",
            dash=m not in MAIN,
        )
        for m, points in sec["auroc"].items()
    ]
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
    series = [
        summary_series(
            METHOD_NAMES[m],
            labels,
            [s["rows"][m]["auroc"] for s in scenarios],
            METHOD_COLORS[m],
            "point",
            seeds=True,
        )
        for m in MAIN
    ]
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


def _weights_by_quality_panel(sec: dict[str, Any]) -> Panel:
    """AMFF-HT's mean weight of each modality, for good- and poor-quality readings."""
    table = sec["methods"]["amff"]
    labels = [MODALITY_NAMES[m] for m in MODALITIES]
    series = [
        summary_series(
            f"{quality}-quality reading",
            labels,
            [table[m][quality] for m in MODALITIES],
            color,
            "bar",
            seeds=True,
        )
        for quality, color in (("good", OKABE_ITO["blue"]), ("poor", OKABE_ITO["vermillion"]))
    ]
    return Panel(
        "AMFF-HT's weight by reading quality",
        "modality",
        "mean adaptive weight alpha",
        series,
        categorical=True,
        references=[(0.25, "equal weights")],
    )


def _weights_under_corruption_panel(sim5a: dict[str, Any]) -> Panel:
    """The weight of each modality as it is corrupted (from Simulation 5a)."""
    weights = sim5a["amff_weight_of_corrupted_modality"]
    series = [
        summary_series(
            MODALITY_NAMES[m],
            [p["severity"] for p in weights[m]],
            weights[m],
            FIGURE_MODALITY_COLORS[m],
            "line",
        )
        for m in MODALITIES
    ]
    return Panel(
        "Weight of a modality as it is corrupted",
        "corruption severity",
        "mean weight of the corrupted modality",
        series,
    )


def fig5d_weights(results: dict[str, Any]) -> FigureSpec:
    panels = [_weights_by_quality_panel(results["sim5d"])]
    if "sim5a" in results:
        panels.append(_weights_under_corruption_panel(results["sim5a"]))
    return FigureSpec(
        "fig5d_weights",
        "Beyond the paper (d): do the adaptive weights adapt?",
        panels,
        "Mean ± 1 sd over seeds; left: test patients with all four modalities, split by the "
        "simulator's quality flag; right: patients with the corrupted modality.",
    )


def fig5e_limited_noisy(results: dict[str, Any]) -> FigureSpec:
    scenarios = results["sim5e"]["scenarios"]
    labels = [f"{name.replace('_', ' + ')}\n(N = {s['n']:,})" for name, s in scenarios.items()]
    series = [
        summary_series(
            METHOD_NAMES[m],
            labels,
            [s["rows"][m]["auroc"] for s in scenarios.values()],
            METHOD_COLORS[m],
            "point",
            seeds=True,
        )
        for m in MAIN
    ]
    gains = [
        interval_series(
            f"AMFF-HT minus {METHOD_NAMES[base].lower()}",
            labels,
            [s["amff_minus"][base] for s in scenarios.values()],
            METHOD_COLORS[base],
        )
        for base in ("early", "late")
    ]
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
