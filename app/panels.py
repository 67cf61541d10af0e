"""One attribution panel per modality, drawn on the Patient page and in the HTML report.

`panel(name)` looks a modality up by name; a modality without a panel of its own gets the
generic one (bars of its largest attributions), so a fifth modality shows up without an edit
here. Each panel has two faces over the same figures: `show` draws it with Streamlit (with its
controls), `report` gives the report's figure, HTML or table. The figures themselves are built
by app/charts/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import amff
from app import charts, ui

NO_TOOLBAR = {"displayModeBar": False}
SMOOTHING = 1.5  # pixels: the Gaussian blur that shows image regions rather than pixels


@dataclass(frozen=True)
class ReportPart:
    """What a panel puts in the report: a figure, escaped HTML, or the record-values table."""

    figure: go.Figure | None = None
    html: str | None = None
    table: pd.DataFrame | None = None


@dataclass(frozen=True)
class Panel:
    """A modality's panel: drawn on the page (`show`) and in the report (`report`), both
    called with (predictor, patient, attribution). `reference` names the neutral reference
    its attributions are measured against, in words."""

    show: Callable[[Any, amff.Patient, Any], None]
    report: Callable[[Any, amff.Patient, Any], ReportPart]
    reference: str


def signed(found: Any) -> bool:
    """Saliency gives sizes only (|gradient|): drawn without a direction."""
    return found.method != "saliency"


# -- the clinical record: feature bars and a table of values ---------------------------------------
FLAG_TEXT = {"low": "low", "high": "high"}


def usual_range(bounds: tuple[float, float] | None) -> str:
    return "" if bounds is None else f"{bounds[0]:.3g} to {bounds[1]:.3g}"


def usual_ranges(model: Any) -> dict[str, tuple[float, float]]:
    """{numeric feature: (1st, 99th percentile of the training patients)}."""
    return {
        name: (spec["low"], spec["high"])
        for name, spec in model.record_schema().items()
        if spec["kind"] == "numeric"
    }


def _record_frame(model: Any, patient: amff.Patient, found: Any) -> pd.DataFrame:
    """label, value, attribution, ... and flag ('low', 'high' or '') per feature."""
    flags = model.out_of_range(patient.record)
    frame = found.frame()
    frame["flag"] = [flags.get(label, "") for label in frame["label"]]
    return frame


def _record_figure(frame: pd.DataFrame, found: Any) -> go.Figure:
    shown = frame.assign(label=[ui.feature_label(label) for label in frame["label"]])
    return charts.record_attribution_figure(shown, signed=signed(found))


def record_show(model: Any, patient: amff.Patient, found: Any) -> None:
    frame = _record_frame(model, patient, found)
    ranges = usual_ranges(model)
    left, right = st.columns([1, 1], gap="large")
    left.plotly_chart(_record_figure(frame, found), config=NO_TOOLBAR, key="record_chart")
    table = pd.DataFrame(
        {
            "Feature": [ui.feature_label(label) for label in frame["label"]],
            "Value": [
                charts.value_text(v) + (f" ({FLAG_TEXT[f]})" if f in FLAG_TEXT else "")
                for v, f in zip(frame["value"], frame["flag"])
            ],
            "Usual range": [usual_range(ranges.get(f)) for f in frame["label"]],
            "Attribution": frame["attribution"].round(4),
        }
    ).iloc[np.argsort(-np.abs(frame["attribution"].to_numpy()), kind="stable")]
    right.dataframe(
        table,
        hide_index=True,
        height=420,
        column_config={
            "Value": st.column_config.TextColumn(help=ui.HELP["out_of_range"]),
            "Usual range": st.column_config.TextColumn(
                help="1st to 99th percentile of the training patients."
            ),
            "Attribution": st.column_config.NumberColumn(help=ui.HELP["attribution"]),
        },
    )


def record_report(model: Any, patient: amff.Patient, found: Any) -> ReportPart:
    frame = _record_frame(model, patient, found)
    table = pd.DataFrame(
        {
            "feature": [charts.feature_label(label) for label in frame["label"]],
            "value": [charts.value_text(v) for v in frame["value"]],
            "usual range": [{"low": "below", "high": "above"}.get(f, "") for f in frame["flag"]],
            "attribution": frame["attribution"].round(4),
        }
    )
    return ReportPart(figure=_record_figure(frame, found), table=table)


# -- the clinical note: words shaded by their attribution ------------------------------------------
def _note_html(patient: amff.Patient, found: Any) -> str:
    starts, ends = list(found.extra.get("start", [])), list(found.extra.get("end", []))
    return charts.note_html(
        patient.note or "",
        starts,
        ends,
        found.values,
        read_until=max(ends) if ends else 0,
        signed=signed(found),
    )


def note_show(model: Any, patient: amff.Patient, found: Any) -> None:
    note = patient.note or ""
    st.html(_note_html(patient, found))
    st.caption(
        (
            "Words shaded vermillion raised the risk, blue lowered it; stronger shading, more "
            "effect."
            if signed(found)
            else "Stronger shading: the risk is more sensitive to the word."
        )
        + f" The model read the first {len(found.labels)} words (shaded); grey text after "
        "them was not read."
    )
    if len(note) > amff.MAX_NOTE_CHARS:
        st.info(
            f"This note has {len(note):,} characters; the model reads at most the first "
            f"{amff.MAX_NOTE_CHARS:,}.",
            icon=":material/content_cut:",
        )


def note_report(model: Any, patient: amff.Patient, found: Any) -> ReportPart:
    return ReportPart(html=_note_html(patient, found))


# -- the medical image: a heatmap over the image ---------------------------------------------------
def image_show(model: Any, patient: amff.Patient, found: Any) -> None:
    left, right = st.columns([3, 1], gap="large")
    with right:
        opacity = st.slider(
            "Heatmap opacity",
            0.0,
            1.0,
            0.5,
            0.05,
            key="opacity",
            help="0 shows the image alone; 1 shows the heatmap alone.",
        )
        smooth = st.toggle(
            "Smooth the heatmap",
            value=True,
            key="smooth",
            help="Pixel-level attributions are speckled; smoothing (a 1.5-pixel Gaussian "
            "blur) shows the regions. Switch off to see the raw pixels.",
        )
        st.caption(
            (
                "Vermillion regions raised the risk, blue regions lowered it."
                if signed(found)
                else "Stronger blue: the risk is more sensitive to that region."
            )
            + f" The image is shown as the model reads it ({model.image_size} x "
            f"{model.image_size} pixels)."
        )
    left.plotly_chart(
        charts.image_overlay_figure(
            np.asarray(found.inputs),
            charts.smooth_heatmap(found.values, SMOOTHING) if smooth else found.values,
            opacity,
            signed=signed(found),
        ),
        config=NO_TOOLBAR,
        key="image_chart",
    )


def image_report(model: Any, patient: amff.Patient, found: Any) -> ReportPart:
    figure = charts.image_overlay_figure(
        np.asarray(found.inputs),
        charts.smooth_heatmap(found.values, SMOOTHING),
        0.5,
        title="Smoothed (1.5-pixel Gaussian blur)",
        signed=signed(found),
    )
    return ReportPart(figure=figure)


# -- RNA-seq: the top genes ------------------------------------------------------------------------
def rna_show(model: Any, patient: amff.Patient, found: Any) -> None:
    left, right = st.columns([3, 2], gap="large")
    left.plotly_chart(
        charts.genes_figure(found.frame(), k=15, signed=signed(found)),
        config=NO_TOOLBAR,
        key="genes_chart",
    )
    top = found.top(50)
    right.dataframe(
        pd.DataFrame(
            {
                "Gene": top["label"].replace({"log10_library_size": "library size (reads)"}),
                "Reads": top["value"].round(0),
                "Attribution": top["attribution"].round(5),
            }
        ),
        hide_index=True,
        height=420,
        column_config={"Attribution": st.column_config.NumberColumn(help=ui.HELP["attribution"])},
    )


def rna_report(model: Any, patient: amff.Patient, found: Any) -> ReportPart:
    return ReportPart(figure=charts.genes_figure(found.frame(), k=15, signed=signed(found)))


# -- any other modality: bars of its largest attributions ------------------------------------------
def generic_show(model: Any, patient: amff.Patient, found: Any) -> None:
    st.plotly_chart(
        generic_report(model, patient, found).figure,
        config=NO_TOOLBAR,
        key=f"{found.modality}_chart",
    )


def generic_report(model: Any, patient: amff.Patient, found: Any) -> ReportPart:
    title = f"{found.modality}: the inputs that moved the risk most"
    return ReportPart(
        figure=charts.attribution_bars_figure(found.frame(), title, signed=signed(found))
    )


PANELS: dict[str, Panel] = {
    amff.Modality.TABULAR.value: Panel(
        record_show,
        record_report,
        "an average training patient's record (missing values stay missing)",
    ),
    amff.Modality.TEXT.value: Panel(note_show, note_report, "an empty note"),
    amff.Modality.IMAGE.value: Panel(
        image_show, image_report, "a plain gray image at the average training brightness"
    ),
    amff.Modality.RNA.value: Panel(
        rna_show, rna_report, "an average training patient's gene expression"
    ),
}
GENERIC = Panel(generic_show, generic_report, "the attribution method's neutral input")


def panel(modality: str) -> Panel:
    """The panel of this modality (by name); the generic one for a modality without its own."""
    return PANELS.get(modality, GENERIC)
