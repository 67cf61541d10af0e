"""CSV reading and writing shared by every file of a cohort folder.

Validation happens at the boundary: every problem is an InputError naming the file, the row
or column, and the fix. Row numbers in messages are spreadsheet rows: the header is row 1.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from amff.errors import InputError

ID = "patient_id"


LABEL = "label"


TEXT = "text"


MAX_ID_LENGTH = 128


# cells read as missing, compared upper-case after stripping (an empty cell is missing too)
MISSING_TOKENS = ("NA", "N/A", "NAN", "NULL", "NONE", "#N/A", "<NA>")


_BAD_ID_CHARS = re.compile(r"[/\\\x00-\x1f\x7f]")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """UTF-8 CSV with "\\n" line ends. Python's CSV writer leaves a lone CR in a cell unquoted,
    which every reader takes for a line break, so a frame with one quotes all its text."""
    text_columns = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    has_cr = any(
        frame[c].astype("str").str.contains("\r", regex=False).any() for c in text_columns
    ) or any("\r" in str(v) for v in [*frame.index, *frame.columns])
    quoting = csv.QUOTE_NONNUMERIC if has_cr else csv.QUOTE_MINIMAL
    frame.to_csv(path, lineterminator="\n", quoting=quoting, encoding="utf-8")


def is_valid_id(pid: str) -> bool:
    """Whether a patient id can be used as a file name in a cohort folder."""
    return (
        bool(pid)
        and pid == pid.strip()
        and len(pid) <= MAX_ID_LENGTH
        and pid not in (".", "..")
        and not _BAD_ID_CHARS.search(pid)
    )


# -- reading helpers -----------------------------------------------------------------------
def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"{path}: cannot be read ({exc.strerror or exc}); check that it is a readable file"
        ) from None


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 text (a byte order mark is dropped), or an InputError saying what the file is."""
    if data[:4] == b"PK\x03\x04":
        raise InputError(
            f"{name}: this is a ZIP or Excel (.xlsx) file, not CSV; save it as CSV (UTF-8)"
        )
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise InputError(f"{name}: this is an old Excel (.xls) file, not CSV; save it as CSV")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError(
            f"{name}: the text is UTF-16 (or UTF-32), not UTF-8; save it again as CSV (UTF-8)"
        )
    if b"\x00" in data:
        raise InputError(
            f"{name}: binary data (NUL bytes), not CSV text; save the file as CSV (UTF-8)"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save the "
            "file again as CSV UTF-8"
        ) from None


def read_table(data: bytes, name: str) -> pd.DataFrame:
    """CSV bytes -> a frame of stripped-name columns and str cells ('' when empty)."""
    return parse_csv(decode_text(data, name), name)


_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")


