"""Plotly figure builders for the dashboard: data in, figure out, no Streamlit calls.

Colours are Okabe-Ito (safe for the common colour-vision deficiencies). Risk is shown in
percent; "pushes risk up" is vermillion, "pushes risk down" is blue, everywhere.

One module per job: `style` (colours, layout, labels), `patient`, `cohort`, `training`.
Every public name is re-exported here, so `from app import charts; charts.risk_figure(...)`.
"""

from __future__ import annotations

from app.charts.cohort import (
    calibration_figure,
    calibration_table,
    confusion_counts,
    confusion_figure,
    models_figure,
    pr_figure,
    roc_figure,
    subsets_figure,
)
from app.charts.patient import (
    SENSITIVITY,
    attribution_bars_figure,
    drop_one_figure,
    genes_figure,
    image_overlay_figure,
    modality_weights_figure,
    note_html,
    record_attribution_figure,
    risk_figure,
    smooth_heatmap,
)
from app.charts.style import (
    DIVERGING,
    FEATURE_LABELS,
    FONT,
    MODALITY_COLORS,
    MODEL_COLORS,
    OKABE_ITO,
    RISK_DOWN,
    RISK_UP,
    SERIES_COLORS,
    feature_label,
    modality_name,
    modality_title,
    value_text,
)
from app.charts.training import (
    HISTORY_METRICS,
    architecture_dot,
    history_figure,
)

__all__ = [
    "architecture_dot",
    "attribution_bars_figure",
    "calibration_figure",
    "calibration_table",
    "confusion_counts",
    "confusion_figure",
    "DIVERGING",
    "drop_one_figure",
    "feature_label",
    "FEATURE_LABELS",
    "FONT",
    "genes_figure",
    "history_figure",
    "HISTORY_METRICS",
    "image_overlay_figure",
    "MODALITY_COLORS",
    "modality_name",
    "modality_title",
    "modality_weights_figure",
    "MODEL_COLORS",
    "models_figure",
    "note_html",
    "OKABE_ITO",
    "pr_figure",
    "record_attribution_figure",
    "RISK_DOWN",
    "risk_figure",
    "RISK_UP",
    "roc_figure",
    "SENSITIVITY",
    "SERIES_COLORS",
    "smooth_heatmap",
    "subsets_figure",
    "value_text",
]
