"""AMFF-HT dashboard entry point (placeholder until the dashboard issue lands)."""

import streamlit as st

st.set_page_config(page_title="AMFF-HT", layout="wide")
st.title("AMFF-HT")
st.info("The dashboard is coming: patient explorer, modality toggles, attributions, cohort ablation.")
