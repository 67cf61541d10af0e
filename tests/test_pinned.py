"""Outputs pinned across structural changes: the shipped checkpoints predict what they
predicted when they were made, and training gives the same weights bit for bit.

tests/data/shipped_predictions.json holds the first 256 probabilities (as float hex, exact) of
each shipped model on assets/demo_cohort for four modality subsets, written before the
modality-registry refactor; a structural change must not move a single bit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import amff

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = json.loads((Path(__file__).parent / "data" / "shipped_predictions.json").read_text())
SUBSETS = {"all": None, "tabular": ["tabular"], "text+rna": ["text", "rna"]}
SUBSETS["image+rna+tabular"] = ["image", "rna", "tabular"]


@pytest.fixture(scope="module")
def demo_cohort() -> amff.Cohort:
    return amff.read_cohort(ROOT / "assets" / "demo_cohort")


@pytest.mark.parametrize("kind", ["amff", "early", "late"])
def test_shipped_predictions_are_bit_identical(kind: str, demo_cohort: amff.Cohort) -> None:
    predictor = amff.load(ROOT / "checkpoints" / f"{kind}-default")
    for name, subset in SUBSETS.items():
        got = predictor.predict(demo_cohort, modalities=subset)["probability"].to_numpy()
        expected = np.array([float.fromhex(x) for x in EXPECTED[f"{kind}-{name}-p"]])
        assert np.array_equal(got[: len(expected)], expected, equal_nan=True), (kind, name)


PINNED_TRAINING = {  # sha256 (first 16 hex) of the weights after 2 epochs, before the refactor
    "amff": "99fe5c84e03077bd",
    "early": "e20e730b0f0fdd96",
    "late": "15d031a73b185cf6",
}


@pytest.mark.parametrize("kind", ["amff", "early", "late"])
def test_training_is_bit_identical(kind: str) -> None:
    """Training a toy model for two epochs gives the weights it gave before the registry."""
    import hashlib

    from support.toy import make_toy_cohort

    trained = amff.train(
        make_toy_cohort(n=160, seed=0), amff.ModelConfig(kind=kind), amff.TrainConfig(epochs=2)
    )
    digest = hashlib.sha256()
    for name, tensor in sorted(trained.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.numpy().tobytes())
    assert digest.hexdigest()[:16] == PINNED_TRAINING[kind]
