"""The shipped checkpoints give the same predictions as when they were made.

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
