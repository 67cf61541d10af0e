"""The dashboard's pages, one module (or folder) each; streamlit_app.py lists them."""
