"""Charts for one patient: the risk gauge, the modality weights, drop-one, attribution bars
(record features, genes, any modality), the image overlay and the shaded note."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import amff
from app.charts.style import (
    DIVERGING,
    MODALITY_COLORS,
    OKABE_ITO,
    RISK_DOWN,
    RISK_UP,
    _layout,
    value_text,
)


def risk_figure(
    probability: float,
    threshold: float,
    reference: float | None = None,
    oracle: float | None = None,
) -> go.Figure:
    """The predicted risk as a bar on a 0-100% scale, with the decision threshold, the
    prediction with every available modality (reference) and the simulator's true risk."""
    flagged = probability >= threshold
    fig = go.Figure(
        go.Bar(
            x=[100 * probability],
            y=["risk"],
            orientation="h",
            marker_color=RISK_UP if flagged else RISK_DOWN,
            name="Predicted risk",
            hovertemplate="Predicted risk: %{x:.1f}%<extra></extra>",
            width=0.5,
        )
    )
    markers: list[tuple[float, str, str, str]] = [
        (threshold, "Decision threshold", OKABE_ITO["black"], "line-ns")
    ]
    if reference is not None and np.isfinite(reference):
        markers.append((reference, "With all available data", OKABE_ITO["grey"], "diamond"))
    if oracle is not None and np.isfinite(oracle):
        markers.append((oracle, "True risk (simulator)", OKABE_ITO["green"], "star"))
    for value, name, color, symbol in markers:
        fig.add_trace(
            go.Scatter(
                x=[100 * value],
                y=["risk"],
                mode="markers",
                name=name,
                marker={
                    "symbol": symbol,
                    "size": 26 if symbol == "line-ns" else 14,
                    "color": color,
                    "line": {"width": 3 if symbol == "line-ns" else 1, "color": color},
                },
                hovertemplate=f"{name}: %{{x:.1f}}%<extra></extra>",
            )
        )
    _layout(fig, "", height=190)
    fig.update_layout(
        margin={"l": 10, "r": 20, "t": 60, "b": 10},
        legend={
            "orientation": "h",
            "y": 1.02,
            "yanchor": "bottom",
            "x": 0,
            "font": {"size": 12},
            "entrywidth": 0,
        },
        bargap=0.1,
    )
    fig.update_xaxes(range=[0, 100], title_text="Risk of the outcome (%)", ticksuffix="%")
    fig.update_yaxes(showticklabels=False, showgrid=False)
    return fig


def modality_weights_figure(weights: Mapping[str, float]) -> go.Figure:
    """Bars of the adaptive modality weights, in percent, for the modalities used.

    Modalities that are missing from `weights` or whose weight is NaN are left out: an
    absent modality has no bar.
    """
    shown = [
        m
        for m in amff.MODALITIES
        if m.value in weights and weights[m.value] is not None and np.isfinite(weights[m.value])
    ]
    values = [100 * float(weights[m.value]) for m in shown]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=[m.label for m in shown],
            orientation="h",
            marker_color=[MODALITY_COLORS[m] for m in shown],
            text=[f"{v:.0f}%" for v in values],
            textposition="outside",
            cliponaxis=False,
            customdata=[m.value for m in shown],
            hovertemplate="%{y}: %{x:.1f}% of the attention<extra></extra>",
            name="Modality weight",
        )
    )
    _layout(fig, "How much the model relied on each source", height=90 + 45 * max(len(shown), 1))
    fig.update_xaxes(title_text="Modality weight (% of attention)", range=[0, 115], ticksuffix="%")
    fig.update_yaxes(autorange="reversed", showgrid=False)
    return fig


def drop_one_figure(drop_one: Mapping[str, float]) -> go.Figure:
    """Signed bars: how many percentage points each used modality adds to the risk (the risk
    with every used modality minus the risk without this one). NaN (the only modality used)
    is shown as a labelled gap."""
    shown = [m for m in amff.MODALITIES if m.value in drop_one]
    values = [100 * float(drop_one[m.value]) for m in shown]
    finite = [v if np.isfinite(v) else 0.0 for v in values]
    text = [f"{v:+.1f} pts" if np.isfinite(v) else "only source: cannot remove" for v in values]
    fig = go.Figure(
        go.Bar(
            x=finite,
            y=[m.label for m in shown],
            orientation="h",
            marker_color=[RISK_UP if v > 0 else RISK_DOWN for v in finite],
            text=text,
            textposition="outside",
            cliponaxis=False,
            customdata=[m.value for m in shown],
            hovertemplate="%{y}: %{text}<extra></extra>",
            name="Change when removed",
        )
    )
    span = max([abs(v) for v in finite] + [1.0]) * 1.6
    _layout(fig, "What each source adds to the risk", height=90 + 45 * max(len(shown), 1))
    fig.update_xaxes(
        title_text="Risk with it minus risk without it (percentage points)",
        range=[-span, span],
        zeroline=True,
        zerolinecolor="#6B7280",
    )
    fig.update_yaxes(autorange="reversed", showgrid=False)
    return fig


