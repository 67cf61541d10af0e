"""The AMFF-HT dashboard (Streamlit). Run it with `make run`."""
