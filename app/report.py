"""The downloadable patient report: one self-contained HTML file.

Everything that comes from the user (the patient id, record values, the note, file names)
goes through html.escape; the Plotly figures are embedded as HTML (plotly.js inline once, so
the file opens without a network).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import amff
from app import charts, panels

STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #1F2933;
       max-width: 1000px; margin: 24px auto; padding: 0 16px; line-height: 1.5; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { font-size: 20px; margin-top: 28px; }
.disclaimer { background: #FFF4E5; border: 1px solid #E69F00; padding: 8px 12px;
              border-radius: 6px; font-weight: 600; }
.big { font-size: 34px; font-weight: 700; }
table { border-collapse: collapse; font-size: 14px; }
td, th { border-bottom: 1px solid #E5E7EB; padding: 4px 10px; text-align: left; }
.muted { color: #6B7280; font-size: 13px; }
"""


def figure_html(fig: go.Figure, first: bool) -> str:
    """A figure as an HTML fragment; plotly.js is included with the first one only."""
    return fig.to_html(full_html=False, include_plotlyjs=bool(first))


def render_report(
    *,
    patient_id: str,
    model_name: str,
    used: Iterable[str],
    available: Iterable[str],
    probability: float,
    threshold: float,
    reference: float,
    truth: Mapping[str, Any],
    figures: Mapping[str, go.Figure],
    html_parts: Mapping[str, str] | None = None,
    record: pd.DataFrame | None = None,
    method: str = "",
    created: datetime | None = None,
    notice: str | None = None,
) -> str:
    """The report HTML from plain values and figures. `html_parts` (by modality, e.g. the
    highlighted note) must already be escaped (charts.note_html builds it so); every other
    string is escaped here."""
    e = html.escape
    html_parts = html_parts or {}
    created = created or datetime.now(UTC)
    used, available = list(used), list(available)
    flagged = np.isfinite(probability) and probability >= threshold
    decision = "Flagged: high risk" if flagged else "Not flagged"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>AMFF-HT report: {e(patient_id)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>AMFF-HT patient report: {e(patient_id)}</h1>",
        '<p class="disclaimer">Synthetic patients; not for clinical decisions. The model learned '
        "from simulated patients only.</p>",
        f'<p class="muted">Model: {e(model_name)}. Created '
        f"{e(created.strftime('%Y-%m-%d %H:%M UTC'))}.</p>",
        "<h2>Prediction</h2>",
        f'<p><span class="big">{_percent(probability)}</span> predicted risk of the outcome. '
        f"<b>{e(decision)}</b> (decision threshold {_percent(threshold)}).</p>",
        f"<p>Sources used: {e(_names(used))}. Available: {e(_names(available))}. "
        f"With every available source the risk is {_percent(reference)}.</p>",
    ]
    if truth.get("synthetic"):
        label = truth.get("label")
        parts.append(
            f"<p>Simulated outcome: <b>{'event' if label == 1 else 'no event'}</b>. "
            f"True risk from the simulator (oracle): {_percent(truth.get('p_true'))}.</p>"
        )
    first = True
    sections = [
        ("weights", "Which sources the prediction rests on"),
        ("drop_one", "What each source adds to the risk"),
    ]
    for name, title in sections:
        if name in figures:
            parts += [f"<h2>{e(title)}</h2>", figure_html(figures[name], first)]
            first = False
    if notice:
        parts.append(f'<p class="muted">{e(notice)}</p>')
    if method:
        parts.append(
            f"<h2>Attributions</h2><p class='muted'>Method: {e(method.replace('_', ' '))}. "
            "Vermillion raises the risk, blue lowers it.</p>"
        )
    for m in amff.MODALITIES:
        if f"attribution_{m.value}" in figures:
            parts += [
                f"<h2>{e(charts.modality_title(m))}</h2>",
                figure_html(figures[f"attribution_{m.value}"], first),
            ]
            first = False
        if html_parts.get(m.value):
            parts += [f"<h2>{e(charts.modality_title(m))}</h2>", html_parts[m.value]]
    if record is not None and len(record):
        parts += [
            "<h2>Record values</h2>",
            record.to_html(index=False, escape=True, na_rep="missing", border=0),
        ]
    parts.append("</body></html>")
    return "\n".join(parts)


def patient_report(
    model: Any,
    model_name: str,
    patient: amff.Patient,
    used: tuple[str, ...],
    available: tuple[str, ...],
    result: Mapping[str, float],
    reasons: pd.DataFrame,
    truth: Mapping[str, Any],
    method: str,
) -> str:
    """Compute every attribution for the sources used and render the report (each source's
    panel from panels.py, as on the page)."""
    figures: dict[str, go.Figure] = {}
    weights = reasons["weight"].dropna()
    if len(weights) and len(weights) == len(reasons):
        figures["weights"] = charts.modality_weights_figure(weights.to_dict())
    figures["drop_one"] = charts.drop_one_figure(reasons["drop_one_probability"].to_dict())
    notice = None
    try:
        found = amff.explain.attribute_all(model, patient, method, used)
    except amff.InputError as exc:  # the prediction is still worth a report
        found, notice = {}, f"Attributions could not be computed: {exc}"
    html_parts: dict[str, str] = {}
    record = None
    for name, attribution in found.items():
        part = panels.panel(name).report(model, patient, attribution)
        if part.figure is not None:
            figures[f"attribution_{name}"] = part.figure
        if part.html is not None:
            html_parts[name] = part.html
        if part.table is not None:
            record = part.table
    return render_report(
        patient_id=patient.patient_id,
        model_name=model_name,
        used=used,
        available=available,
        probability=result["probability"],
        threshold=result["threshold"],
        reference=result["reference"],
        truth=truth,
        figures=figures,
        html_parts=html_parts,
        record=record,
        method=method,
        notice=notice,
    )


def _percent(value: Any) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{100 * float(value):.1f}%"


def _names(names: list[str]) -> str:
    return ", ".join(amff.Modality(n).label for n in names) or "none"
