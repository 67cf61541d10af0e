"""From stored runs to the numbers of results.json, one function per section.

Every metric is computed on the fixed held-out cohort, at the decision threshold chosen on the
run's own validation split (per modality subset; see runner.evaluate). Summaries are over
seeds (stats.summary); differences are paired by seed, and for the headline AUROC comparisons
also by a paired bootstrap over test patients (stats.bootstrap_auroc_difference).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amff import metrics
from amff.experiments import stats
from amff.experiments.paper import PAPER_TABLE1
from amff.experiments.plan import (
    ABLATIONS,
    MAIN_METHODS,
    METHOD_LABELS,
    METHODS,
    SCENARIO_LABELS,
    SCENARIOS,
    Profile,
    RunSpec,
)
from amff.experiments.runner import ALL, load_run
from amff.modalities import MODALITIES, Modality, all_subsets, subset_name

METRICS = ("auroc", "f1", "accuracy", "auprc", "brier", "ece", "recall", "specificity")
HISTORY_KEYS = (
    "train_loss",
    "val_loss",
    "train_auroc",
    "val_auroc",
    "train_f1",
    "val_f1",
    "train_accuracy",
    "val_accuracy",
)
STABLE_WITHIN = 0.01  # a curve has "stabilised" once within this of its best value


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


# -- per-condition metrics -----------------------------------------------------------------
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
    return [
        condition_metrics(r.y, r.p(condition), r.threshold(subset), r.truth["p_true"]) for r in runs
    ]


def summarize(per_seed: list[dict[str, float]], keys: Sequence[str] = METRICS) -> dict[str, Any]:
    out = {k: stats.summary([m[k] for m in per_seed]) for k in keys}
    out["gap_closed"] = stats.summary([m["gap_closed"] for m in per_seed])
    out["n_patients"] = int(per_seed[0]["n"]) if per_seed else 0
    return out


def _values(per_seed: list[dict[str, float]], key: str) -> list[float]:
    return [m[key] for m in per_seed]


def _subset(subset: tuple) -> str:
    return f"subset|{subset_name(subset)}"


FULL = f"subset|{ALL}"


# -- Simulation 1: training dynamics -------------------------------------------------------
def first_stable_epoch(curve: Sequence[float], within: float = STABLE_WITHIN) -> int:
    """The first epoch (1-based) whose value is within `within` of the curve's best."""
    values = np.asarray(curve, dtype=float)
    best = np.nanmax(values)
    return int(np.flatnonzero(values >= best - within)[0]) + 1


def largest_fall(curve: Sequence[float], until: int) -> float:
    """The largest epoch-to-epoch fall of a curve up to epoch `until` (0 if it never falls)."""
    values = np.asarray(curve[:until], dtype=float)
    if len(values) < 2:
        return 0.0
    return float(max(0.0, np.nanmax(values[:-1] - values[1:])))


def sim1(runs: Runs, profile: Profile) -> dict[str, Any]:
    amff_runs = runs.get("amff", "default", profile.n_main)
    histories = [[r for r in run.record["history"] if "member" not in r] for run in amff_runs]
    longest = max(len(h) for h in histories)
    curves: dict[str, list[dict[str, Any]]] = {}
    for key in HISTORY_KEYS:
        curves[key] = []
        for epoch in range(longest):
            values = [
                h[epoch][key] for h in histories if epoch < len(h) and h[epoch][key] is not None
            ]
            s = stats.summary(values)
            s["min"] = float(min(values)) if values else float("nan")
            s["max"] = float(max(values)) if values else float("nan")
            curves[key].append(s)
    per_seed = []
    for run, history in zip(amff_runs, histories):
        best = int(run.record["best_epoch"])
        at_best = history[best - 1]
        auroc_curve = [h["val_auroc"] for h in history]
        per_seed.append(
            {
                "seed": run.seed,
                "epochs_run": len(history),
                "best_epoch": best,
                "auroc_stable_epoch": first_stable_epoch(auroc_curve),
                "f1_stable_epoch": first_stable_epoch([h["val_f1"] for h in history]),
                "largest_auroc_fall": largest_fall(auroc_curve, best),
                "loss_gap": at_best["val_loss"] - at_best["train_loss"],
                "relative_loss_gap": (at_best["val_loss"] - at_best["train_loss"])
                / at_best["train_loss"],
            }
        )
    summaries = {
        key: stats.summary([s[key] for s in per_seed]) for key in per_seed[0] if key != "seed"
    }
    summaries["f1_minus_auroc_stable_epoch"] = stats.paired(
        [s["f1_stable_epoch"] for s in per_seed], [s["auroc_stable_epoch"] for s in per_seed]
    )
    return {
        "method": "amff",
        "n": profile.n_main,
        "epochs_cap": profile.epochs,
        "patience": profile.patience,
        "stable_within": STABLE_WITHIN,
        "curves": curves,
        "per_seed": per_seed,
        "summary": summaries,
        "note": "train_* are measured during the epoch, with dropout and modality masking on",
    }


