"""The CLI end to end on hand-built cohorts: train, evaluate, predict, and bad input."""

import json
import subprocess
import sys

import pandas as pd
import pytest
import torch
from support.toy import make_toy_cohort

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


# -- the package's structure ---------------------------------------------------------------
def test_every_command_module_imports_and_is_in_help(capsys):
    import importlib
    import pkgutil

    import amff.cli

    names = {m.name for m in pkgutil.iter_modules(amff.cli.__path__)} - {"common"}
    commands = {m.__name__.rsplit(".", 1)[1] for m in amff.cli.COMMANDS}
    assert commands == names, "every command module is registered in amff.cli.COMMANDS"
    for name in sorted(names):
        assert callable(importlib.import_module(f"amff.cli.{name}").add_parser)
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    listed = capsys.readouterr().out
    for name in names:
        assert name.replace("_", "-") in listed


def test_no_library_module_imports_the_cli():
    import ast
    from pathlib import Path

    import amff

    def imports_cli(path: Path) -> bool:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            if any(name == "amff.cli" or name.startswith("amff.cli.") for name in names):
                return True
        return False

    root = Path(amff.__file__).parent
    library = [
        path
        for path in root.rglob("*.py")
        if path.relative_to(root).parts[0] != "cli" and path.name != "__main__.py"
    ]
    assert len(library) > 10
    assert [str(p.relative_to(root)) for p in library if imports_cli(p)] == []


def test_reproduce_lists_every_profile():
    from amff.cli.reproduce import PROFILE_NAMES
    from amff.experiments.plan import PROFILES

    assert sorted(PROFILE_NAMES) == sorted(PROFILES)


def test_a_programming_error_is_not_turned_into_an_input_error(monkeypatch, toy_folder, tmp_path):
    """Only InputError (and OSError) become `error:` lines; a KeyError is a bug and surfaces."""
    import amff.data.folder

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(amff.data.folder, "read_cohort", broken)
    with pytest.raises(KeyError, match="a bug"):
        main(["train", "--data", str(toy_folder), "--out", str(tmp_path / "ck"), "--quiet"])


def test_train_defaults_are_the_library_defaults(toy_folder, tmp_path):
    """`train` with only --data/--out/--epochs trains bit for bit what train() does with
    TrainConfig's and ModelConfig's defaults."""
    from safetensors.torch import load_file

    from amff.config import ModelConfig, TrainConfig
    from amff.data.folder import read_cohort
    from amff.trainer import train

    out = tmp_path / "ck"
    args = ["train", "--data", str(toy_folder), "--out", str(out), "--epochs", "1"]
    assert main([*args, "--device", "cpu", "--quiet"]) == 0
    saved = load_file(str(out / "model.safetensors"))
    want = train(read_cohort(toy_folder), ModelConfig(), TrainConfig(epochs=1))
    state = want.model.state_dict()
    assert saved.keys() == state.keys()
    for name, tensor in state.items():
        assert torch.equal(saved[name], tensor), name
    config = json.loads((out / "config.json").read_text())
    assert config["train"] == TrainConfig(epochs=1).to_dict()


def test_evaluate_refuses_a_truth_file_without_every_patient(toy_ckpt, toy_folder, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(toy_folder, data)
    ids = pd.read_csv(data / "clinical.csv")["patient_id"].astype(str)
    pd.DataFrame({"patient_id": ids[1:], "p_true": 0.5}).to_csv(data / "truth.csv", index=False)
    result = _run("evaluate", "--checkpoint", str(toy_ckpt), "--data", str(data), "--quiet")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"no row for patient {ids[0]!r}" in result.stderr.splitlines()[-1]
