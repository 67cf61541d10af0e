"""The trainer: modality masking, the stratified split, training that learns and repeats."""

import numpy as np
import torch
from support.toy import make_toy_cohort

from amff import metrics
from amff.config import ModelConfig, TrainConfig
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