# -- Simulation 2: per-modality generalisation ---------------------------------------------
def sim2(runs: Runs, profile: Profile) -> dict[str, Any]:
    out: dict[str, Any] = {"n": profile.n_main, "methods": {}}
    subsets = all_subsets()
    per_seed_single: dict[str, dict[str, list[dict[str, float]]]] = {}
    for method in MAIN_METHODS:
        method_runs = runs.get(method, "default", profile.n_main)
        table = {}
        for subset in subsets:
            name = subset_name(subset)
            per_seed = seed_metrics(method_runs, _subset(subset), name)
            table[name] = summarize(per_seed)
            if len(subset) == 1:
                per_seed_single.setdefault(method, {})[name] = per_seed
        out["methods"][method] = table
    out["unimodal_note"] = (
        "late fusion's members are each trained on one modality alone, so the late-fusion "
        "rows of the single-modality subsets are the unimodal models"
    )

    single = [m.value for m in MODALITIES]
    amff = per_seed_single["amff"]
    mean_auroc = {m: float(np.mean(_values(amff[m], "auroc"))) for m in single}
    ranked = sorted(single, key=lambda m: -mean_auroc[m])
    runner_up = next(m for m in ranked if m != "image")
    top = {
        key: max(single, key=lambda m: float(np.mean(_values(amff[m], key))))
        for key in ("auroc", "f1", "accuracy")
    }
    out["amff_single"] = {
        "ranking_by_auroc": ranked,
        "top_by_metric": top,
        "image_minus_runner_up_auroc": {
            "runner_up": runner_up,
            **stats.paired(_values(amff["image"], "auroc"), _values(amff[runner_up], "auroc")),
        },
        "image_minus_tabular_f1": stats.paired(
            _values(amff["image"], "f1"), _values(amff["tabular"], "f1")
        ),
        "image_minus_text_f1": stats.paired(
            _values(amff["image"], "f1"), _values(amff["text"], "f1")
        ),
        "amff_branch_minus_unimodal_auroc": {
            m: stats.paired(_values(amff[m], "auroc"), _values(per_seed_single["late"][m], "auroc"))
            for m in single
        },
    }
    # all four against the best single modality, on the patients who have that modality
    amff_runs = runs.get("amff", "default", profile.n_main)
    best = ranked[0]
    diffs, recall_diffs = [], []
    no_rna = subset_name(tuple(m for m in MODALITIES if m is not Modality.RNA))
    for run in amff_runs:
        alone = run.p(f"subset|{best}")
        has = np.isfinite(alone)
        full = run.p(FULL)
        y, pt = run.y, run.truth["p_true"]
        diffs.append(
            condition_metrics(y[has], full[has], run.threshold(), pt[has])["auroc"]
            - condition_metrics(y[has], alone[has], run.threshold(best), pt[has])["auroc"]
        )
        rna = run.truth["present"][:, MODALITIES.index(Modality.RNA)]
        with_rna = condition_metrics(y[rna], full[rna], run.threshold(), pt[rna])
        without = condition_metrics(
            y[rna], run.p(f"subset|{no_rna}")[rna], run.threshold(no_rna), pt[rna]
        )
        recall_diffs.append(with_rna["recall"] - without["recall"])
    out["all_minus_best_single_auroc"] = {"best_single": best, **stats.summary(diffs)}
    out["rna_recall_gain"] = {
        "note": "recall of all four minus recall of tabular+text+image, on patients with RNA-seq",
        **stats.summary(recall_diffs),
    }
    return out


