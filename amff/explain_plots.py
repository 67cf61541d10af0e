"""Moved to `amff.explain.png`; this name stays until `amff explain` imports it from there."""

from amff.explain.png import PANEL_FILES, write_panels

__all__ = ["PANEL_FILES", "write_panels"]
