"""The stored runs of a plan, and the metrics of one run under one test condition."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amff import metrics
from amff.experiments import stats
from amff.experiments.plan import RunSpec
from amff.experiments.runner import ALL, load_run
from amff.modalities import subset_name

METRICS = ("auroc", "f1", "accuracy", "auprc", "brier", "ece", "recall", "specificity")
FULL = f"subset|{ALL}"  # the condition 'every modality the patient has'


@dataclass
class Run:
    """One stored run, with the truth of its held-out cohort."""

    seed: int
    record: dict[str, Any]
    arrays: dict[str, np.ndarray]
    truth: dict[str, np.ndarray]

    @property
    def y(self) -> np.ndarray:
        return self.truth["y"].astype(int)

    def p(self, condition: str) -> np.ndarray:
        return self.arrays[f"{condition}|p"].astype(np.float64)

    def threshold(self, subset: str = ALL) -> float:
        return float(self.record["val_thresholds"].get(subset, self.record["threshold"]))


class Runs:
    """The stored runs of a plan, by (method, scenario, n) and seed."""

    def __init__(self, out: Path, specs: Sequence[RunSpec], code_version: str) -> None:
        self.out = out
        self._runs: dict[tuple[str, str, int], list[Run]] = {}
        self.scenarios: dict[str, str] = {}  # test cohort key -> scenario
        truths: dict[str, dict[str, np.ndarray]] = {}
        for spec in specs:
            record, arrays = load_run(out, spec.key(code_version))
            test_key = record["test_key"]
            if test_key not in truths:
                with np.load(out / "testsets" / f"{test_key}.npz") as data:
                    truths[test_key] = {name: data[name] for name in data.files}
            self.scenarios[test_key] = spec.scenario
            run = Run(spec.seed, record, arrays, truths[test_key])
            self._runs.setdefault((spec.method, spec.scenario, spec.n), []).append(run)
        for runs in self._runs.values():
            runs.sort(key=lambda r: r.seed)
        self.truths = truths

    def get(self, method: str, scenario: str, n: int) -> list[Run]:
        return self._runs[(method, scenario, n)]

    def records(self) -> list[dict[str, Any]]:
        return [run.record for runs in self._runs.values() for run in runs]


def condition_metrics(
    y: np.ndarray, p: np.ndarray, threshold: float, p_true: np.ndarray
) -> dict[str, float]:
    """All metrics on the patients the condition can score, and the oracle on the same ones."""
    keep = np.isfinite(p)
    y, p, p_true = y[keep], p[keep], p_true[keep]
    out = metrics.all_metrics(y, p, threshold)
    predicted = p >= threshold
    positives, negatives = y == 1, y == 0
    out["recall"] = float(predicted[positives].mean()) if positives.any() else float("nan")
    out["specificity"] = float((~predicted[negatives]).mean()) if negatives.any() else float("nan")
    out["oracle_auroc"] = metrics.auroc(y, p_true)
    out["gap_closed"] = gap_closed(out["auroc"], out["oracle_auroc"])
    return out


def gap_closed(auroc: float, oracle: float) -> float:
    """(AUROC - 0.5) / (AUROC_oracle - 0.5): the share of the oracle's lead over chance."""
    return float((auroc - 0.5) / (oracle - 0.5)) if oracle > 0.5 else float("nan")


def seed_metrics(runs: list[Run], condition: str, subset: str = ALL) -> list[dict[str, float]]:
    """condition_metrics of each seed's run."""
    return [
        condition_metrics(r.y, r.p(condition), r.threshold(subset), r.truth["p_true"]) for r in runs
    ]


def summarize(per_seed: list[dict[str, float]], keys: Sequence[str] = METRICS) -> dict[str, Any]:
    """A summary over seeds of each metric, the oracle gap closed and the patients scored."""
    out = {k: stats.summary([m[k] for m in per_seed]) for k in keys}
    out["gap_closed"] = stats.summary([m["gap_closed"] for m in per_seed])
    out["n_patients"] = int(per_seed[0]["n"]) if per_seed else 0
    return out


def values(per_seed: list[dict[str, float]], key: str) -> list[float]:
    """One metric of each seed."""
    return [m[key] for m in per_seed]


def subset_condition(subset: tuple) -> str:
    """The condition 'only these modalities on'."""
    return f"subset|{subset_name(subset)}"
