"""The one exception for bad input: its message says what is wrong, where, and how to fix it."""

from __future__ import annotations


class InputError(ValueError):
    """Input that cannot be used as given (a file, a folder, a flag, an upload).

    The CLI prints it as one `error: ...` line and exits with status 2; the dashboard shows it
    next to the widget. The message must name the file (and row or column) and the fix.
    """
