"""The predictor: cached modality toggles and one patient's prediction."""

import numpy as np
import pytest
import torch

import amff
from amff.modalities import all_subsets


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
