"""rnaseq.csv: parsed and validated whole, or checked in one streaming pass and read a chunk
of patients at a time (a cohort of many thousands of patients needs flat memory)."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from amff.data.tables import (
    ID,
    MISSING_TOKENS,
    check_ids,
    check_known,
    decode_text,
    is_valid_id,
    iter_lines,
    parse_csv,
    read_bytes,
)
from amff.errors import InputError

log = logging.getLogger(__name__)


RNA_BLOCK_ROWS = 1024  # rnaseq.csv rows parsed at once while checking the file in a stream


MAX_COUNT = 1e12  # no sequencing run gives a gene more reads; larger values are not counts


def parse_rnaseq(data: bytes, name: str, known: set[str] | None) -> pd.DataFrame:
    """rnaseq.csv bytes -> counts (float64; index patient_id, one column per gene), validated.

    Every cell must be a finite non-negative number: a patient without RNA-seq is left out of
    the file, not given empty cells.
    """
    text = decode_text(data, name)
    fast = _fast_counts(data, text, known)
    if fast is not None:
        return fast
    frame = parse_csv(text, name)
    ids = check_ids(frame, name)
    if known is not None:
        check_known(ids, frame.index, known, name)
    genes = frame.drop(columns=[ID])
    if genes.shape[1] == 0:
        raise InputError(f"{name}: no gene columns; add one column of counts per gene")
    stripped = genes.apply(lambda c: c.str.strip())
    values = stripped.apply(lambda c: pd.to_numeric(c, errors="coerce")).astype(np.float64)
    array = values.to_numpy()
    bad = np.isnan(array)
    if bad.any():
        row, col = (int(v[0]) for v in np.nonzero(bad))
        cell = stripped.iat[row, col]
        where = f"gene {genes.columns[col]!r}, row {frame.index[row]}"
        if cell == "":
            raise InputError(
                f"{name}: {where} is empty; every patient in rnaseq.csv needs a count for every "
                "gene (0 if none); leave patients without RNA-seq out of the file"
            )
        if cell.upper() in MISSING_TOKENS:
            raise InputError(
                f"{name}: {where} is {cell[:20]!r}, not a number; give a count for every gene, "
                "or leave the patient out of rnaseq.csv"
            )
        raise InputError(f"{name}: {where} has {cell[:20]!r}, not a number; counts must be numbers")
    infinite = ~np.isfinite(array)
    if infinite.any():
        row, col = (int(v[0]) for v in np.nonzero(infinite))
        raise InputError(
            f"{name}: gene {genes.columns[col]!r}, row {frame.index[row]} is infinite; counts "
            "must be finite numbers"
        )
    huge = array > MAX_COUNT
    if huge.any():
        row, col = (int(v[0]) for v in np.nonzero(huge))
        raise InputError(
            f"{name}: gene {genes.columns[col]!r}, row {frame.index[row]} is "
            f"{stripped.iat[row, col][:20]}, too large to be a read count (limit {MAX_COUNT:.0e}); "
            "give raw read counts"
        )
    negative = array < 0
    if negative.any():
        row, col = (int(v[0]) for v in np.nonzero(negative))
        raise InputError(
            f"{name}: gene {genes.columns[col]!r}, row {frame.index[row]} is negative "
            f"({stripped.iat[row, col][:20]}); counts must be raw non-negative read counts"
        )
    return pd.DataFrame(
        array,
        index=pd.Index(ids, name=ID),
        columns=pd.Index(list(genes.columns)),
    )


def _fast_counts(data: bytes, text: str, known: set[str] | None) -> pd.DataFrame | None:
    """Parse a well-formed rnaseq.csv at C speed; None sends anything unusual to the slow,
    exact path, which finds the problem and names its row and column."""
    try:
        header = next(csv.reader(iter_lines(text)))
    except (csv.Error, StopIteration):
        return None
    names = [h.strip() for h in header]
    if names.count(ID) != 1 or len(set(names)) != len(names) or "" in names or len(names) < 2:
        return None
    id_column = header[names.index(ID)]
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            dtype={id_column: str},
            na_filter=False,
            encoding="utf-8-sig",
            engine="c",
        )
    except Exception:  # the slow path reports it
        return None
    if not isinstance(frame.index, pd.RangeIndex) or [str(c) for c in frame.columns] != header:
        return None
    genes = frame.drop(columns=[id_column])
    for dtype in genes.dtypes:
        if not (pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype)):
            return None
    array = genes.to_numpy(dtype=np.float64)
    if not np.isfinite(array).all() or (array < 0).any() or (array > MAX_COUNT).any():
        return None
    ids = frame[id_column].str.strip()
    if (ids == "").any() or ids.duplicated().any() or not ids.map(is_valid_id).all():
        return None
    if known is not None and not ids.isin(known).all():
        return None
    return pd.DataFrame(
        array,
        index=pd.Index(ids.tolist(), name=ID),
        columns=pd.Index(names[: names.index(ID)] + names[names.index(ID) + 1 :]),
    )


class RnaRows:
    """rnaseq.csv, checked once in blocks of rows; afterwards any patients' rows on demand.

    Each block (the header plus RNA_BLOCK_ROWS lines) goes through parse_rnaseq, the reader's
    own parser, and only the byte span of each patient's line is kept. A file this cannot take
    line by line (quotes, a row error, a duplicate across blocks, ...) is parsed whole instead.
    """

    def __init__(self, path: Path, known: set[str]) -> None:
        self.path, self.name = path, str(path)
        self.spans: dict[str, tuple[int, int]] = {}
        self.genes: list[str] = []
        self.whole: pd.DataFrame | None = None
        self.header = b""
        reason = self._index(known)
        if reason is not None:
            self.whole = parse_rnaseq(read_bytes(path), self.name, known)
            self.genes = [str(g) for g in self.whole.columns]
            self.spans = {}
            log.warning("%s: read whole, not in chunks (%s)", path, reason)

    def _index(self, known: set[str]) -> str | None:
        """Check the file block by block and keep each row's span; a reason when it cannot."""
        try:
            with open(self.path, "rb") as handle:
                header = handle.readline()
                if not header.strip() or b'"' in header:
                    return "an unusual header row"
                self.header = header if header.endswith(b"\n") else header + b"\n"
                offset = len(header)
                lines: list[bytes] = []
                spans: list[tuple[int, int]] = []
                for line in handle:
                    if line.strip():  # blank lines are skipped, as the reader does
                        if b'"' in line:
                            return "quoted cells"
                        lines.append(line if line.endswith(b"\n") else line + b"\n")
                        spans.append((offset, len(line)))
                    offset += len(line)
                    if len(lines) == RNA_BLOCK_ROWS:
                        if reason := self._check_block(lines, spans, known):
                            return reason
                        lines, spans = [], []
                if lines and (reason := self._check_block(lines, spans, known)):
                    return reason
        except OSError:
            return "it cannot be read in parts"
        return None if self.spans else "no rows"

    def _check_block(
        self, lines: list[bytes], spans: list[tuple[int, int]], known: set[str]
    ) -> str | None:
        try:
            frame = parse_rnaseq(self.header + b"".join(lines), self.name, known)
        except InputError:
            return "a problem in the file"
        if len(frame) != len(lines):
            return "rows that are not one line each"
        for pid, span in zip(frame.index, spans):
            if pid in self.spans:
                return "a repeated patient"
            self.spans[str(pid)] = span
        self.genes = [str(g) for g in frame.columns]
        return None

    def load(self, keep: set[str]) -> pd.DataFrame:
        return self.rows(keep)

    def rows(self, keep: set[str]) -> pd.DataFrame:
        """The counts of the patients in `keep` that have a row, in file order."""
        if self.whole is not None:
            return self.whole.loc[self.whole.index.isin(keep)]
        spans = sorted(self.spans[pid] for pid in keep if pid in self.spans)
        if not spans:
            return pd.DataFrame(
                np.zeros((0, len(self.genes))),
                index=pd.Index([], name=ID, dtype="str"),
                columns=pd.Index(self.genes),
            )
        parts = [self.header]
        with open(self.path, "rb") as handle:
            for start, length in spans:
                handle.seek(start)
                line = handle.read(length)
                parts.append(line if line.endswith(b"\n") else line + b"\n")
        return parse_rnaseq(b"".join(parts), self.name, None)


@dataclass
class Counts:
    """rnaseq.csv parsed whole on opening."""

    counts: pd.DataFrame

    def load(self, keep: set[str]) -> pd.DataFrame:
        return self.counts.loc[self.counts.index.isin(keep)]
