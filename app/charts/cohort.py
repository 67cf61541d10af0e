"""Charts for a cohort: ROC, precision-recall, calibration, the confusion matrix, and the
subset and model comparison tables."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app.charts.style import OKABE_ITO, _layout, _series_color


def roc_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """ROC curves: {name: (labels, probabilities)}; the legend gives each AUROC."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 100],
            y=[0, 100],
            mode="lines",
            line={"dash": "dot", "color": OKABE_ITO["grey"]},
            name="Chance",
            hoverinfo="skip",
        )
    )
    from sklearn.metrics import roc_curve  # imported on first use: the patient page needs none

    for i, (name, (y, p)) in enumerate(curves.items()):
        fpr, tpr, _ = roc_curve(y, p)
        area = float(np.trapezoid(tpr, fpr))
        fig.add_trace(
            go.Scatter(
                x=100 * fpr,
                y=100 * tpr,
                mode="lines",
                name=f"{name} (AUROC {area:.3f})",
                line={"color": _series_color(name, i), "width": 2.5},
                hovertemplate="false alarms %{x:.0f}%<br>events caught %{y:.0f}%<extra></extra>",
            )
        )
    _layout(fig, "ROC curve", height=380)
    fig.update_xaxes(title_text="False-positive rate (%)", range=[0, 100], ticksuffix="%")
    fig.update_yaxes(title_text="Sensitivity (%)", range=[0, 100], ticksuffix="%")
    fig.update_layout(legend={"x": 0.98, "y": 0.02, "xanchor": "right", "yanchor": "bottom"})
    return fig


def pr_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """Precision-recall curves: {name: (labels, probabilities)}; the dotted line is the
    event rate (what a random score achieves)."""
    from sklearn.metrics import precision_recall_curve

    fig = go.Figure()
    for i, (name, (y, p)) in enumerate(curves.items()):
        precision, recall, _ = precision_recall_curve(y, p)
        fig.add_trace(
            go.Scatter(
                x=100 * recall,
                y=100 * precision,
                mode="lines",
                name=name,
                line={"color": _series_color(name, i), "width": 2.5},
                hovertemplate="events caught %{x:.0f}%<br>precision %{y:.0f}%<extra></extra>",
            )
        )
    if curves:
        y = np.asarray(next(iter(curves.values()))[0])
        rate = 100 * float(np.mean(y)) if len(y) else 0.0
        fig.add_trace(
            go.Scatter(
                x=[0, 100],
                y=[rate, rate],
                mode="lines",
                line={"dash": "dot", "color": OKABE_ITO["grey"]},
                name=f"Event rate ({rate:.0f}%)",
                hoverinfo="skip",
            )
        )
    _layout(fig, "Precision-recall curve", height=380)
    fig.update_xaxes(title_text="Sensitivity / recall (%)", range=[0, 100], ticksuffix="%")
    fig.update_yaxes(
        title_text="Precision: flagged who had the event (%)", range=[0, 102], ticksuffix="%"
    )
    fig.update_layout(legend={"x": 0.98, "y": 0.98, "xanchor": "right", "yanchor": "top"})
    return fig


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Per equal-width bin of predicted risk: mean predicted, observed event rate, count."""
    y, p = np.asarray(y, dtype=float), np.clip(np.asarray(p, dtype=float), 0, 1)
    which = np.clip((p * bins).astype(int), 0, bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            rows.append(
                {"predicted": p[inside].mean(), "observed": y[inside].mean(), "n": inside.sum()}
            )
    return pd.DataFrame(rows, columns=["predicted", "observed", "n"])


def calibration_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """Observed event rate against predicted risk, in ten bins; marker size follows the count."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 100],
            y=[0, 100],
            mode="lines",
            line={"dash": "dot", "color": OKABE_ITO["grey"]},
            name="Perfect calibration",
            hoverinfo="skip",
        )
    )
    for i, (name, (y, p)) in enumerate(curves.items()):
        table = calibration_table(y, p)
        size = 6 + 14 * np.sqrt(table["n"] / max(table["n"].max(), 1))
        fig.add_trace(
            go.Scatter(
                x=100 * table["predicted"],
                y=100 * table["observed"],
                mode="lines+markers",
                name=name,
                marker={"size": size, "color": _series_color(name, i)},
                line={"color": _series_color(name, i), "width": 2},
                customdata=table["n"],
                hovertemplate=(
                    "predicted %{x:.0f}%<br>observed %{y:.0f}%<br>%{customdata} patients"
                    "<extra></extra>"
                ),
            )
        )
    _layout(fig, "Calibration", height=380)
    fig.update_xaxes(title_text="Predicted risk (%)", range=[0, 100], ticksuffix="%")
    fig.update_yaxes(title_text="Observed event rate (%)", range=[0, 102], ticksuffix="%")
    fig.update_layout(legend={"x": 0.02, "y": 0.98, "xanchor": "left", "yanchor": "top"})
    return fig