# -- Simulation 3: the fusion benchmark ----------------------------------------------------
def sim3(runs: Runs, profile: Profile) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    per_seed: dict[str, list[dict[str, float]]] = {}
    for method in METHODS:
        method_runs = runs.get(method, "default", profile.n_main)
        per_seed[method] = seed_metrics(method_runs, FULL)
        rows[method] = {
            "label": METHOD_LABELS[method],
            **summarize(per_seed[method]),
            "epochs_run": stats.summary([r.record["epochs_run"] for r in method_runs]),
            "train_s": stats.summary([r.record["timing"]["train_s"] for r in method_runs]),
        }
    reference = runs.get("amff", "default", profile.n_main)[0]
    differences: dict[str, Any] = {}
    pairs = [("amff", other) for other in METHODS if other != "amff"] + [("early", "late")]
    for a, b in pairs:
        entry: dict[str, Any] = {
            key: stats.paired(_values(per_seed[a], key), _values(per_seed[b], key))
            for key in ("auroc", "f1", "accuracy", "auprc", "brier")
        }
        entry["auroc_bootstrap"] = stats.bootstrap_auroc_difference(
            reference.y,
            [r.p(FULL) for r in runs.get(a, "default", profile.n_main)],
            [r.p(FULL) for r in runs.get(b, "default", profile.n_main)],
            profile.n_boot,
        )
        differences[f"{a}-vs-{b}"] = entry
    return {
        "n": profile.n_main,
        "rows": rows,
        "oracles": oracle_rows(reference.y, reference.truth),
        "paper": PAPER_TABLE1,
        "differences": differences,
        "interval_note": (
            "'seeds': mean of the per-seed paired differences with a 95% t interval "
            f"(df = {len(profile.seeds) - 1}); 'auroc_bootstrap': the same mean with a 95% "
            f"percentile interval from {profile.n_boot} paired bootstrap resamples of the "
            "test patients (same resample for both methods and every seed)"
        ),
    }


def oracle_rows(y: np.ndarray, truth: dict[str, np.ndarray]) -> dict[str, Any]:
    """The Bayes oracle p_true and the ceiling given the noisy readings, on the test cohort.

    F1 and accuracy are at the threshold that maximises F1 on the test cohort itself: an
    optimistic reference, not a model's result.
    """
    rows = {}
    for name, key in (("bayes", "p_true"), ("noisy_ceiling", "p_noisy_ceiling")):
        p = truth[key]
        threshold = metrics.best_f1_threshold(y, p)
        rows[name] = metrics.all_metrics(y, p, threshold)
    return rows


# -- Simulation 4: data size ---------------------------------------------------------------
def sim4(runs: Runs, profile: Profile) -> dict[str, Any]:
    sizes = list(profile.sizes)
    by_size: dict[str, Any] = {}
    values: dict[tuple[str, int], list[dict[str, float]]] = {}
    for n in sizes:
        by_size[str(n)] = {}
        for method in MAIN_METHODS:
            per_seed = seed_metrics(runs.get(method, "default", n), FULL)
            values[(method, n)] = per_seed
            by_size[str(n)][method] = summarize(per_seed, ("auroc", "f1", "accuracy", "brier"))
    small = sizes[0]
    below_main = max((n for n in sizes if n < profile.n_main), default=small)
    growth = {}
    for method in MAIN_METHODS:
        growth[method] = {
            f"{profile.n_main}-vs-{small}": stats.paired(
                _values(values[(method, profile.n_main)], "auroc"),
                _values(values[(method, small)], "auroc"),
            ),
            f"{profile.n_main}-vs-{below_main}": stats.paired(
                _values(values[(method, profile.n_main)], "auroc"),
                _values(values[(method, below_main)], "auroc"),
            ),
        }
    gains = {
        str(n): {
            base: stats.paired(
                _values(values[("amff", n)], "auroc"), _values(values[(base, n)], "auroc")
            )
            for base in ("early", "late")
        }
        for n in sizes
    }
    spread = {
        str(n): {
            base: stats.variance_ratio(
                _values(values[("amff", n)], "auroc"), _values(values[(base, n)], "auroc")
            )
            for base in ("early", "late")
        }
        for n in sizes
    }
    return {
        "sizes": sizes,
        "n_main": profile.n_main,
        "small": small,
        "below_main": below_main,
        "by_size": by_size,
        "auroc_growth": growth,
        "amff_minus_baseline_auroc": gains,
        "auroc_variance_ratio_amff_over_baseline": spread,
        "pairing_note": (
            "differences between sizes pair seed k with seed k: independent cohorts, so the "
            "paired t interval is still valid"
        ),
    }


