"""A FigureSpec drawn with Plotly, and the one self-contained HTML page of all figures."""

from __future__ import annotations

import math
from typing import Any

from amff.experiments.figures.spec import FigureSpec, Panel, Series, clean, self_labelled


def to_plotly(spec: FigureSpec) -> Any:
    """The same figure as an interactive Plotly Figure."""
    from plotly.subplots import make_subplots

    columns = min(spec.columns, len(spec.panels))
    rows = math.ceil(len(spec.panels) / columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=[p.title for p in spec.panels])
    shown: set[str] = set()
    for index, panel in enumerate(spec.panels):
        row, col = index // columns + 1, index % columns + 1
        for s in panel.series:
            fig.add_trace(_trace(panel, s, shown), row=row, col=col)
            shown.add(s.name)
        _panel_axes(fig, panel, row, col)
    fig.update_layout(
        title={"text": spec.title},
        barmode="group",
        template="simple_white",
        height=420 * rows + (200 if any(p.horizontal for p in spec.panels) else 0),
        legend={"orientation": "h", "y": -0.15},
        margin={"b": 120},
    )
    return fig


def _trace(panel: Panel, s: Series, shown: set[str]) -> Any:
    """One series as a Plotly trace; its legend entry only the first time its name comes."""
    import plotly.graph_objects as go

    y = clean(s.y)
    error = None
    if s.low is not None and s.high is not None:
        plus = [h - v if h is not None else None for h, v in zip(s.high, s.y)]
        minus = [v - lo if lo is not None else None for lo, v in zip(s.low, s.y)]
        error = {"type": "data", "array": plus, "arrayminus": minus, "visible": True}
    x = [str(v).replace("\n", " ") for v in s.x] if panel.categorical else s.x
    common = {
        "name": s.name,
        "legendgroup": s.name,
        "showlegend": s.name not in shown and not self_labelled(panel, s),
        "marker": {"color": s.color},
    }
    if s.kind == "bar":
        if panel.horizontal:
            return go.Bar(x=y, y=x, orientation="h", error_x=error, **common)
        return go.Bar(x=x, y=y, error_y=error, **common)
    if s.kind == "point" or panel.horizontal:
        if panel.horizontal:
            return go.Scatter(x=y, y=x, mode="markers", error_x=error, **common)
        return go.Scatter(x=x, y=y, mode="markers", error_y=error, **common)
    return go.Scatter(
        x=x,
        y=y,
        mode="lines+markers",
        error_y=error,
        line={"dash": "dash" if s.dash else "solid"},
        **common,
    )


def _panel_axes(fig: Any, panel: Panel, row: int, col: int) -> None:
    """A panel's reference lines, axis titles and scales."""
    for value, label in panel.references:
        if value is None:
            continue
        if panel.horizontal:
            fig.add_vline(x=value, line_dash="dot", annotation_text=label, row=row, col=col)
        else:
            fig.add_hline(y=value, line_dash="dot", annotation_text=label, row=row, col=col)
    fig.update_xaxes(title_text=panel.xlabel, row=row, col=col)
    fig.update_yaxes(title_text=panel.ylabel, row=row, col=col)
    if any(isinstance(v, int) and v >= 1000 for s in panel.series for v in s.x):
        fig.update_xaxes(type="log", row=row, col=col)
    if panel.horizontal:
        fig.update_yaxes(autorange="reversed", row=row, col=col)


def results_page(results: dict[str, Any], specs: list[FigureSpec]) -> str:
    """Every figure on one page, plotly.js embedded once, so it works offline."""
    parts = []
    for i, spec in enumerate(specs):
        fig = to_plotly(spec)
        parts.append(f"<section><p>{spec.caption}</p>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
        parts.append("</section>")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<title>AMFF-HT reproduction</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "section{margin-bottom:48px}</style></head><body>"
        "<h1>AMFF-HT: reproduction of the paper's simulations</h1>"
        f"<p>{results['meta']['command']} (commit "
        f"{(results['meta']['git'].get('commit') or 'unknown')[:12]}). Numbers: results.json; "
        "verdicts: REPRODUCTION.md.</p>" + "".join(parts) + "</body></html>"
    )
