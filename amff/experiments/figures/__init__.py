"""Figures of the reproduction, from results.json: a PNG (matplotlib) and an interactive Plotly
version of each, drawn from one description so both show the same numbers.

    spec = fig4_data_size(results)      # data in: a FigureSpec (panels of series)
    to_matplotlib(spec).savefig(...)    # drawing
    to_plotly(spec)                     # the same figure, interactive

Modules: spec (the description), simulations (the paper's Fig 2-4 and Table 1), beyond (our
checks 5a-5e), render_png (matplotlib), render_html (Plotly and the page of all figures).
Colours come from amff.palette (Okabe-Ito, safe for colour-blind readers); error bars are
+-1 sd over seeds unless a caption says otherwise; PNGs are 960 px wide, readable at 800 px.
Importing this package does not import matplotlib or plotly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from amff.experiments.figures.beyond import (
    fig5a_corruption,
    fig5b_missing,
    fig5c_synergy,
    fig5d_weights,
    fig5e_limited_noisy,
)
from amff.experiments.figures.render_html import results_page, to_plotly
from amff.experiments.figures.render_png import DPI, WIDTH_IN, to_matplotlib
from amff.experiments.figures.simulations import (
    fig2_training_dynamics,
    fig3_per_modality,
    fig3b_subsets,
    fig4_data_size,
    table1_fusion_benchmark,
)
from amff.experiments.figures.spec import MAIN, MODALITY_NAMES, FigureSpec, Panel, Series

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
    (out / html_name).write_text(results_page(results, specs), encoding="utf-8")
    return written


__all__ = [
    "BUILDERS",
    "DPI",
    "MAIN",
    "MODALITY_NAMES",
    "WIDTH_IN",
    "FigureSpec",
    "Panel",
    "Series",
    "build_all",
    "to_matplotlib",
    "to_plotly",
    "write_all",
]
