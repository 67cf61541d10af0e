"""RNA-seq: rnaseq.csv of raw counts, log-CPM of the most variable genes plus the log library
size, a feed-forward encoder. A large rnaseq.csv can be indexed and read a chunk at a time."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    write_csv,
)
from amff.errors import InputError
from amff.modalities.spec import NOT_FINITE, ModalitySpec

if TYPE_CHECKING:
    from torch import nn

    from amff.config import ModelConfig
    from amff.data.cohort import Cohort, Patient

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


@dataclass
class RnaPreprocessor:
    genes: list[str] = field(default_factory=list)  # the selected genes the model reads
    library_genes: list[str] = field(default_factory=list)  # every training gene (CPM basis)
    means: list[float] = field(default_factory=list)
    sds: list[float] = field(default_factory=list)
    lib_mean: float = 0.0
    lib_sd: float = 1.0

    @staticmethod
    def log_cpm(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log2(CPM + 1) per gene and log10 library size, for (N, G) raw counts."""
        library = counts.sum(axis=1, keepdims=True)  # (N, 1)
        cpm = counts / np.maximum(library, 1.0) * 1e6
        return np.log2(cpm + 1.0), np.log10(library[:, 0] + 1.0)

    @classmethod
    def fit(cls, rnaseq: pd.DataFrame | None, top_genes: int = 256) -> RnaPreprocessor:
        """Keep the `top_genes` most variable genes (log-CPM variance above the mean-variance
        trend, the usual highly-variable-gene selection), then standardise them.

        With ~2,000 genes and ~2,000 patients a network on all genes memorises the training
        set within a few epochs (measured: train AUROC 0.95, validation 0.5); the variable
        genes carry the expression programmes, so selecting them keeps the signal and cuts
        the capacity to memorise.
        """
        if rnaseq is None or len(rnaseq) == 0:
            return cls()
        logcpm, lib = cls.log_cpm(rnaseq.to_numpy(dtype=np.float64))
        genes = np.array([str(g) for g in rnaseq.columns])
        library_genes = genes.tolist()
        if len(genes) > top_genes:
            mean, var = logcpm.mean(axis=0), logcpm.var(axis=0)
            degree = 3 if len(genes) > 10 else 1
            trend = np.polyval(np.polyfit(mean, var, degree), mean)
            order = np.argsort(-(var - trend), kind="stable")[:top_genes]
            keep = np.sort(order)
            genes, logcpm = genes[keep], logcpm[:, keep]
        sds = logcpm.std(axis=0)
        return cls(
            genes=genes.tolist(),
            library_genes=library_genes,
            means=logcpm.mean(axis=0).tolist(),
            sds=np.where(sds > 1e-6, sds, 1.0).tolist(),
            lib_mean=float(lib.mean()),
            lib_sd=float(lib.std()) if lib.std() > 1e-6 else 1.0,
        )

    def check(self, rnaseq: pd.DataFrame, source: str = "rnaseq.csv") -> None:
        have = set(map(str, rnaseq.columns))
        expected = self.library_genes or self.genes
        missing = [g for g in expected if g not in have]
        if missing:
            raise InputError(
                f"{source}: the model expects {len(expected)} genes and {len(missing)} are "
                f"missing (first: {missing[:3]}); give counts for the checkpoint's genes"
            )

    def transform(self, rnaseq: pd.DataFrame | None, ids: list[str]) -> np.ndarray:
        out = np.zeros((len(ids), len(self.genes) + 1), dtype=np.float32)
        if rnaseq is None or not self.genes:
            return out
        rows = [i for i, pid in enumerate(ids) if pid in rnaseq.index]
        if not rows:
            return out
        basis = self.library_genes or self.genes
        counts = rnaseq.loc[[ids[i] for i in rows], basis].to_numpy(dtype=np.float64)
        logcpm, lib = self.log_cpm(counts)  # CPM over the training genes
        columns = {g: j for j, g in enumerate(basis)}
        logcpm = logcpm[:, [columns[g] for g in self.genes]]
        scaled = np.clip((logcpm - np.asarray(self.means)) / np.asarray(self.sds), -10, 10)
        out[rows, :-1] = scaled
        out[rows, -1] = (lib - self.lib_mean) / self.lib_sd
        return out

    # -- the ModalityPreprocessor protocol -------------------------------------------------
    def check_cohort(self, cohort: Cohort) -> None:
        if cohort.rnaseq is not None and len(cohort.rnaseq):
            self.check(cohort.rnaseq)

    def inputs(self, cohort: Cohort) -> tuple[np.ndarray]:
        return (self.transform(cohort.rnaseq, cohort.ids),)

    def usable(self) -> bool:
        return bool(self.genes)

    def schema(self) -> dict[str, Any]:
        return {"n_genes": len(self.genes)}

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__

    def problem(self) -> tuple[str, str] | None:
        if not all(isinstance(g, str) for g in [*self.genes, *self.library_genes]):
            return "preprocess.json", "a feature, category or gene name is not text"
        if len(self.means) != len(self.genes) or len(self.sds) != len(self.genes):
            return "preprocess.json", "the RNA statistics do not match the genes"
        if self.library_genes and not set(self.genes) <= set(self.library_genes):
            return "preprocess.json", "the RNA genes are not among the library genes"
        scales = np.array([*self.sds, self.lib_sd], dtype=np.float64)
        numbers = np.array([*self.means, self.lib_mean], dtype=np.float64)
        if not np.isfinite(np.concatenate([numbers, scales])).all() or not (scales > 0).all():
            return (
                "preprocess.json",
                NOT_FINITE,
            )
        return None


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
class _Counts:
    """rnaseq.csv parsed whole on opening."""

    counts: pd.DataFrame

    def load(self, keep: set[str]) -> pd.DataFrame:
        return self.counts.loc[self.counts.index.isin(keep)]


