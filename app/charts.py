"""Plotly figure builders for the dashboard: data in, figure out, no Streamlit calls.

Colours are Okabe-Ito (safe for the common colour-vision deficiencies). Risk is shown in
percent; "pushes risk up" is vermillion, "pushes risk down" is blue, everywhere.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import amff

# Okabe & Ito (2008), "Color Universal Design"
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}
RISK_UP = OKABE_ITO["vermillion"]
RISK_DOWN = OKABE_ITO["blue"]
MODALITY_COLORS = {
    amff.Modality.TABULAR: OKABE_ITO["blue"],
    amff.Modality.TEXT: OKABE_ITO["orange"],
    amff.Modality.IMAGE: OKABE_ITO["green"],
    amff.Modality.RNA: OKABE_ITO["purple"],
}
MODEL_COLORS = {
    "AMFF-HT": OKABE_ITO["blue"],
    "Early fusion": OKABE_ITO["orange"],
    "Late fusion": OKABE_ITO["green"],
}
SERIES_COLORS = [
    OKABE_ITO["blue"],
    OKABE_ITO["orange"],
    OKABE_ITO["green"],
    OKABE_ITO["purple"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["black"],
]
# attribution maps: blue (lowers risk) - white - vermillion (raises risk)
DIVERGING = [[0.0, RISK_DOWN], [0.5, "#FFFFFF"], [1.0, RISK_UP]]
FONT = {"family": "sans-serif", "size": 14, "color": "#1F2933"}


def _layout(fig: go.Figure, title: str, height: int = 320, **kwargs: object) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": 16}},
        height=height,
        margin={"l": 10, "r": 20, "t": 50, "b": 10},
        font=FONT,
        plot_bgcolor="#FFFFFF",
        paper_bgcolor="#FFFFFF",
        hoverlabel={"font_size": 13},
        **kwargs,
    )
    fig.update_xaxes(showgrid=True, gridcolor="#E5E7EB", zeroline=False, automargin=True)
    fig.update_yaxes(showgrid=True, gridcolor="#E5E7EB", zeroline=False, automargin=True)
    return fig


# Display names for the simulator's record features (a checkpoint trained on other features
# shows their column names as they are).
FEATURE_LABELS = {
    "age": "Age (years)",
    "sex": "Sex",
    "admission_type": "Admission type",
    "heart_rate": "Heart rate (beats/min)",
    "sbp": "Systolic BP (mmHg)",
    "dbp": "Diastolic BP (mmHg)",
    "map": "Mean arterial pressure (mmHg)",
    "resp_rate": "Respiratory rate (breaths/min)",
    "spo2": "SpO2 (%)",
    "temperature": "Temperature (°C)",
    "fio2": "FiO2 (fraction)",
    "gcs": "Glasgow Coma Scale (3-15)",
    "lactate": "Lactate (mmol/L)",
    "wbc": "WBC (10^9/L)",
    "creatinine": "Creatinine (mg/dL)",
    "bun": "BUN (mg/dL)",
    "hemoglobin": "Hemoglobin (g/dL)",
    "albumin": "Albumin (g/dL)",
    "bilirubin": "Bilirubin (mg/dL)",
    "platelets": "Platelets (10^9/L)",
    "sodium": "Sodium (mmol/L)",
    "potassium": "Potassium (mmol/L)",
    "glucose": "Glucose (mg/dL)",
    "weight_kg": "Weight (kg)",
}


def feature_label(name: str) -> str:
    """'Heart rate (beats/min)' for 'heart_rate'; other names as they are."""
    return FEATURE_LABELS.get(name, name)


def modality_name(modality: amff.Modality | str) -> str:
    """'clinical record' for 'tabular' (the plain-language label)."""
    return amff.Modality(modality).label


def modality_title(modality: amff.Modality | str) -> str:
    """'Clinical record', 'RNA-seq': the label with a capital first letter only."""
    label = amff.Modality(modality).label
    return label[:1].upper() + label[1:]


# -- one patient -----------------------------------------------------------------------------
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


# -- a cohort --------------------------------------------------------------------------------
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


# -- helpers -----------------------------------------------------------------------------------
_MODALITY_NAMES = {m.value for m in amff.MODALITIES}


def _series_color(name: str, i: int) -> str:
    return MODEL_COLORS.get(name, SERIES_COLORS[i % len(SERIES_COLORS)])


def value_text(value: object) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return "missing"
        return f"{float(value):g}"
    return str(value)
