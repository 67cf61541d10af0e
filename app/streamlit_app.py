"""AMFF-HT dashboard: `make run` (python -m streamlit run app/streamlit_app.py).

The entry file only sets the page up, draws the sidebar every page shares and builds the
navigation; each page is a file in views/.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

# One torch thread per session: the server runs sessions in parallel threads, and torch's
# intra-op threads multiply with them; on a small shared machine they spin against each
# other (measured on 2 busy cores: a modality toggle for 600 patients 20 ms with one thread,
# up to 600 ms with two; encoding them 2.3 s against 10.6 s). Read when torch is first
# imported (by amff.load); an OMP_NUM_THREADS set by the user wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `app` is imported as a package from the repository root
    sys.path.insert(0, str(ROOT))

from app import state, ui  # noqa: E402

st.set_page_config(
    page_title="AMFF-HT dashboard",
    page_icon=":material/monitor_heart:",
    layout="wide",
    initial_sidebar_state="expanded",
)

VIEWS = Path(__file__).resolve().parent / "views"
pages = [
    st.Page(
        VIEWS / "patient" / "page.py",
        title="Patient",
        icon=":material/person:",
        url_path="patient",
        default=True,
    ),
    st.Page(
        VIEWS / "cohort.py",
        title="Cohort and ablation",
        icon=":material/groups:",
        url_path="cohort",
    ),
    st.Page(
        VIEWS / "training.py",
        title="Training and experiments",
        icon=":material/show_chart:",
        url_path="training",
    ),
    st.Page(
        VIEWS / "model_card.py",
        title="Model card",
        icon=":material/description:",
        url_path="model-card",
    ),
]
page = st.navigation(pages)


def sidebar_ui() -> None:
    with st.sidebar:
        st.warning(f"**{ui.DISCLAIMER}**", icon=":material/warning:")
        models = state.available_models()
        if len(models) > 1:
            st.selectbox(
                "Model",
                list(models),
                format_func=ui.model_label,
                key="model_kind",
                help=(
                    "AMFF-HT fuses the sources with attention and adaptive weights. Early "
                    "fusion joins them into one vector; late fusion averages one model per "
                    "source. All were trained on the same simulated patients."
                ),
                persist_state="session",
            )
        elif models:
            st.caption(f"Model: {ui.model_label(next(iter(models)))}")
        st.caption(
            "AMFF-HT: adaptive multimodal fusion with hierarchical transformers. It combines "
            "a clinical record, a clinical note, a medical image and RNA-seq into one risk."
        )


sidebar_ui()
page.run()