# -- Simulation 5a: corruption -------------------------------------------------------------
def sim5a(runs: Runs, profile: Profile) -> dict[str, Any]:
    severities = list(profile.severities)
    worst = f"{severities[-1]:g}"
    curves: dict[str, Any] = {}
    drops: dict[str, dict[str, list[float]]] = {}
    for method in MAIN_METHODS:
        method_runs = runs.get(method, "default", profile.n_main)
        clean = _values(seed_metrics(method_runs, FULL), "auroc")
        curves[method] = {}
        drops[method] = {}
        for modality in MODALITIES:
            points = []
            for severity in severities:
                if severity == 0:
                    aurocs = clean
                else:
                    condition = f"corrupt|{modality.value}|{severity:g}"
                    aurocs = _values(seed_metrics(method_runs, condition), "auroc")
                points.append({"severity": severity, **stats.summary(aurocs)})
                if f"{severity:g}" == worst:
                    drops[method][modality.value] = [c - a for c, a in zip(clean, aurocs)]
            curves[method][modality.value] = points
        drops[method]["mean"] = list(np.mean([drops[method][m.value] for m in MODALITIES], 0))
    comparison = {
        base: {
            key: stats.paired(drops[base][key], drops["amff"][key])
            for key in [m.value for m in MODALITIES] + ["mean"]
        }
        for base in ("early", "late")
    }
    weights = {}
    for j, modality in enumerate(MODALITIES):
        points = []
        for severity in severities:
            per_seed = []
            for run in runs.get("amff", "default", profile.n_main):
                has = run.truth["present"][:, j]
                if severity == 0:
                    weight = run.arrays["subset|all|w"][:, j]
                else:
                    weight = run.arrays[f"corrupt|{modality.value}|{severity:g}|w"]
                per_seed.append(float(np.nanmean(weight.astype(float)[has])))
            points.append({"severity": severity, **stats.summary(per_seed)})
        weights[modality.value] = points
    return {
        "severities": severities,
        "auroc": curves,
        "auroc_drop": {m: {k: stats.summary(v) for k, v in d.items()} for m, d in drops.items()},
        "baseline_drop_minus_amff_drop": comparison,
        "amff_weight_of_corrupted_modality": weights,
        "note": (
            f"drop = AUROC with clean data - AUROC at severity {worst}; a positive "
            "'baseline_drop_minus_amff_drop' means AMFF-HT lost less"
        ),
    }


# -- Simulation 5b: missing modalities -----------------------------------------------------
def sim5b(runs: Runs, profile: Profile) -> dict[str, Any]:
    rates = list(profile.missing_rates)
    curves, at_worst = {}, {}
    for method in METHODS:
        method_runs = runs.get(method, "default", profile.n_main)
        points = []
        for rate in rates:
            condition = FULL if rate == 0 else f"missing|{rate:g}"
            aurocs = _values(seed_metrics(method_runs, condition), "auroc")
            points.append({"rate": rate, **stats.summary(aurocs)})
        curves[method] = points
        at_worst[method] = points[-1]["values"]
    return {
        "rates": rates,
        "auroc": curves,
        "amff_minus_other_at_worst_rate": {
            other: stats.paired(at_worst["amff"], at_worst[other])
            for other in METHODS
            if other != "amff"
        },
        "worst_rate": rates[-1],
    }


