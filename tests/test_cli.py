"""The CLI end to end on hand-built cohorts: train, evaluate, predict, and bad input."""

import json
import subprocess
import sys

import pandas as pd
import pytest
from toy import make_toy_cohort

from amff.cli import main


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "amff", *args], capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def toy_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "cohort"
    make_toy_cohort(n=160, seed=3, image_size=24, n_genes=15).write(folder)
    return folder


@pytest.fixture(scope="module")
def toy_ckpt(toy_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_ck") / "ck"
    assert (
        main(["train", "--data", str(toy_folder), "--out", str(out), "--epochs", "3", "--quiet"])
        == 0
    )
    return out


def test_train_evaluate_predict_on_a_cohort_with_other_features_genes_and_image_size(
    toy_ckpt, toy_folder, tmp_path, capsys
):
    assert (toy_ckpt / "model.safetensors").is_file()
    capsys.readouterr()
    assert (
        main(
            ["evaluate", "--checkpoint", str(toy_ckpt), "--data", str(toy_folder), "--all-subsets"]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    for key in ("auroc", "auprc", "f1", "accuracy", "brier", "ece", "n", "threshold"):
        assert key in report
    assert report["n"] == 160 and len(report["subsets"]) == 15
    assert report["auroc"] > 0.75
    out = tmp_path / "preds.csv"
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(toy_ckpt),
                "--data",
                str(toy_folder),
                "--out",
                str(out),
                "--modalities",
                "tabular,image",
            ]
        )
        == 0
    )
    frame = pd.read_csv(out)
    assert list(frame.columns) == [
        "patient_id",
        "probability",
        "label",
        "weight_tabular",
        "weight_text",
        "weight_image",
        "weight_rna",
        "modalities",
    ]
    assert len(frame) == 160
    assert set(frame["modalities"].dropna()) <= {"tabular", "image", "tabular+image"}
    assert (frame["weight_text"].fillna(0) == 0).all()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["evaluate", "--checkpoint", "/nonexistent", "--data", "."], "no such checkpoint"),
        (["train", "--data", "/nonexistent", "--out", "/tmp/x-never"], "no such folder"),
        (
            [
                "predict",
                "--checkpoint",
                "CK",
                "--data",
                "DATA",
                "--out",
                "preds.csv",
                "--modalities",
                "tabular,xray",
            ],
            "unknown modality",
        ),
        (["train", "--data", "DATA", "--out", "/tmp/x-never", "--epochs", "0"], "at least 1"),
    ],
)
def test_bad_input_gives_one_error_line_and_status_2(
    args, fragment, toy_ckpt, toy_folder, tmp_path
):
    args = [a.replace("CK", str(toy_ckpt)).replace("DATA", str(toy_folder)) for a in args]
    args = [str(tmp_path / a) if a == "preds.csv" else a for a in args]
    result = _run(*args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error:") and fragment in lines[-1]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "preds.csv").exists()


def test_a_cohort_that_does_not_fit_the_checkpoint(toy_ckpt, tmp_path):
    other = tmp_path / "other"
    cohort = make_toy_cohort(n=30, seed=4, n_genes=9)
    cohort.write(other)
    result = _run(
        "predict",
        "--checkpoint",
        str(toy_ckpt),
        "--data",
        str(other),
        "--out",
        str(tmp_path / "p.csv"),
    )
    assert result.returncode == 2 and "genes" in result.stderr
    assert not (tmp_path / "p.csv").exists()
