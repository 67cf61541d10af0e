"""What every command shares: the parser with one-line errors, command output, progress bars,
flag types and groups, the atomic CSV writer, and the guard that keeps outputs off the input.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from amff.errors import InputError, write_failed


class CliError(InputError):
    """A bad flag or argument combination."""


class Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line and status 2 (argparse's own convention)."""

    def error(self, message: str) -> None:
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def say(text: str, error: bool = False) -> None:
    """Command output: the one place a command writes to the terminal (stdout, or stderr for
    errors). Library modules never call it; they return values, call callbacks, or log."""
    print(text, file=sys.stderr if error else sys.stdout)


# -- progress ------------------------------------------------------------------------------
class TqdmProgress:
    """Trainer callback: one tqdm bar per fit, showing the running validation AUROC."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bar: Any = None

    def on_fit_start(self, name: str, epochs: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=epochs, desc=f"train {name}", unit="epoch", disable=self.quiet)

    def on_epoch_end(self, name: str, record: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.set_postfix(
                val_auroc=f"{record['val_auroc']:.3f}", loss=f"{record['val_loss']:.3f}"
            )
            self.bar.update(1)

    def on_fit_end(self, name: str, result: Any) -> None:
        if self.bar is not None:
            self.bar.close()


def progress_bar(desc: str, total: int, quiet: bool) -> Any:
    """A tqdm bar over patients (on stderr)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="patient", disable=quiet)


# -- flags ---------------------------------------------------------------------------------
def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def add_device(parser: argparse.ArgumentParser) -> None:
    """--device auto|cpu|cuda."""
    parser.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="auto (the default): a GPU when there is one; under torchrun, GPU LOCAL_RANK",
    )


def add_scoring_flags(parser: argparse.ArgumentParser) -> None:
    """--chunk-size, --device and --quiet, shared by evaluate and predict."""
    parser.add_argument(
        "--chunk-size",
        type=positive_int,
        default=2048,
        help="patients read and scored at a time (rounded up to a multiple of 256; default "
        "2048); the results do not depend on it",
    )
    add_device(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_modalities_flag(parser: argparse.ArgumentParser) -> None:
    """--modalities: a comma-separated subset."""
    parser.add_argument(
        "--modalities", help="comma-separated subset, e.g. tabular,image (default all)"
    )


def modalities_flag(text: str | None) -> tuple[Any, ...]:
    """The --modalities value as Modality members (all of them when not given)."""
    from amff.modalities import parse_modalities

    try:
        return parse_modalities(text)
    except ValueError as exc:
        raise CliError(f"--modalities: {exc}") from None


# -- outputs -------------------------------------------------------------------------------
def refuse_inside(out: Path, data: Path, what: str) -> None:
    """Never write over the input cohort: --out may not be the data folder, inside it, or
    a folder that holds it."""
    try:
        out_abs, data_abs = out.resolve(), data.resolve()
    except OSError:
        return
    if out_abs == data_abs or data_abs in out_abs.parents or out_abs in data_abs.parents:
        raise CliError(
            f"--out {out}: would write {what} over the cohort in {data}; choose a path outside "
            "the --data folder"
        )


def write_csv_chunks(frames: Iterable[Any], out: Path) -> int:
    """Write frames one after another as one CSV (one header) so a reader never sees half a
    file: a hidden temp file beside `out`, renamed at the end (a process killed midway leaves
    at most that temp file; two jobs writing the same `out`: the last rename wins). On any
    error the temp file is removed and `out` is left as it was; a write that fails (a full
    disk, a read-only folder) is an InputError naming `out`. Returns the rows written."""
    with writing(out):
        handle, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    rows, header = 0, True
    try:
        stream = os.fdopen(handle, "w", encoding="utf-8", newline="")
        try:
            for frame in frames:  # reading and scoring errors pass through as they are
                with writing(out):
                    frame.to_csv(stream, index=False, header=header, lineterminator="\n")
                rows, header = rows + len(frame), False
            with writing(out):
                stream.flush()
                os.fsync(stream.fileno())
        finally:
            with contextlib.suppress(OSError):  # after a failed write, closing fails again
                stream.close()
        with writing(out):
            os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return rows


@contextlib.contextmanager
def writing(out: Path) -> Iterator[None]:
    """An OSError inside (a full disk, no permission) becomes one InputError naming `out`."""
    try:
        yield
    except OSError as exc:
        raise write_failed(out, exc) from None


def finite(value: Any) -> Any:
    """JSON-safe: NaN becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def log_to_stderr(level: int) -> None:
    """The package's warnings (counts and notices, never patient values) go to stderr."""
    logger = logging.getLogger("amff")
    logger.setLevel(level)
    for handler in list(logger.handlers):
        if getattr(handler, "_amff_cli", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler._amff_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
