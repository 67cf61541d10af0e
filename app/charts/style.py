"""The dashboard's look, shared by every chart: Okabe-Ito colours, the font, the common
layout, and the plain-language labels (features, modalities, values).

Colours are Okabe-Ito (safe for the common colour-vision deficiencies). "Pushes risk up" is
vermillion, "pushes risk down" is blue, everywhere.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

import amff

# the one palette (amff/palette.py): Okabe & Ito (2008), "Color Universal Design"
OKABE_ITO = amff.palette.OKABE_ITO
RISK_UP = amff.palette.RISK_UP
RISK_DOWN = amff.palette.RISK_DOWN
MODALITY_COLORS = amff.palette.MODALITY_COLORS  # keyed by name; a Modality looks it up too
MODEL_COLORS = amff.palette.MODEL_COLORS
SERIES_COLORS = amff.palette.SERIES_COLORS
# attribution maps: blue (lowers risk) - white - vermillion (raises risk)
DIVERGING = amff.palette.DIVERGING
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
