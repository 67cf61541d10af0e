"""Property tests: whatever bytes arrive, the readers give a result or one InputError."""

from __future__ import annotations

import csv
import io
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support.corpus import dicom_bytes, gray_jpeg, gray_png, ramp

from amff.data.images import decode_image
from amff.data.tables import MISSING_TOKENS
from amff.errors import InputError
from amff.modalities.rna_file import parse_rnaseq
from amff.modalities.tabular import parse_clinical
from amff.modalities.text import parse_notes

# AMFF_FUZZ_EXAMPLES=5000 for a deeper run by hand
FUZZ = settings(
    max_examples=int(os.environ.get("AMFF_FUZZ_EXAMPLES", "150")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KNOWN = {"p1", "p2", "p3", "a", "b"}

# -- raw bytes -----------------------------------------------------------------------------------
# CSV-ish fragments, so that most examples get past UTF-8 decoding into the parser
TOKENS = [",", ",", '"', '""', "\n", "\r\n", "\r", " ", "\t", ";", "patient_id", "label", "text",
          "p1", "p2", "a", "0", "1", "2", "-3", "1e9", "0.5", "inf", "nan", "NA", "é", "\ufeff",
          "\x00", "\xff", "漢", "<b>", "\\", "GENE"]  # fmt: skip
csvish = st.lists(st.sampled_from(TOKENS), max_size=60).map(lambda t: "".join(t).encode("utf-8"))
headed = st.tuples(
    st.sampled_from([b"patient_id,label,x\n", b"patient_id,text\n", b"patient_id,G1,G2\n", b""]),
    csvish,
).map(lambda parts: parts[0] + parts[1])
any_bytes = st.one_of(st.binary(max_size=600), csvish, headed)


def _result_or_input_error(call, *args: object) -> object:
    try:
        return call(*args)
    except InputError as error:
        message = str(error)
        assert message.startswith("x.csv: ") or message.startswith("x.png: "), message
        assert "\n" not in message and ";" in message, message
        return None


@FUZZ
@given(any_bytes)
def test_parse_clinical_never_raises_another_error(data: bytes) -> None:
    result = _result_or_input_error(parse_clinical, data, "x.csv")
    if result is not None:
        clinical, labels = result
        assert clinical.index.is_unique and len(clinical) >= 1
        assert labels is None or set(labels.unique()) <= {0, 1}
        for column in clinical.columns:
            values = clinical[column]
            assert values.dtype == np.float64 or pd.api.types.is_string_dtype(values.dtype)
            if values.dtype == np.float64:
                assert not np.isinf(values.to_numpy()).any()


@FUZZ
@given(any_bytes)
def test_parse_notes_never_raises_another_error(data: bytes) -> None:
    notes = _result_or_input_error(parse_notes, data, "x.csv", KNOWN)
    if notes is not None:
        assert set(notes) <= KNOWN and all(isinstance(t, str) and t.strip() for t in notes.values())


@FUZZ
@given(any_bytes)
def test_parse_rnaseq_never_raises_another_error(data: bytes) -> None:
    counts = _result_or_input_error(parse_rnaseq, data, "x.csv", KNOWN)
    if counts is not None:
        values = counts.to_numpy()
        assert values.dtype == np.float64 and counts.shape[1] >= 1
        assert np.isfinite(values).all() and (values >= 0).all()
        assert set(counts.index) <= KNOWN


@FUZZ
@given(st.binary(max_size=800))
def test_decode_image_never_raises_another_error_on_random_bytes(data: bytes) -> None:
    _check_image(_result_or_input_error(decode_image, data, "x.png"))


# -- mutated valid images ------------------------------------------------------------------------
SEEDS = {
    "png": gray_png(24, 20, seed=1),
    "jpeg": gray_jpeg(24, 20, seed=2),
    "dicom": dicom_bytes(ramp(12, 10, 4095), bits_stored=12),
}
mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 64)),
)