def confusion_counts(y: np.ndarray, p: np.ndarray, threshold: float) -> np.ndarray:
    """[[true negatives, false positives], [false negatives, true positives]]."""
    y = np.asarray(y).astype(int)
    flagged = np.asarray(p) >= threshold
    return np.array(
        [
            [int(np.sum((y == 0) & ~flagged)), int(np.sum((y == 0) & flagged))],
            [int(np.sum((y == 1) & ~flagged)), int(np.sum((y == 1) & flagged))],
        ]
    )


def confusion_figure(y: np.ndarray, p: np.ndarray, threshold: float) -> go.Figure:
    """The 2x2 table of outcomes against flags at a threshold, counts and row percentages."""
    counts = confusion_counts(y, p, threshold)
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, np.maximum(rows, 1))
    names = [["true negatives", "false alarms"], ["missed events", "events caught"]]
    text = [
        [f"{counts[i, j]}<br>{names[i][j]}<br>({100 * share[i, j]:.0f}% of row)" for j in range(2)]
        for i in range(2)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=["Not flagged", "Flagged"],
            y=["No event", "Event"],
            text=text,
            texttemplate="%{text}",
            textfont={"size": 14},
            colorscale=[[0, "#F3F6F9"], [1, OKABE_ITO["sky_blue"]]],
            zmin=0,
            zmax=1,
            showscale=False,
            hoverinfo="skip",
        )
    )
    _layout(fig, f"Outcomes at a threshold of {100 * threshold:.0f}%", height=330)
    fig.update_xaxes(title_text="Model decision", showgrid=False, side="bottom")
    fig.update_yaxes(title_text="What happened", showgrid=False, autorange="reversed")
    return fig


def subsets_figure(table: pd.DataFrame, current: str | None = None, title: str = "") -> go.Figure:
    """A heatmap of metrics (columns) by modality subset (rows, index = display names).

    `current` (an index entry) is marked with an arrow."""
    metrics = list(table.columns)
    z = table.to_numpy(dtype=float)
    labels = [("\u25b6 " if name == current else "") + str(name) for name in table.index]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=metrics,
            y=labels,
            text=np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.3f}")(z),
            texttemplate="%{text}",
            textfont={"size": 13},
            colorscale="Cividis",
            colorbar={"title": {"text": "Score", "side": "right"}, "thickness": 14},
            hovertemplate="%{y}<br>%{x}: %{z:.3f}<extra></extra>",
        )
    )
    _layout(fig, title, height=110 + 30 * len(table))
    fig.update_layout(margin={"l": 10, "r": 20, "t": 40 if title else 30, "b": 10})
    fig.update_xaxes(side="top", showgrid=False, title_text="")
    fig.update_yaxes(autorange="reversed", showgrid=False, title_text="")
    return fig


def models_figure(table: pd.DataFrame, title: str = "") -> go.Figure:
    """Grouped bars: one group per metric (columns), one bar per model (index)."""
    fig = go.Figure()
    for i, (name, row) in enumerate(table.iterrows()):
        fig.add_trace(
            go.Bar(
                x=list(table.columns),
                y=row.to_numpy(dtype=float),
                name=str(name),
                marker_color=_series_color(str(name), i),
                text=[f"{v:.3f}" for v in row.to_numpy(dtype=float)],
                textposition="outside",
                cliponaxis=False,
                hovertemplate=f"{name}<br>%{{x}}: %{{y:.3f}}<extra></extra>",
            )
        )
    _layout(fig, title, height=360, barmode="group")
    fig.update_yaxes(title_text="Score (0 to 1)", range=[0, 1.08])
    fig.update_xaxes(title_text="")
    fig.update_layout(legend={"orientation": "h", "y": -0.15})
    return fig