SENSITIVITY = OKABE_ITO["sky_blue"]  # unsigned attributions (saliency): size only


def _bar_colors(values: np.ndarray, signed: bool) -> list[str]:
    if not signed:
        return [SENSITIVITY] * len(values)
    return [RISK_UP if v > 0 else RISK_DOWN for v in values]


def _attribution_axis(signed: bool) -> str:
    if signed:
        return "Attribution (log-odds; right = raises risk)"
    return "Sensitivity (size of the gradient; no direction)"


def record_attribution_figure(frame: pd.DataFrame, k: int = 12, signed: bool = True) -> go.Figure:
    """Bars of the k record values with the largest attribution.

    frame: label, value, attribution and optionally flag ('low' / 'high' / '') per feature.
    signed=False (saliency) draws sizes in one neutral colour.
    """
    top = frame.reindex(frame["attribution"].abs().sort_values(ascending=False).index).head(k)
    flags = top["flag"] if "flag" in top else pd.Series("", index=top.index)
    labels = [
        f"{label} = {value_text(value)}" + (f" ({flag})" if flag else "")
        for label, value, flag in zip(top["label"], top["value"], flags)
    ]
    values = top["attribution"].to_numpy(dtype=float)
    fig = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=_bar_colors(values, signed),
            hovertemplate="%{y}<br>attribution %{x:+.3f}<extra></extra>",
            name="Attribution",
        )
    )
    _layout(fig, "Record values that moved the risk most", height=90 + 28 * max(len(top), 1))
    fig.update_xaxes(
        title_text=_attribution_axis(signed),
        zeroline=True,
        zerolinecolor="#6B7280",
    )
    fig.update_yaxes(autorange="reversed", showgrid=False)
    return fig


def genes_figure(frame: pd.DataFrame, k: int = 15, signed: bool = True) -> go.Figure:
    """Bars of the k genes with the largest attribution (frame: label, value, attribution)."""
    top = frame.reindex(frame["attribution"].abs().sort_values(ascending=False).index).head(k)
    values = top["attribution"].to_numpy(dtype=float)
    labels = [
        "library size (log10)" if label == "log10_library_size" else str(label)
        for label in top["label"]
    ]
    counts = [value_text(v) for v in top["value"]]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=_bar_colors(values, signed),
            customdata=counts,
            hovertemplate="%{y}: %{customdata} reads<br>attribution %{x:+.4f}<extra></extra>",
            name="Attribution",
        )
    )
    _layout(fig, f"Top {len(top)} genes", height=90 + 26 * max(len(top), 1))
    fig.update_xaxes(
        title_text=_attribution_axis(signed),
        zeroline=True,
        zerolinecolor="#6B7280",
    )
    fig.update_yaxes(autorange="reversed", showgrid=False)
    return fig


def attribution_bars_figure(
    frame: pd.DataFrame, title: str, k: int = 15, signed: bool = True
) -> go.Figure:
    """Bars of the k inputs with the largest attribution, for any modality (frame: label,
    value, attribution): the generic panel of a modality without a panel of its own."""
    top = frame.reindex(frame["attribution"].abs().sort_values(ascending=False).index).head(k)
    values = top["attribution"].to_numpy(dtype=float)
    labels = [f"{label} = {value_text(value)}" for label, value in zip(top["label"], top["value"])]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=_bar_colors(values, signed),
            hovertemplate="%{y}<br>attribution %{x:+.3f}<extra></extra>",
            name="Attribution",
        )
    )
    _layout(fig, title, height=90 + 26 * max(len(top), 1))
    fig.update_xaxes(title_text=_attribution_axis(signed), zeroline=True, zerolinecolor="#6B7280")
    fig.update_yaxes(autorange="reversed", showgrid=False)
    return fig


