"""The PNG panels of `python -m amff explain`: drawing only, from what `amff.explain` computed.

Matplotlib's object API (`Figure`, Agg canvas) is used rather than pyplot, so drawing keeps no
global state and is safe from any thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap, TwoSlopeNorm
from matplotlib.figure import Figure

from amff.data.cohort import Patient
from amff.modalities import Modality
from amff.palette import DIVERGING, RISK_DOWN, RISK_UP

log = logging.getLogger(__name__)

POSITIVE, NEGATIVE = RISK_UP, RISK_DOWN  # raises / lowers the risk (the one palette)
# the dashboard's diverging scale, as a matplotlib colour map
DIVERGING_MAP = LinearSegmentedColormap.from_list("risk", [c for _, c in DIVERGING])
TOP_BARS = 20
NOTE_COLUMNS = 110  # characters per line of the rendered note
MONO_ADVANCE = 0.602  # width of a DejaVu Sans Mono character, in ems


def write_panels(
    folder: Path,
    patient: Patient,
    result: dict[str, Any],
    attributions: dict[str, Any],
    attention: dict[str, Any],
) -> list[Path]:
    """Write one PNG per modality into folder (a placeholder where a modality was not used)."""
    written = []
    for name in result["weights"]:  # the model's modalities
        modality = Modality(name)
        found = attributions.get(name)
        if found is None:
            figure = _unavailable(modality, result)
        else:
            draw = PANELS.get(name, _generic_panel)
            figure = draw(found, attention.get(name), patient)
        path = folder / f"{name}.png"
        FigureCanvasAgg(figure)
        figure.savefig(path, dpi=110)
        written.append(path)
    return written


def _record_panel(found: Any, attention: Any, patient: Patient) -> Figure:
    return _bars(found, f"Clinical record: {found.method}", "features")


def _note_panel(found: Any, attention: Any, patient: Patient) -> Figure:
    return _note(found, attention, patient.note or "")


def _image_panel(found: Any, attention: Any, patient: Patient) -> Figure:
    return _image(found, attention)


def _rna_panel(found: Any, attention: Any, patient: Patient) -> Figure:
    return _bars(found, f"RNA-seq (raw counts): {found.method}", "inputs")


def _generic_panel(found: Any, attention: Any, patient: Patient) -> Figure:
    return _bars(found, f"{found.modality}: {found.method}", "inputs")


# one drawer per modality: (Attribution, its AttentionMap or None, patient) -> Figure
PANELS: dict[str, Callable[[Any, Any, Patient], Figure]] = {
    "tabular": _record_panel,
    "text": _note_panel,
    "image": _image_panel,
    "rna": _rna_panel,
}


def _bars(found: Any, title: str, what: str) -> Figure:
    """Horizontal bars of the largest attributions, value beside each label."""
    top = found.top(TOP_BARS).iloc[::-1]
    labels = [f"{label} = {_short(value)}" for label, value in zip(top["label"], top["value"])]
    values = top["attribution"].to_numpy(dtype=float)
    figure = Figure(figsize=(8, 0.32 * len(values) + 1.6), layout="constrained")
    ax = figure.add_subplot()
    ax.barh(range(len(values)), values, color=[POSITIVE if v > 0 else NEGATIVE for v in values])
    ax.set_yticks(range(len(values)), labels, fontsize=8)
    ax.axvline(0.0, color="black", linewidth=0.6)
    ax.set_xlabel("attribution to the logit (red raises the risk, blue lowers it)")
    ax.set_title(f"{title} (top {len(values)} of {len(found.labels)} {what})", fontsize=10)
    return figure


def _note(found: Any, attention: Any, note: str) -> Figure:
    """The note as the model read it, each word shaded by its attribution."""
    words, values = found.labels, np.asarray(found.values, dtype=float)
    starts, ends = found.extra.get("start", []), found.extra.get("end", [])
    lines: list[list[tuple[str, float]]] = [[]]
    width = 0
    for i, word in enumerate(words):
        between = note[ends[i - 1] : starts[i]] if i > 0 else ""
        gap = "\n" if "\n" in between else " " if between else ""
        if gap == "\n" or width + len(gap) + len(word) > NOTE_COLUMNS:
            lines.append([])
            width, gap = 0, ""
        lines[-1].append((gap + word, values[i]))
        width += len(gap) + len(word)
    scale = float(np.abs(values).max()) if len(values) and np.abs(values).max() > 0 else 1.0
    width_in, height_in = 10.0, 0.22 * len(lines) + 0.7
    figure = Figure(figsize=(width_in, height_in))
    ax = figure.add_axes((0.01, 0.02, 0.98, 1.0 - 0.5 / height_in))
    ax.set_axis_off()
    # one text column per character: the font size that makes a monospace character one column
    fontsize = 0.98 * width_in * 72.0 / NOTE_COLUMNS / MONO_ADVANCE
    ax.set_xlim(0, NOTE_COLUMNS)
    ax.set_ylim(len(lines), -1)
    for row, line in enumerate(lines):
        column = 0
        for text, value in line:
            stripped = text.lstrip(" ")
            column += len(text) - len(stripped)
            strength = min(1.0, abs(value) / scale)
            colour = POSITIVE if value > 0 else NEGATIVE
            ax.text(
                column,
                row,
                stripped,
                family="DejaVu Sans Mono",
                fontsize=fontsize,
                va="center",
                bbox={"facecolor": colour, "alpha": 0.75 * strength, "pad": 0.5, "linewidth": 0},
            )
            column += len(stripped)
    title = f"Clinical note: {found.method} per word (red raises the risk, blue lowers it)"
    if attention is not None:
        best = int(np.argmax(attention.weights))
        title += f"; most attended word: {attention.labels[best]!r}"
    figure.suptitle(title, fontsize=10, y=1.0 - 0.12 / height_in, va="top")
    return figure


def _image(found: Any, attention: Any) -> Figure:
    """The image, the attribution heatmap over it, and the pooling attention over it."""
    image = np.asarray(found.inputs, dtype=float)
    heat = np.asarray(found.values, dtype=float)
    panels = 3 if attention is not None else 2
    figure = Figure(figsize=(3.6 * panels, 3.9), layout="constrained")
    axes = figure.subplots(1, panels)
    axes[0].imshow(image, cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("image (model input)", fontsize=9)
    limit = float(np.abs(heat).max()) or 1.0
    axes[1].imshow(image, cmap="gray", vmin=0, vmax=1)
    shown = axes[1].imshow(
        heat, cmap=DIVERGING_MAP, norm=TwoSlopeNorm(0.0, -limit, limit), alpha=0.65
    )
    axes[1].set_title(f"{found.method}", fontsize=9)
    figure.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.02)
    if attention is not None and attention.upsampled is not None:
        axes[2].imshow(image, cmap="gray", vmin=0, vmax=1)
        # from 0, so a near-uniform attention looks uniform rather than contrast-stretched
        top = float(attention.upsampled.max()) or 1.0
        axes[2].imshow(attention.upsampled, cmap="magma", alpha=0.55, vmin=0.0, vmax=top)
        cells = attention.weights.size
        axes[2].set_title(
            f"pooling attention: top cell {attention.weights.max():.1%} (uniform {1 / cells:.1%})",
            fontsize=9,
        )
    for ax in axes:
        ax.set_axis_off()
    return figure


def _unavailable(modality: Modality, result: dict[str, Any]) -> Figure:
    reason = (
        "not chosen for this explanation"
        if modality.value in result.get("available", [])
        else "not available for this patient"
    )
    figure = Figure(figsize=(6, 1.2))
    ax = figure.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, f"{modality.label}: {reason}", ha="center", va="center", fontsize=11)
    return figure


def _short(value: Any) -> str:
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return "missing"
        return f"{int(value)}" if float(value).is_integer() else f"{value:.4g}"
    return str(value)
