"""Trainer, checkpoint round trip and tampering, the predictor's cached toggles."""

import json
import shutil

import numpy as np
import pytest
import torch
from toy import make_toy_cohort

import amff
from amff import metrics
from amff.checkpoint import load_checkpoint
from amff.config import ModelConfig, TrainConfig
from amff.errors import InputError
from amff.modalities import all_subsets
from amff.trainer import mask_modalities, split_ids, train


def test_mask_modalities_keeps_one_and_drops_some():
    g = torch.Generator().manual_seed(0)
    present = torch.rand(2000, 4, generator=g) < 0.7
    present[:, 0] |= ~present.any(dim=1)
    kept = mask_modalities(present, 0.5, g)
    assert (kept <= present).all()
    assert kept.any(dim=1).all()
    assert 0.3 < kept.sum() / present.sum() < 0.8


def test_split_is_stratified_and_disjoint(toy_cohort):
    tr, va = split_ids(toy_cohort, 0.2, seed=3)
    assert not set(tr) & set(va) and len(tr) + len(va) == len(toy_cohort)
    y = toy_cohort.labels
    assert abs(y.loc[tr].mean() - y.loc[va].mean()) < 0.06


def test_training_beats_chance_on_held_out_patients_and_is_deterministic():
    cohort = make_toy_cohort(n=300, seed=1)
    test = make_toy_cohort(n=200, seed=2)
    cfg = TrainConfig(epochs=4, seed=0)
    first = train(cohort, ModelConfig(kind="amff"), cfg)
    second = train(cohort, ModelConfig(kind="amff"), cfg)
    batch = first.preprocessor.transform(test)
    with torch.no_grad():
        p1 = torch.sigmoid(first.model(batch).logit).numpy()
        p2 = torch.sigmoid(second.model(batch).logit).numpy()
    assert metrics.auroc(test.labels.to_numpy(), p1) > 0.8
    assert np.array_equal(p1, p2), "training is not deterministic under a seed"
    keys = {"train_loss", "val_loss", "val_auroc", "val_f1", "val_accuracy", "train_auroc"}
    assert keys <= set(first.history[0])
    assert 0.0 < first.threshold < 1.0


def test_save_load_gives_bit_identical_predictions(trained_toy_checkpoint, toy_cohort):
    p1 = amff.load(trained_toy_checkpoint).predict(toy_cohort)
    p2 = amff.load(trained_toy_checkpoint).predict(toy_cohort)
    assert np.array_equal(p1["probability"].to_numpy(), p2["probability"].to_numpy())
    model, pre, config, _, _ = load_checkpoint(trained_toy_checkpoint)
    with torch.no_grad():
        direct = torch.sigmoid(model(pre.transform(toy_cohort)).logit).numpy().astype(np.float64)
    assert np.allclose(direct, p1["probability"].to_numpy(), atol=1e-6)


def test_cached_toggle_equals_a_full_forward(trained_toy_checkpoint, toy_cohort):
    predictor = amff.load(trained_toy_checkpoint)
    encoded = predictor.encode(toy_cohort)
    batch = predictor.batch(toy_cohort)
    for subset in all_subsets():
        cached = predictor.predict_arrays(encoded, subset)
        present = batch.present & torch.tensor([m in subset for m in amff.MODALITIES])
        with torch.no_grad():
            out = predictor.model(batch, present)
        full = torch.sigmoid(out.logit).numpy()
        ok = present.any(dim=1).numpy()
        assert np.allclose(cached["probability"][ok], full[ok], atol=1e-6)
        assert np.isnan(cached["probability"][~ok]).all()
        assert np.allclose(cached["weights"][ok], out.modality_weights.numpy()[ok], atol=1e-6)


def test_predict_one_patient_matches_the_cohort_row(trained_toy_checkpoint, toy_cohort):
    predictor = amff.load(trained_toy_checkpoint)
    frame = predictor.predict(toy_cohort, ["tabular", "image"])
    pid = toy_cohort.ids[5]
    one = predictor.predict_one(toy_cohort.patient(pid), ["tabular", "image"])
    row = frame.set_index("patient_id").loc[pid]
    assert one["probability"] == pytest.approx(row["probability"], abs=1e-6)
    assert set(one["modalities"]) <= {"tabular", "image"}
    assert one["weights"]["text"] == 0.0 and one["weights"]["rna"] == 0.0


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
