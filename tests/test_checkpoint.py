"""Checkpoints: the save/load round trip, damaged files, cohorts that do not fit."""

import json
import shutil

import numpy as np
import pytest
import torch
from support.toy import make_toy_cohort

import amff
from amff.checkpoint import load_checkpoint
from amff.errors import InputError


def test_save_load_gives_bit_identical_predictions(trained_toy_checkpoint, toy_cohort):
    p1 = amff.load(trained_toy_checkpoint).predict(toy_cohort)
    p2 = amff.load(trained_toy_checkpoint).predict(toy_cohort)
    assert np.array_equal(p1["probability"].to_numpy(), p2["probability"].to_numpy())
    model, pre, config, _, _ = load_checkpoint(trained_toy_checkpoint)
    with torch.no_grad():
        direct = torch.sigmoid(model(pre.transform(toy_cohort)).logit).numpy().astype(np.float64)
    assert np.allclose(direct, p1["probability"].to_numpy(), atol=1e-6)


def _copy(src, tmp_path):
    dst = tmp_path / "ck"
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize(
    "damage, expect",
    [
        (lambda d: (d / "model.safetensors").write_bytes(b"\x80\x04\x95pickle"), "safetensors"),
        (
            lambda d: (d / "model.safetensors").write_bytes(
                (d / "model.safetensors").read_bytes()[:5000]
            ),
            "safetensors",
        ),
        (lambda d: (d / "config.json").write_text("{not json"), "not valid JSON"),
        (lambda d: (d / "model.safetensors").unlink(), "model.safetensors is missing"),
        (lambda d: _edit_config(d, lambda c: c["model"].update(dim=32)), "config.json"),
        (lambda d: _edit_config(d, lambda c: c.update(format="other")), "not an AMFF-HT"),
        (lambda d: _edit_config(d, lambda c: c["schema"].update(n_genes=3)), "schema"),
        (lambda d: _lie_about_sizes(d), "safetensors"),
    ],
    ids=[
        "pickle",
        "truncated",
        "bad-json",
        "missing",
        "config-mismatch",
        "format",
        "schema",
        "lying-header",
    ],
)
def test_damaged_checkpoints_give_clear_errors(trained_toy_checkpoint, tmp_path, damage, expect):
    folder = _copy(trained_toy_checkpoint, tmp_path)
    damage(folder)
    with pytest.raises(InputError, match=expect):
        amff.load(folder)


def _edit_config(folder, change):
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config))


def _lie_about_sizes(folder):
    data = (folder / "model.safetensors").read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    first = next(k for k in header if k != "__metadata__")
    header[first]["data_offsets"][1] += 10**9
    raw = json.dumps(header).encode()
    (folder / "model.safetensors").write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + n :])


def test_a_cohort_that_does_not_fit_the_checkpoint_says_what_differs(trained_toy_checkpoint):
    predictor = amff.load(trained_toy_checkpoint)
    other = make_toy_cohort(n=20, seed=5, n_genes=12)
    other.clinical = other.clinical.rename(columns={"marker_a": "other_marker"})
    with pytest.raises(InputError, match="marker_a"):
        predictor.predict(other)
    genes = make_toy_cohort(n=20, seed=5, n_genes=12)
    with pytest.raises(InputError, match="genes"):
        predictor.predict(genes)


def test_a_checkpoint_from_before_the_marker_still_loads(trained_toy_checkpoint, tmp_path):
    """amff-checkpoint/1 folders have no complete.json (their writer renamed a finished folder
    into place, so one under its own name is complete); a /2 folder without it was cut short."""
    legacy = tmp_path / "legacy"
    shutil.copytree(trained_toy_checkpoint, legacy)
    (legacy / "complete.json").unlink()
    config = json.loads((legacy / "config.json").read_text())
    assert config["format"] == "amff-checkpoint/2"
    with pytest.raises(InputError, match="complete.json is missing.*interrupted"):
        amff.load(legacy)
    config["format"] = "amff-checkpoint/1"
    (legacy / "config.json").write_text(json.dumps(config))
    assert amff.load(legacy).kind == "amff"
    (legacy / "preprocess.json").unlink()
    with pytest.raises(InputError, match="preprocess.json is missing"):
        amff.load(legacy)
