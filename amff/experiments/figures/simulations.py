"""The figures of the paper's four simulations: Fig 2, Fig 3, Table 1 and Fig 4."""

from __future__ import annotations

from typing import Any

from amff.experiments.figures.spec import (
    MAIN,
    MODALITY_NAMES,
    FigureSpec,
    Panel,
    Series,
    interval_series,
    stat,
    summary_series,
)
from amff.palette import METHOD_COLORS, METHOD_NAMES, OKABE_ITO


def fig2_training_dynamics(results: dict[str, Any]) -> FigureSpec:
    sec = results["sim1"]
    curves = sec["curves"]
    epochs = list(range(1, len(curves["val_auroc"]) + 1))

    def line(key: str, name: str, color: str, dash: bool = False) -> Series:
        points = curves[key]
        return Series(
            name,
            epochs,
            [stat(p) for p in points],
            color,
            low=[stat(p, "min") for p in points],
            high=[stat(p, "max") for p in points],
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
        series = [
            summary_series(
                label,
                labels,
                [sec["methods"][method][m][metric] for m in modalities],
                METHOD_COLORS[method],
                "point",
                seeds=True,
            )
            for method, label in (
                ("amff", "AMFF-HT, one modality on"),
                ("late", "model trained on that modality alone"),
            )
        ]
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
    series = [
        summary_series(
            METHOD_NAMES[method],
            subsets,
            [sec["methods"][method][s]["auroc"] for s in subsets],
            METHOD_COLORS[method],
            "point",
        )
        for method in MAIN
    ]
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


def _table1_metric_panel(sec: dict[str, Any], metric: str, label: str) -> Panel:
    """One metric: each method (mean +-1 sd, its seeds) beside the paper's Table 1."""
    series = []
    for m in sec["rows"]:
        name = METHOD_NAMES[m]
        series.append(
            summary_series(name, [name], [sec["rows"][m][metric]], METHOD_COLORS[m], "point", True)
        )
    paper = Series(
        "paper's Table 1",
        [METHOD_NAMES[m] for m in sec["paper"]],
        [sec["paper"][m][metric] for m in sec["paper"]],
        OKABE_ITO["black"],
        "point",
    )
    references = [(sec["oracles"]["bayes"][metric], "Bayes oracle")] if metric == "auroc" else []
    return Panel(
        label,
        f"{label} on the held-out cohort",
        "",
        [*series, paper],
        categorical=True,
        references=references,
        horizontal=True,
    )


def _table1_difference_panel(sec: dict[str, Any]) -> Panel:
    """AMFF-HT's AUROC minus each other method, over seeds and over test patients."""
    diffs = sec["differences"]
    keys = [k for k in diffs if k.startswith("amff-vs-")]
    labels = [f"minus {METHOD_NAMES[k.split('-vs-')[1]]}" for k in keys]
    boot = [diffs[k]["auroc_bootstrap"] for k in keys]
    return Panel(
        "AMFF-HT AUROC minus ...",
        "AUROC difference (95% CI)",
        "",
        [
            interval_series(
                "over seeds (t)", labels, [diffs[k]["auroc"] for k in keys], OKABE_ITO["blue"]
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


def table1_fusion_benchmark(results: dict[str, Any]) -> FigureSpec:
    sec = results["sim3"]
    panels = [
        _table1_metric_panel(sec, metric, label)
        for metric, label in (("auroc", "AUROC"), ("f1", "F1"), ("accuracy", "accuracy"))
    ]
    panels.append(_table1_difference_panel(sec))
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
        series = [
            summary_series(
                METHOD_NAMES[m],
                sizes,
                [sec["by_size"][str(n)][m][metric] for n in sizes],
                METHOD_COLORS[m],
                "line",
                seeds=True,
            )
            for m in MAIN
        ]
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