def smooth_heatmap(heatmap: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian-blurred copy of a pixel heatmap, for display (regions, not pixels)."""
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(np.asarray(heatmap, dtype=float), sigma=sigma, mode="nearest")


def image_overlay_figure(
    image: np.ndarray,
    heatmap: np.ndarray,
    opacity: float = 0.5,
    title: str = "",
    signed: bool = True,
) -> go.Figure:
    """The image in grayscale with the attribution heatmap on top (blue lowers, vermillion
    raises the risk; the colour scale is symmetric around zero and saturates at the 99th
    percentile of |attribution|, so a few extreme pixels do not wash the rest out).
    signed=False (saliency): a white-to-sky-blue scale from zero."""
    image = np.asarray(image, dtype=float)
    heatmap = np.asarray(heatmap, dtype=float)
    bound = float(np.nanpercentile(np.abs(heatmap), 99)) if heatmap.size else 0.0
    bound = bound if bound > 0 else 1.0
    fig = go.Figure()
    fig.add_trace(
        go.Heatmap(
            z=image,
            colorscale="gray",
            zmin=0,
            zmax=1,
            showscale=False,
            name="image",
            hovertemplate="row %{y}, column %{x}<br>intensity %{z:.2f}<extra></extra>",
        )
    )
    if signed:
        scale, low = DIVERGING, -bound
        colorbar = {
            "title": {"text": "Attribution", "side": "right"},
            "tickvals": [-bound, 0, bound],
            "ticktext": ["lowers risk", "0", "raises risk"],
            "thickness": 14,
        }
    else:
        scale, low = [[0.0, "#FFFFFF"], [1.0, SENSITIVITY]], 0.0
        colorbar = {
            "title": {"text": "Sensitivity", "side": "right"},
            "tickvals": [0, bound],
            "ticktext": ["none", "most"],
            "thickness": 14,
        }
    fig.add_trace(
        go.Heatmap(
            z=heatmap,
            colorscale=scale,
            zmin=low,
            zmax=bound,
            opacity=float(opacity),
            name="attribution",
            colorbar=colorbar,
            hovertemplate="row %{y}, column %{x}<br>attribution %{z:+.2e}<extra></extra>",
        )
    )
    _layout(fig, title, height=420)
    fig.update_xaxes(showgrid=False, showticklabels=False, ticks="", showline=False, title_text="")
    fig.update_yaxes(
        showgrid=False,
        showticklabels=False,
        ticks="",
        showline=False,
        autorange="reversed",
        scaleanchor="x",
        title_text="",
    )
    return fig


def note_html(
    note: str,
    starts: Sequence[int],
    ends: Sequence[int],
    attributions: Sequence[float],
    read_until: int | None = None,
    signed: bool = True,
) -> str:
    """The note as HTML with each word the model read shaded by its attribution.

    Every piece of the note, word or gap, goes through html.escape, so no markup in a note
    is ever rendered. Text after the last word the model read is shown plainly, greyed.
    """
    values = np.asarray(attributions, dtype=float)
    bound = float(np.nanmax(np.abs(values))) if values.size else 0.0
    bound = bound if bound > 0 else 1.0
    parts: list[str] = []
    at = 0
    for start, end, value in zip(starts, ends, values):
        start, end = int(start), int(end)
        if start < at or end <= start:
            continue
        parts.append(html.escape(note[at:start]))
        strength = min(abs(float(value)) / bound, 1.0) if np.isfinite(value) else 0.0
        rgb = (86, 180, 233) if not signed else (213, 94, 0) if value > 0 else (0, 114, 178)
        title = f"attribution {float(value):+.3g}"
        parts.append(
            f'<span class="amff-word" title="{html.escape(title)}" '
            f'style="background: rgba({rgb[0]},{rgb[1]},{rgb[2]},{0.08 + 0.6 * strength:.2f});'
            f' border-radius: 3px; padding: 0 1px;">{html.escape(note[start:end])}</span>'
        )
        at = end
    limit = len(note) if read_until is None else max(at, min(read_until, len(note)))
    parts.append(html.escape(note[at:limit]))
    rest = note[limit:]
    if rest:
        shown = rest[:2000]
        more = len(rest) - len(shown)
        parts.append(f'<span style="color:#6B7280">{html.escape(shown)}</span>')
        if more > 0:
            parts.append(f'<span style="color:#6B7280"> [... {more:,} more characters]</span>')
    body = "".join(parts)
    return (
        '<div class="amff-note" style="white-space: pre-wrap; font-family: sans-serif; '
        "font-size: 15px; line-height: 1.7; max-height: 420px; overflow-y: auto; "
        'border: 1px solid #E5E7EB; border-radius: 6px; padding: 10px 12px;">'
        f"{body}</div>"
    )
