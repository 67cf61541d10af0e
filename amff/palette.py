"""The project's colours and display names, as plain data (imports only the model kinds).

Colours are the Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"), safe for the
common colour-vision deficiencies. Risk is diverging: vermillion raises it, blue lowers it.
"""

from amff.config import MODEL_KINDS

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

# -- risk: raises / lowers it ----------------------------------------------------------------
RISK_UP = OKABE_ITO["vermillion"]
RISK_DOWN = OKABE_ITO["blue"]
DIVERGING = [[0.0, RISK_DOWN], [0.5, "#FFFFFF"], [1.0, RISK_UP]]  # a Plotly colour scale

# -- modalities (keys are the modality names; a Modality, a StrEnum, looks them up too) -----
MODALITY_COLORS = {
    "tabular": OKABE_ITO["blue"],
    "text": OKABE_ITO["orange"],
    "image": OKABE_ITO["green"],
    "rna": OKABE_ITO["purple"],
}
# The reproduction's figure of the adaptive weights (fig5d) colours the modalities otherwise;
# kept so its PNG stays as published. Unifying with MODALITY_COLORS changes that figure.
FIGURE_MODALITY_COLORS = {
    "tabular": OKABE_ITO["orange"],
    "text": OKABE_ITO["purple"],
    "image": OKABE_ITO["blue"],
    "rna": OKABE_ITO["green"],
}

# -- methods (the experiments' method ids) ---------------------------------------------------
METHOD_NAMES = {
    "amff": "AMFF-HT",
    "early": "Early fusion",
    "late": "Late fusion",
    "amff-no-cross-attention": "AMFF-HT, no cross-attention",
    "amff-no-masking": "AMFF-HT, no modality masking",
    "amff-mean-pooling": "AMFF-HT, mean pooling",
}
METHOD_COLORS = {
    "amff": OKABE_ITO["blue"],
    "early": OKABE_ITO["orange"],
    "late": OKABE_ITO["green"],
    "amff-no-cross-attention": OKABE_ITO["purple"],
    "amff-no-masking": OKABE_ITO["vermillion"],
    "amff-mean-pooling": OKABE_ITO["sky_blue"],
}
# the same colours keyed by the name shown to users ("AMFF-HT", "Early fusion", ...)
MODEL_COLORS = {METHOD_NAMES[m]: METHOD_COLORS[m] for m in MODEL_KINDS}

# -- any other set of lines, in this order -----------------------------------------------------
SERIES_COLORS = [
    OKABE_ITO["blue"],
    OKABE_ITO["orange"],
    OKABE_ITO["green"],
    OKABE_ITO["purple"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["black"],
]

__all__ = [
    "DIVERGING",
    "FIGURE_MODALITY_COLORS",
    "METHOD_COLORS",
    "METHOD_NAMES",
    "MODALITY_COLORS",
    "MODEL_COLORS",
    "OKABE_ITO",
    "RISK_DOWN",
    "RISK_UP",
    "SERIES_COLORS",
]
