"""The one exception for bad input: its message says what is wrong, where, and how to fix it."""

from __future__ import annotations


class InputError(ValueError):
    """Input that cannot be used as given (a file, a folder, a flag, an upload).

    The CLI prints it as one `error: ...` line and exits with status 2; the dashboard shows it
    next to the widget. The message must name the file (and row or column) and the fix.
    """


def write_failed(path: object, exc: BaseException) -> InputError:
    """The InputError for an output that could not be written (a full disk, a read-only
    folder, ...): it names the path the user asked for, not a temporary file, and the fix."""
    import errno
    import os
    import re

    code = getattr(exc, "errno", None)
    found = re.search(r"os error (\d+)", str(exc))  # safetensors' writer: no errno attribute
    if code is None and found:
        code = int(found.group(1))
    reason = getattr(exc, "strerror", None) or (os.strerror(code) if code else None)
    reason = reason or " ".join(str(exc).split())[:120] or type(exc).__name__
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        fix = "free some disk space or choose a folder on another disk, then run again"
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "make the folder writable or choose a writable folder, then run again"
    else:
        fix = "check the folder, its permissions and the free disk space, then run again"
    return InputError(f"{path}: cannot be written ({reason}); nothing was written there; {fix}")
