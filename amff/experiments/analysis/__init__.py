"""From stored runs to the numbers of results.json, one function per section.

Every metric is computed on the fixed held-out cohort, at the decision threshold chosen on the
run's own validation split (per modality subset; see runner.evaluate). Summaries are over
seeds (stats.summary); differences are paired by seed, and for the headline AUROC comparisons
also by a paired bootstrap over test patients (stats.bootstrap_auroc_difference).

Modules: runs (the stored runs, metrics per condition), simulations (the paper's Sim 1-4),
beyond (our checks 5a-5e).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from amff import metrics
from amff.experiments.analysis.beyond import sim5a, sim5b, sim5c, sim5d, sim5e
from amff.experiments.analysis.runs import Run, Runs, condition_metrics
from amff.experiments.analysis.simulations import sim1, sim2, sim3, sim4
from amff.experiments.paper import PAPER_TABLE1
from amff.experiments.plan import ABLATIONS, SCENARIO_LABELS, Profile

SECTION_FUNCTIONS: dict[str, Callable[[Runs, Profile], dict[str, Any]]] = {
    "sim1": sim1,
    "sim2": sim2,
    "sim3": sim3,
    "sim4": sim4,
    "sim5a": sim5a,
    "sim5b": sim5b,
    "sim5c": sim5c,
    "sim5d": sim5d,
    "sim5e": sim5e,
}


def test_sets(runs: Runs) -> dict[str, Any]:
    """Each held-out cohort: size, prevalence, the oracles' AUROC, the share with all four."""
    out = {}
    for key, truth in runs.truths.items():
        y = truth["y"].astype(int)
        out[key] = {
            "scenario": runs.scenarios[key],
            "label": SCENARIO_LABELS[runs.scenarios[key]],
            "n": int(len(y)),
            "prevalence": float(y.mean()),
            "bayes_auroc": metrics.auroc(y, truth["p_true"]),
            "noisy_ceiling_auroc": metrics.auroc(y, truth["p_noisy_ceiling"]),
            "share_with_all_four": float(truth["present"].all(axis=1).mean()),
        }
    return out


__all__ = [
    "ABLATIONS",
    "PAPER_TABLE1",
    "SECTION_FUNCTIONS",
    "Run",
    "Runs",
    "condition_metrics",
    "test_sets",
]
