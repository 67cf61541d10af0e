"""The shipped default checkpoints and the dashboard's demo cohort (`make checkpoint`).

AMFF-HT, early and late fusion are trained on the default simulated cohort (N = 2,000,
seed 0) with the same budget, and evaluated on a fixed held-out cohort (N = 4,000,
seed TEST_SEED). The first DEMO_N held-out patients are written to assets/demo_cohort for
the dashboard.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amff import metrics
from amff.config import MODEL_KINDS, ModelConfig, TrainConfig
from amff.modalities import all_subsets, subset_name

if TYPE_CHECKING:
    from amff.trainer import Callback

log = logging.getLogger(__name__)

TRAIN_N, TRAIN_SEED = 2000, 0
TEST_N, TEST_SEED = 4000, 10_000
DEMO_N = 600
KINDS = MODEL_KINDS
DEMO_COHORT = Path(__file__).resolve().parent.parent / "assets" / "demo_cohort"
CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"


def heldout_metrics(predictor: Any, cohort: Any) -> dict[str, Any]:
    """Held-out metrics with all modalities and per modality subset, plus the oracle."""
    import numpy as np

    encoded = predictor.encode(cohort)
    y = encoded.labels
    result: dict[str, Any] = {"n": len(cohort), "subsets": {}}
    for subset in all_subsets():
        p = predictor.predict_arrays(encoded, subset)["probability"]
        keep = ~np.isnan(p)
        result["subsets"][subset_name(subset)] = metrics.all_metrics(
            y[keep], p[keep], predictor.threshold
        )
    result["all"] = result["subsets"][subset_name(all_subsets()[-1])]
    if cohort.truth is not None and "p_true" in cohort.truth.columns:
        truth = cohort.truth.loc[cohort.ids]
        result["bayes_auroc"] = metrics.auroc(y, truth["p_true"].to_numpy(dtype=float))
        if "p_noisy_ceiling" in truth.columns:
            result["noisy_ceiling_auroc"] = metrics.auroc(
                y, truth["p_noisy_ceiling"].to_numpy(dtype=float)
            )
    return result


def make_default_checkpoints(
    out: Path, epochs: int = TrainConfig().epochs, callbacks: Sequence[Callback] = ()
) -> None:
    """Simulate, train the three models, evaluate on the held-out cohort, save everything.

    `callbacks` are the trainer's (the CLI passes a progress bar); results are logged."""
    import amff
    from amff.simulator import SimConfig, simulate
    from amff.trainer import train

    train_cohort = simulate(SimConfig(n=TRAIN_N, seed=TRAIN_SEED))
    test_cohort = simulate(SimConfig(n=TEST_N, seed=TEST_SEED))
    test_cohort.subset(test_cohort.ids[:DEMO_N]).write(DEMO_COHORT, overwrite=True)
    for kind in KINDS:
        trained = train(
            train_cohort,
            ModelConfig(kind=kind),
            TrainConfig(epochs=epochs, seed=TRAIN_SEED),
            callbacks=callbacks,
        )
        folder = out / f"{kind}-default"
        trained.save(folder)
        predictor = amff.load(folder)
        held_out = heldout_metrics(predictor, test_cohort)
        held_out["train"] = {"n": TRAIN_N, "seed": TRAIN_SEED}
        held_out["test"] = {"n": TEST_N, "seed": TEST_SEED}
        held_out["validation"] = trained.metrics
        trained.save(folder, held_out)
        log.warning(
            "%s: held-out AUROC %.3f (oracle %.3f)",
            kind,
            held_out["all"]["auroc"],
            held_out.get("bayes_auroc", float("nan")),
        )