class RnaModality(ModalitySpec):
    name = "rna"
    label = "RNA-seq"
    files = "rnaseq.csv (patient_id, then one column of raw counts per gene)"
    attribution = "rna"
    quality_signals = ("log10_library", "detected_share")

    def open(self, folder: Path, known: set[str], stream: bool = False) -> Any:
        path = folder / "rnaseq.csv"
        if not path.is_file():
            return None
        if stream:
            return RnaRows(path, known)
        return _Counts(parse_rnaseq(read_bytes(path), str(path), known))

    def write(self, data: pd.DataFrame | None, folder: Path) -> None:
        if data is None:
            return
        counts = data.rename_axis(ID)
        values = counts.to_numpy(dtype=np.float64)
        if np.all(np.isfinite(values)) and np.all(np.mod(values, 1) == 0):
            counts = counts.astype(np.int64)
        write_csv(counts, folder / "rnaseq.csv")

    def data(self, cohort: Cohort) -> pd.DataFrame | None:
        return cohort.rnaseq

    def with_data(self, cohort: Cohort, data: Any) -> dict[str, Any]:
        return {"rnaseq": data}

    def patient_value(self, patient: Patient) -> pd.Series | None:
        return patient.rna

    def collect(self, patients: Any, **schema: Any) -> pd.DataFrame | None:
        return _counts_of(patients, schema.get("genes", ()))

    def fit(self, cohort: Cohort, **options: Any) -> RnaPreprocessor:
        return RnaPreprocessor.fit(cohort.rnaseq)

    def preprocessor_from_dict(self, data: dict[str, Any], files: dict[str, str]) -> Any:
        return RnaPreprocessor(**data)

    def build_encoder(self, config: ModelConfig, schema: dict[str, Any]) -> nn.Module:
        from amff.nn.encoders import RnaEncoder

        return RnaEncoder(
            n_inputs=schema["n_genes"] + 1,
            hidden=config.rna_hidden,
            n_tokens=config.rna_tokens,
            dim=config.dim,
            dropout=config.dropout,
        )

    def quality(self, cohort: Cohort) -> pd.DataFrame:
        """log10_library: log10 of the total read count; detected_share: the share of genes
        with at least one read."""
        counts = cohort.rnaseq
        if counts is None:
            return pd.DataFrame(columns=list(self.quality_signals))
        values = counts.to_numpy(dtype=np.float64)
        return pd.DataFrame(
            {
                "log10_library": np.log10(values.sum(axis=1) + 1.0),
                "detected_share": (values > 0).mean(axis=1),
            },
            index=counts.index,
        )


def _counts_of(patients: Any, genes: Any) -> pd.DataFrame | None:
    """The counts of the patients that have RNA-seq, over `genes` (default: the first one's)."""
    with_rna = [p for p in patients if p.rna is not None]
    if not with_rna:
        return None
    genes = [str(g) for g in genes] or [str(g) for g in with_rna[0].rna.index]
    rows = []
    for p in with_rna:
        row = pd.to_numeric(p.rna.reindex(genes), errors="coerce").to_numpy(np.float64)
        bad = ~(np.isfinite(row) & (row >= 0))
        if bad.any():
            gene = genes[int(np.flatnonzero(bad)[0])]
            raise InputError(
                f"the patients: patient {p.patient_id!r} has no usable count for gene "
                f"{gene!r} ({int(bad.sum())} of {len(genes)} genes); give a finite, "
                "non-negative count for every gene"
            )
        rows.append(row)
    return pd.DataFrame(
        np.array(rows, dtype=np.float64).reshape(len(rows), len(genes)),
        index=pd.Index([str(p.patient_id) for p in with_rna], name=ID),
        columns=pd.Index(genes),
    )