def _mutate(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    buffer = bytearray(data)
    for op, where, value in mutations:
        at = where % (len(buffer) + 1)
        if op == "flip" and at < len(buffer):
            buffer[at] ^= value
        elif op == "truncate":
            del buffer[at:]
        elif op == "insert":
            buffer[at:at] = bytes([value]) * (1 + value % 7)
        elif op == "delete":
            del buffer[at : at + value]
    return bytes(buffer)


def _check_image(image: np.ndarray | None) -> None:
    if image is not None:
        assert image.dtype == np.float32 and image.ndim == 2 and image.size > 0
        assert np.isfinite(image).all() and image.min() >= 0.0 and image.max() <= 1.0


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_unmutated_seeds_decode(kind: str) -> None:
    assert decode_image(SEEDS[kind], "x.png").shape in ((24, 20), (12, 10))


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns about each odd value it reads
@pytest.mark.parametrize("kind", sorted(SEEDS))
@FUZZ
@given(mutations=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_images_decode_or_raise_input_error(kind: str, mutations: list) -> None:
    _check_image(_result_or_input_error(decode_image, _mutate(SEEDS[kind], mutations), "x.png"))


# -- well-formed CSVs parse to the right shape ---------------------------------------------------
ID_ALPHABET = st.characters(
    whitelist_categories=("Lu", "Ll", "Nd"), whitelist_characters="-_.", max_codepoint=0x4E0F
)
ids_strategy = st.lists(
    st.text(ID_ALPHABET, min_size=1, max_size=10).filter(lambda s: s not in (".", "..")),
    min_size=1,
    max_size=12,
    unique=True,
)
TEXT_ALPHABET = st.characters(
    whitelist_categories=("Lu", "Ll", "Nd", "Zs", "Po", "So"), whitelist_characters=',"\n\r'
)
text_cell = st.one_of(
    st.just(""),
    st.tuples(st.sampled_from("abcxyzéß漢"), st.text(TEXT_ALPHABET, max_size=12)).map("".join),
)
number_cell = st.one_of(
    st.just(""),
    st.just("NA"),
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
    st.integers(-(10**12), 10**12).map(str),
)


def _is_text(cell: str) -> bool:
    stripped = cell.strip()
    if not stripped or stripped.upper() in MISSING_TOKENS:
        return False
    try:
        float(stripped)
    except ValueError:
        return True
    return False


@st.composite
def clinical_tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]], list[str], bool]:
    ids = draw(ids_strategy)
    kinds = draw(st.lists(st.sampled_from(["number", "text"]), max_size=5))
    with_label = draw(st.booleans())
    header = ["patient_id"] + (["label"] if with_label else [])
    header += [f"f{j}_{kind}" for j, kind in enumerate(kinds)]
    rows = []
    for pid in ids:
        row = [pid] + ([draw(st.sampled_from(["0", "1", "1.0"]))] if with_label else [])
        row += [draw(number_cell if kind == "number" else text_cell) for kind in kinds]
        rows.append(row)
    return header, rows, kinds, with_label


def _to_csv(
    header: list[str], rows: list[list[str]], line_end: str, quote_all: bool = False
) -> bytes:
    """CSV as a spreadsheet writes it. Python's writer leaves a lone CR unquoted (a line break
    to every reader), so cells with one are quoted, as Cohort.write does."""
    if any("\r" in cell for row in rows for cell in row):
        quote_all = True
    buffer = io.StringIO()
    quoting = csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    writer = csv.writer(buffer, lineterminator=line_end, quoting=quoting)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


@FUZZ
@given(clinical_tables(), st.sampled_from(["\n", "\r\n"]), st.booleans(), st.booleans())
def test_well_formed_clinical_parses_to_its_shape(
    table: tuple[list[str], list[list[str]], list[str], bool],
    line_end: str,
    bom: bool,
    quote_all: bool,
) -> None:
    header, rows, kinds, with_label = table
    data = (b"\xef\xbb\xbf" if bom else b"") + _to_csv(header, rows, line_end, quote_all)
    clinical, labels = parse_clinical(data, "x.csv")
    ids = [row[0] for row in rows]
    assert clinical.index.tolist() == ids
    assert clinical.columns.tolist() == header[1 + with_label :]
    assert (labels is None) == (not with_label)
    if with_label:
        assert labels.tolist() == [int(float(row[1])) for row in rows]
    for j, column in enumerate(clinical.columns):
        cells = [row[1 + with_label + j] for row in rows]
        values = clinical[column]
        if any(_is_text(c) for c in cells):
            assert pd.api.types.is_string_dtype(values.dtype)
            expected = [c.strip() if _is_text(c) else None for c in cells]
            got = [None if pd.isna(v) else v for v in values]
            assert got == expected
        else:
            assert values.dtype == np.float64
            expected = [float(c) if c.strip() not in ("", "NA") else np.nan for c in cells]
            np.testing.assert_array_equal(values.to_numpy(), np.array(expected, dtype=float))


@FUZZ
@given(ids_strategy, st.data())
def test_well_formed_notes_and_counts_parse(ids: list[str], data: st.DataObject) -> None:
    texts = [data.draw(st.text(TEXT_ALPHABET, max_size=40)) for _ in ids]
    notes = parse_notes(_to_csv(["patient_id", "text"], list(map(list, zip(ids, texts))), "\n"),
                        "x.csv", set(ids))  # fmt: skip
    assert notes == {pid: text for pid, text in zip(ids, texts) if text.strip()}
    genes = data.draw(st.lists(st.from_regex(r"[A-Z][A-Z0-9-]{0,6}", fullmatch=True),
                               min_size=1, max_size=6, unique=True))  # fmt: skip
    assume("patient_id" not in genes)
    counts = np.array(
        [[data.draw(st.integers(0, 10**9)) for _ in genes] for _ in ids], dtype=np.float64
    )
    rows = [[pid, *(str(int(v)) for v in row)] for pid, row in zip(ids, counts)]
    parsed = parse_rnaseq(_to_csv(["patient_id", *genes], rows, "\n"), "x.csv", set(ids))
    assert parsed.index.tolist() == ids and parsed.columns.tolist() == genes
    np.testing.assert_array_equal(parsed.to_numpy(), counts)