def parse_csv(text: str, name: str) -> pd.DataFrame:
    """Parse CSV text strictly: the first non-blank row is the header, every row fits it.

    The frame's index holds spreadsheet row numbers (header = 1); blank rows are dropped, and
    unnamed columns that are empty throughout (trailing commas) are dropped.
    """
    skipped, start = 0, 0  # leading blank rows (pandas cannot size a table from them)
    while (end := text.find("\n", start)) >= 0 and not text[start:end].strip(" \t\r,"):
        skipped, start = skipped + 1, end + 1
    text = text[start:]
    if not text.strip():
        raise InputError(
            f"{name}: the file is empty; it needs a header row and one row per patient"
        )
    try:
        raw = pd.read_csv(
            io.StringIO(text),
            header=None,
            dtype=str,
            na_filter=False,
            keep_default_na=False,
            skip_blank_lines=False,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise _parser_error(str(exc), name, skipped) from None
    except Exception as exc:  # pandas raises several kinds for malformed text
        raise InputError(
            f"{name}: not valid CSV ({short_error(exc)}); save it again as CSV"
        ) from None
    raw = raw.fillna("")  # short rows: the missing cells are empty
    raw.index = pd.RangeIndex(1 + skipped, len(raw) + 1 + skipped)  # spreadsheet row numbers
    raw.columns = pd.RangeIndex(raw.shape[1])
    stripped = raw.apply(lambda c: c.str.strip()) if raw.shape[1] else raw
    blank = (stripped == "").all(axis=1).to_numpy()
    if blank.all():
        raise InputError(
            f"{name}: the file is empty; it needs a header row and one row per patient"
        )
    header_at = int(np.flatnonzero(~blank)[0])
    header = [str(h) for h in stripped.iloc[header_at]]
    body = raw.iloc[header_at + 1 :][~blank[header_at + 1 :]]
    keep = []
    for position, column in enumerate(header):
        if column:
            keep.append(position)
        elif (stripped.iloc[header_at + 1 :, position] != "").any():
            raise InputError(
                f"{name}: column {position + 1} has no name in the header but holds values; "
                "name every column"
            )
    names = [header[p] for p in keep]
    seen: set[str] = set()
    for column in names:
        if column in seen:
            raise InputError(
                f"{name}: column {column!r} appears twice; keep one column of that name"
            )
        seen.add(column)
    body = body.iloc[:, keep]
    body.columns = pd.Index(names)
    if len(body) == 0:
        raise InputError(f"{name}: the file has a header but no rows; add one row per patient")
    return body


def _parser_error(message: str, name: str, skipped: int) -> InputError:
    """pandas' tokenizer error as one message, its row counted as in a spreadsheet."""
    fields = _FIELDS.search(message)
    if fields:
        expected, line, saw = fields.groups()
        row = int(line) + skipped
        return InputError(
            f"{name}: row {row} has {saw} cells but the header has {expected} columns; give "
            "every row one cell per column (quote cells that contain commas)"
        )
    quote = _OPEN_QUOTE.search(message)
    if quote:
        row = int(quote.group(1)) + 1 + skipped
        return InputError(
            f'{name}: a quote (") opened in row {row} is never closed; close the quote or remove it'
        )
    return InputError(f"{name}: not valid CSV ({short_error(message)}); save it again as CSV")


def column_list(frame: pd.DataFrame) -> str:
    names = [str(c) for c in frame.columns]
    return repr(names[:6])[:-1] + (", ...]" if len(names) > 6 else "]")


def near_name(columns: Iterable[object], want: str, also: Sequence[str] = ()) -> str | None:
    """A column that is probably `want` spelled differently ('Patient ID', 'Label')."""

    def norm(text: str) -> str:
        return re.sub(r"[^a-z0-9]", "", text.lower())

    targets = {norm(want), *(norm(a) for a in also)}
    for column in columns:
        if str(column) != want and norm(str(column)) in targets:
            return str(column)
    return None


def check_id_text(pid: str, name: str, where: str = "") -> None:
    if not is_valid_id(pid):
        raise InputError(
            f"{name}: {where}patient_id {pid[:40]!r} cannot be used as a file name; use "
            f"letters, digits, '-', '_' or '.' (at most {MAX_ID_LENGTH} characters)"
        )


def check_ids(frame: pd.DataFrame, name: str) -> list[str]:
    """The stripped patient ids of a parsed table, checked: present, usable, unique."""
    if ID not in frame.columns:
        if len(frame.columns) == 1 and re.search(r"[;\t|]", str(frame.columns[0])):
            sep = {";": "semicolon", "\t": "tab", "|": "pipe"}[
                re.search(r"[;\t|]", str(frame.columns[0])).group()
            ]
            raise InputError(
                f"{name}: the columns are separated by {sep}s, not commas; save the file as "
                "comma-separated CSV"
            )
        hint = near_name(frame.columns, ID, ("id", "patient", "patientid", "subjectid"))
        fix = (
            f"rename column {hint!r} to {ID!r}"
            if hint
            else f"add a {ID!r} column (or rename the identifier column to {ID!r})"
        )
        raise InputError(f"{name}: no {ID!r} column (columns are {column_list(frame)}); {fix}")
    ids = frame[ID].str.strip()
    empty = (ids == "").to_numpy()
    if empty.any():
        row = frame.index[int(np.flatnonzero(empty)[0])]
        raise InputError(f"{name}: row {row} has an empty patient_id; fill it in")
    valid = ids.map(is_valid_id).to_numpy(dtype=bool)
    if not valid.all():
        at = int(np.flatnonzero(~valid)[0])
        check_id_text(ids.iloc[at], name, f"row {frame.index[at]}: ")
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        first = ids.iloc[int(np.flatnonzero(dup)[0])]
        rows = [str(r) for r, pid in zip(frame.index, ids) if pid == first]
        raise InputError(
            f"{name}: patient_id {first!r} appears more than once (rows {', '.join(rows[:3])}); "
            "give every patient one row"
        )
    return ids.tolist()


def check_known(ids: Sequence[str], rows: Sequence[int], known: set[str], name: str) -> None:
    for pid, row in zip(ids, rows):
        if pid not in known:
            raise InputError(
                f"{name}: row {row}: patient_id {pid!r} is not in clinical.csv; add a "
                "clinical.csv row for it or remove it here"
            )


def check_label_name(frame: pd.DataFrame, name: str) -> None:
    if LABEL in frame.columns:
        return
    hint = near_name(frame.columns, LABEL)
    if hint:
        raise InputError(
            f"{name}: column {hint!r} looks like the label; rename it to {LABEL!r} (lower "
            "case), or give it another name if it is a feature"
        )


def check_feature_names(features: Sequence[str], name: str) -> None:
    seen: set[str] = set()
    for feature in features:
        if feature in (ID, LABEL) or not feature.strip() or feature != feature.strip():
            raise InputError(
                f"{name}: feature {feature!r} cannot be a column of clinical.csv; rename it "
                f"(not {ID!r} or {LABEL!r}, not empty, no surrounding spaces)"
            )
        if feature in seen:
            raise InputError(f"{name}: feature {feature!r} appears twice; keep one")
        seen.add(feature)


def parse_labels(cells: pd.Series, ids: list[str], name: str) -> pd.Series | None:
    raw = cells.str.strip()
    empty = (raw == "").to_numpy()
    if empty.all():
        return None  # an empty label column: predict only
    if empty.any():
        row = cells.index[int(np.flatnonzero(empty)[0])]
        raise InputError(
            f"{name}: row {row} has no label; give every patient 0 or 1, or remove the label "
            "column to predict only"
        )
    numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    ok = (numbers == 0) | (numbers == 1)
    if not ok.all():
        at = int(np.flatnonzero(~ok)[0])
        raise InputError(
            f"{name}: row {cells.index[at]} has label {raw.iloc[at][:20]!r}; labels must be "
            "0 or 1 (1 = the outcome happened)"
        )
    return pd.Series(numbers.astype(np.int64), index=pd.Index(ids, name=ID), name=LABEL)


def feature_column(cells: pd.Series, col: str, name: str) -> np.ndarray:
    """float64 when every non-missing cell is a number, else object text (NaN = missing)."""
    stripped = cells.str.strip()
    empty = (stripped.eq("") | stripped.str.upper().isin(MISSING_TOKENS)).to_numpy()
    numbers = pd.to_numeric(stripped.where(~empty), errors="coerce").to_numpy(dtype=np.float64)
    if (~np.isnan(numbers) | empty).all():
        infinite = np.isinf(numbers)
        if infinite.any():
            row = cells.index[int(np.flatnonzero(infinite)[0])]
            raise InputError(
                f"{name}: column {col!r}, row {row} is infinite; give a finite number or leave "
                "the cell empty for a missing value"
            )
        return numbers
    values = np.array(stripped.tolist(), dtype=object)
    values[empty] = np.nan
    return values


def plain_column(values: Sequence[object], ids: list[str], col: str) -> pd.Series:
    """Record values as the reader would make them from clinical.csv: float64 if every
    non-missing value is a number (or a numeric string), else str; NaN = missing."""
    cells = []
    for value in values:
        if value is None or (np.ndim(value) == 0 and bool(pd.isna(value))):
            cells.append("")
        elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)
        ):
            cells.append(repr(float(value)))
        else:
            cells.append(str(value))
    index = pd.Index(ids, name=ID)
    parsed = feature_column(pd.Series(cells, index=index, dtype="str"), col, "the patients")
    dtype = np.float64 if parsed.dtype == np.float64 else "str"
    return pd.Series(parsed, index=index, dtype=dtype, name=col)


def iter_lines(text: str) -> Iterator[str]:
    """The text's lines, lazily (csv.reader asks for more when a quoted cell spans lines)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def numeric_if_possible(column: pd.Series) -> pd.Series:
    cells = column.str.strip()
    numbers = pd.to_numeric(cells, errors="coerce")
    if numbers.notna().sum() == (cells != "").sum():
        return numbers  # int64 where every cell is an integer, as the simulator writes them
    return column


def short_error(exc: BaseException | str) -> str:
    text = str(exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    return text if len(text) <= 100 else text[:97] + "..."