# -- Simulation 5c: no synergy -------------------------------------------------------------
def sim5c(runs: Runs, profile: Profile) -> dict[str, Any]:
    out: dict[str, Any] = {"scenarios": {}, "n": profile.n_main}
    aurocs: dict[tuple[str, str], list[float]] = {}
    for scenario in ("default", "no-synergy"):
        rows = {}
        for method in MAIN_METHODS:
            method_runs = runs.get(method, scenario, profile.n_main)
            per_seed = seed_metrics(method_runs, FULL)
            aurocs[(scenario, method)] = _values(per_seed, "auroc")
            rows[method] = summarize(per_seed, ("auroc", "f1", "accuracy"))
        reference = runs.get("amff", scenario, profile.n_main)[0]
        out["scenarios"][scenario] = {
            "label": SCENARIO_LABELS[scenario],
            "knobs": SCENARIOS[scenario],
            "rows": rows,
            "bayes_auroc": metrics.auroc(reference.y, reference.truth["p_true"]),
            "amff_minus": {
                base: stats.paired(aurocs[(scenario, "amff")], aurocs[(scenario, base)])
                for base in ("early", "late")
            },
        }
    out["gain_with_minus_without_synergy"] = {
        base: stats.paired(
            [a - b for a, b in zip(aurocs[("default", "amff")], aurocs[("default", base)])],
            [a - b for a, b in zip(aurocs[("no-synergy", "amff")], aurocs[("no-synergy", base)])],
        )
        for base in ("early", "late")
    }
    return out


# -- Simulation 5d: do the weights adapt? --------------------------------------------------
def sim5d(runs: Runs, profile: Profile) -> dict[str, Any]:
    out: dict[str, Any] = {
        "population": "test patients with all four modalities, all four used",
        "methods": {},
    }
    for method in ("amff", "amff-mean-pooling"):
        table = {}
        for j, modality in enumerate(MODALITIES):
            poor_means, good_means, diffs = [], [], []
            for run in runs.get(method, "default", profile.n_main):
                everything = run.truth["present"].all(axis=1)
                weights = run.arrays["subset|all|w"].astype(float)[:, j]
                poor = run.truth["quality_poor"][:, j]
                poor_mean = float(weights[everything & poor].mean())
                good_mean = float(weights[everything & ~poor].mean())
                poor_means.append(poor_mean)
                good_means.append(good_mean)
                diffs.append(poor_mean - good_mean)
            table[modality.value] = {
                "poor": stats.summary(poor_means),
                "good": stats.summary(good_means),
                "poor_minus_good": stats.summary(diffs),
            }
        out["methods"][method] = table
    return out


# -- Simulation 5e: limited and noisy ------------------------------------------------------
def sim5e(runs: Runs, profile: Profile) -> dict[str, Any]:
    scenarios = {
        "main": ("default", profile.n_main),
        "limited": ("default", profile.n_limited),
        "limited_noisy": ("noisy", profile.n_limited),
    }
    out: dict[str, Any] = {"scenarios": {}}
    gains: dict[tuple[str, str], list[float]] = {}
    for name, (scenario, n) in scenarios.items():
        rows, aurocs = {}, {}
        for method in MAIN_METHODS:
            per_seed = seed_metrics(runs.get(method, scenario, n), FULL)
            aurocs[method] = _values(per_seed, "auroc")
            rows[method] = summarize(per_seed, ("auroc", "f1", "accuracy"))
        for base in ("early", "late"):
            gains[(name, base)] = [a - b for a, b in zip(aurocs["amff"], aurocs[base])]
        out["scenarios"][name] = {
            "simulator": scenario,
            "knobs": SCENARIOS[scenario],
            "n": n,
            "rows": rows,
            "amff_minus": {base: stats.summary(gains[(name, base)]) for base in ("early", "late")},
        }
    out["gain_differences"] = {
        f"{a}-vs-{b}": {
            base: stats.paired(gains[(a, base)], gains[(b, base)]) for base in ("early", "late")
        }
        for a, b in (("limited", "main"), ("limited_noisy", "limited"), ("limited_noisy", "main"))
    }
    return out


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


__all__ = ["ABLATIONS", "PAPER_TABLE1", "SECTION_FUNCTIONS", "Runs", "condition_metrics"]
