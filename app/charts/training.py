"""Charts for training and the model card: the history per epoch and the architecture
diagram."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

import amff
from app.charts.style import (
    _MODALITY_NAMES,
    MODALITY_COLORS,
    SERIES_COLORS,
    _layout,
    modality_name,
    modality_title,
)

# -- training ----------------------------------------------------------------------------------
HISTORY_METRICS = {
    "loss": "Loss (binary cross-entropy)",
    "auroc": "AUROC",
    "f1": "F1 score",
    "accuracy": "Accuracy",
}


def history_figure(history: Sequence[Mapping[str, object]], metric: str) -> go.Figure:
    """Train (dashed) and validation (solid) `metric` per epoch; one colour per late-fusion
    member when the records have a "member" key."""
    frame = pd.DataFrame(list(history))
    fig = go.Figure()
    if frame.empty or "epoch" not in frame:
        return _layout(fig, HISTORY_METRICS.get(metric, metric))
    groups = list(frame.groupby("member", sort=False)) if "member" in frame else [("", frame)]
    for i, (member, rows) in enumerate(groups):
        color = (
            MODALITY_COLORS.get(amff.Modality(member), SERIES_COLORS[i % len(SERIES_COLORS)])
            if member in {m.value for m in amff.MODALITIES}
            else SERIES_COLORS[i % len(SERIES_COLORS)]
        )
        who = f"{modality_name(member)} member, " if member in _MODALITY_NAMES else ""
        for split, dash in (("train", "dash"), ("val", "solid")):
            column = f"{split}_{metric}"
            if column not in rows:
                continue
            fig.add_trace(
                go.Scatter(
                    x=rows["epoch"],
                    y=rows[column],
                    mode="lines+markers",
                    name=f"{who}{'training' if split == 'train' else 'validation'}",
                    line={"color": color, "dash": dash, "width": 2},
                    marker={"size": 5},
                    hovertemplate="epoch %{x}<br>%{y:.3f}<extra></extra>",
                )
            )
    _layout(fig, HISTORY_METRICS.get(metric, metric), height=330)
    fig.update_xaxes(title_text="Epoch", dtick=max(1, int(frame["epoch"].max()) // 10))
    fig.update_yaxes(title_text=HISTORY_METRICS.get(metric, metric))
    fig.update_layout(legend={"orientation": "h", "y": -0.25, "font": {"size": 12}})
    return fig


# -- the model card ----------------------------------------------------------------------------
def architecture_dot() -> str:
    """The AMFF-HT architecture as Graphviz DOT text (drawn in the browser)."""
    colors = {m: MODALITY_COLORS[m] for m in amff.MODALITIES}
    encoders = {
        amff.Modality.TABULAR: "MLP with missing-value flags",
        amff.Modality.TEXT: "WordPiece + transformer encoder",
        amff.Modality.IMAGE: "ResNet-18 (grayscale)",
        amff.Modality.RNA: "log-CPM + feed-forward network",
    }
    lines = [
        "digraph amff {",
        '  rankdir=LR; bgcolor="transparent";',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=14,'
        ' fillcolor="#F3F6F9", color="#6B7280"];',
        '  edge [color="#6B7280"];',
    ]
    for m in amff.MODALITIES:
        lines += [
            f'  in_{m.value} [label="{modality_title(m)}", fillcolor="{colors[m]}",'
            ' fontcolor="white"];',
            f'  enc_{m.value} [label="{encoders[m]}\\n(tokens)"];',
            f'  pool_{m.value} [label="Attention pooling\\n(one vector)"];',
            f"  in_{m.value} -> enc_{m.value} -> pool_{m.value};",
            f"  pool_{m.value} -> cross;",
        ]
    lines += [
        '  subgraph cluster_l1 { label="Level 1: within each source"; fontname="Helvetica";'
        ' color="#D1D5DB"; '
        + " ".join(f"enc_{m.value}; pool_{m.value};" for m in amff.MODALITIES)
        + " }",
        '  cross [label="Level 2: cross-modal attention\\n(absent sources masked)"];',
        '  weights [label="Adaptive modality weights\\n(alpha, sum to 1)"];',
        '  head [label="Classifier head\\n(weighted vectors)"];',
        '  risk [label="Risk of the outcome\\n(probability)", fillcolor="#D55E00",'
        ' fontcolor="white"];',
        "  cross -> weights -> head -> risk;",
        "}",
    ]
    return "\n".join(lines)
