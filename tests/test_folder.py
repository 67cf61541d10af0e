"""Scoring a cohort folder in chunks: the same reading, the same predictions, any chunk size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.corpus import BAD_CASES, ODD_CASES, Case, write_cohort
from support.toy import make_toy_cohort

import amff
from amff.cli import main
from amff.cli.evaluate import evaluate_cohort
from amff.data.cohort import Cohort
from amff.data.folder import CohortChunks, read_cohort
from amff.errors import InputError
from amff.modalities import rna_file as rna_module
from amff.predictor import encode_folder, predict_chunk


def _same_cohort(got: Cohort, want: Cohort) -> None:
    pd.testing.assert_frame_equal(got.clinical, want.clinical)
    if want.labels is None:
        assert got.labels is None
    else:
        pd.testing.assert_series_equal(got.labels, want.labels)
    assert got.notes == want.notes and list(got.notes) == list(want.notes)
    assert list(got.images) == list(want.images)
    for pid, image in want.images.items():
        assert np.array_equal(got.images[pid], image)
    for name in ("rnaseq", "truth"):
        a, b = getattr(got, name), getattr(want, name)
        assert (a is None) == (b is None), name
        if b is not None:
            pd.testing.assert_frame_equal(a, b)
    assert got.meta == want.meta


def _read_in_chunks(folder: Path, chunk_size: int = 256) -> list[Cohort]:
    return list(CohortChunks(folder, chunk_size))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """520 patients: chunks of 256 leave a tail of 8; rnaseq.csv in another order."""
    cohort = make_toy_cohort(n=520, seed=5, image_size=24)  # the genes of the toy checkpoint
    cohort.rnaseq = cohort.rnaseq.iloc[::-1]
    out = tmp_path_factory.mktemp("chunked") / "cohort"
    cohort.write(out)
    truth = pd.DataFrame({"p_true": np.linspace(0.01, 0.99, 520)}, index=cohort.clinical.index)
    truth.to_csv(out / "truth.csv")
    return out


def test_each_chunk_reads_as_read_cohort_with_those_ids(folder, monkeypatch) -> None:
    monkeypatch.setattr(rna_module, "RNA_BLOCK_ROWS", 50)  # several blocks
    chunks = CohortChunks(folder, 200)
    assert chunks.chunk_size == 256 and len(chunks) == 3
    assert chunks.rna.whole is None, "a well-formed rnaseq.csv must stream, not be read whole"
    for k in range(len(chunks)):
        _same_cohort(chunks.chunk(k), read_cohort(folder, ids=chunks.chunk_ids(k)))


@pytest.mark.parametrize("case", BAD_CASES, ids=lambda c: c.name)
def test_bad_input_gives_read_cohorts_message(case: Case, tmp_path: Path) -> None:
    folder = case.build(tmp_path)
    with pytest.raises(InputError) as want:
        read_cohort(folder)
    with pytest.raises(InputError) as got:
        _read_in_chunks(folder)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("case", ODD_CASES, ids=lambda c: c.name)
def test_odd_input_reads_as_read_cohort(case: Case, tmp_path: Path) -> None:
    folder = case.build(tmp_path)
    (chunk,) = _read_in_chunks(folder)
    _same_cohort(chunk, read_cohort(folder))


def _rna_folder(tmp_path: Path, rows: list[str]) -> Path:
    ids = [f"p{i}" for i in range(12)]
    clinical = "patient_id,age\n" + "".join(f"{pid},{i}\n" for i, pid in enumerate(ids))
    rnaseq = "patient_id,G1,G2\n" + "".join(f"{row}\n" for row in rows)
    return write_cohort(tmp_path, clinical=clinical, rnaseq=rnaseq)


@pytest.mark.parametrize(
    "rows",
    [
        [f"p{i},{i},1" for i in range(10)] + ["p3,1,1"],  # a repeat in another block
        [f"p{i},{i},1" for i in range(8)] + ["p8,-1,1"],  # a negative count in the third block
        [f"p{i},{i},1" for i in range(8)] + ["zz,1,1"],  # an unknown patient late in the file
        [f"p{i},{i},1" for i in range(8)] + ["p8,1"],  # a short row late in the file
    ],
    ids=["repeat", "negative", "unknown", "short"],
)
def test_rnaseq_errors_in_later_blocks_keep_their_rows(tmp_path, monkeypatch, rows) -> None:
    monkeypatch.setattr(rna_module, "RNA_BLOCK_ROWS", 3)
    folder = _rna_folder(tmp_path, rows)
    with pytest.raises(InputError) as want:
        read_cohort(folder)
    with pytest.raises(InputError) as got:
        CohortChunks(folder)
    assert str(got.value) == str(want.value)


def test_rnaseq_with_blank_and_crlf_lines_streams(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(rna_module, "RNA_BLOCK_ROWS", 2)
    rows = [f"p{i},{i},{2 * i}\r" for i in range(9)]
    folder = _rna_folder(tmp_path, rows[:4] + ["", "  "] + rows[4:])
    chunks = CohortChunks(folder)
    assert chunks.rna.whole is None
    _same_cohort(chunks.chunk(0), read_cohort(folder))


@pytest.fixture(scope="module")
def predictor(trained_toy_checkpoint):
    return amff.load(trained_toy_checkpoint)


def _stream(predictor, folder: Path, chunk_size: int, modalities=None) -> pd.DataFrame:
    chunks = CohortChunks(folder, chunk_size)
    return pd.concat(
        [predict_chunk(predictor, e, modalities) for e in encode_folder(predictor, chunks)],
        ignore_index=True,
    )


def test_chunked_predictions_equal_unchunked(predictor, folder) -> None:
    whole = predictor.predict(read_cohort(folder), ("tabular", "text", "image"))
    small = _stream(predictor, folder, 256, ("tabular", "text", "image"))
    large = _stream(predictor, folder, 4096, ("tabular", "text", "image"))
    pd.testing.assert_frame_equal(small, large, check_exact=True)  # bit for bit
    assert small["patient_id"].tolist() == whole["patient_id"].tolist()
    pd.testing.assert_frame_equal(small, whole, check_exact=False, atol=1e-6, rtol=0)
    assert small["probability"].notna().sum() > 400


def test_cli_predict_csv_is_the_same_for_any_chunk_size(trained_toy_checkpoint, folder, tmp_path):
    texts = []
    for size in ("256", "300", "5000"):
        out = tmp_path / f"preds-{size}.csv"
        args = ["predict", "--checkpoint", str(trained_toy_checkpoint), "--data", str(folder)]
        assert main([*args, "--out", str(out), "--chunk-size", size, "--quiet"]) == 0
        texts.append(out.read_bytes())
    assert texts[0] == texts[1] == texts[2]
    frame = pd.read_csv(tmp_path / "preds-256.csv")
    whole = amff.load(trained_toy_checkpoint).predict(read_cohort(folder))
    assert len(frame) == 520
    assert np.allclose(frame["probability"], whole["probability"], atol=1e-6, rtol=0)


def test_cli_evaluate_in_chunks_equals_evaluate_whole(
    trained_toy_checkpoint, predictor, folder, capsys
) -> None:
    args = ["evaluate", "--checkpoint", str(trained_toy_checkpoint), "--data", str(folder)]
    assert main([*args, "--chunk-size", "256", "--all-subsets", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    cohort = read_cohort(folder)
    want = evaluate_cohort(predictor, cohort, None)
    for key in ("auroc", "auprc", "f1", "accuracy", "brier", "ece", "n"):
        assert report[key] == pytest.approx(want[key], abs=1e-6), key
    assert len(report["subsets"]) == 15 and report["n"] == 520
    assert 0.5 < report["bayes_auroc"] <= 1.0


def test_a_bad_image_in_a_later_chunk_leaves_no_file(trained_toy_checkpoint, folder, tmp_path):
    broken = tmp_path / "cohort"
    broken.mkdir()
    for item in folder.iterdir():
        target = broken / item.name
        if item.is_dir():
            target.mkdir()
            for image in item.iterdir():
                (target / image.name).symlink_to(image)
        else:
            target.symlink_to(item)
    last = sorted((broken / "images").iterdir())[-1]
    last.unlink()
    last.write_bytes(b"not an image")
    out = tmp_path / "preds.csv"
    args = ["predict", "--checkpoint", str(trained_toy_checkpoint), "--data", str(broken)]
    assert main([*args, "--out", str(out), "--chunk-size", "256", "--quiet"]) == 2
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
