"""The numbers of our checks beyond the paper (5a-5e), one function per section."""

from __future__ import annotations

from typing import Any

import numpy as np

from amff import metrics
from amff.experiments import stats
from amff.experiments.analysis.runs import FULL, Run, Runs, seed_metrics, summarize, values
from amff.experiments.plan import MAIN_METHODS, METHODS, SCENARIO_LABELS, SCENARIOS, Profile
from amff.modalities import MODALITIES

BASES = ("early", "late")


# -- Simulation 5a: corruption -------------------------------------------------------------
def _corruption_curves(
    method_runs: list[Run], severities: list[float]
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """AUROC against severity with each modality corrupted, and the drop at the worst."""
    worst = f"{severities[-1]:g}"
    clean = values(seed_metrics(method_runs, FULL), "auroc")
    curves: dict[str, Any] = {}
    drops: dict[str, list[float]] = {}
    for modality in MODALITIES:
        points = []
        for severity in severities:
            if severity == 0:
                aurocs = clean
            else:
                condition = f"corrupt|{modality.value}|{severity:g}"
                aurocs = values(seed_metrics(method_runs, condition), "auroc")
            points.append({"severity": severity, **stats.summary(aurocs)})
            if f"{severity:g}" == worst:
                drops[modality.value] = [c - a for c, a in zip(clean, aurocs)]
        curves[modality.value] = points
    drops["mean"] = list(np.mean([drops[m.value] for m in MODALITIES], 0))
    return curves, drops


def _corrupted_weights(amff_runs: list[Run], severities: list[float]) -> dict[str, Any]:
    """AMFF-HT's mean weight of each modality as it is corrupted (patients who have it)."""
    weights = {}
    for j, modality in enumerate(MODALITIES):
        points = []
        for severity in severities:
            per_seed = []
            for run in amff_runs:
                has = run.truth["present"][:, j]
                if severity == 0:
                    weight = run.arrays["subset|all|w"][:, j]
                else:
                    weight = run.arrays[f"corrupt|{modality.value}|{severity:g}|w"]
                per_seed.append(float(np.nanmean(weight.astype(float)[has])))
            points.append({"severity": severity, **stats.summary(per_seed)})
        weights[modality.value] = points
    return weights


def sim5a(runs: Runs, profile: Profile) -> dict[str, Any]:
    severities = list(profile.severities)
    curves: dict[str, Any] = {}
    drops: dict[str, dict[str, list[float]]] = {}
    for method in MAIN_METHODS:
        method_runs = runs.get(method, "default", profile.n_main)
        curves[method], drops[method] = _corruption_curves(method_runs, severities)
    comparison = {
        base: {
            key: stats.paired(drops[base][key], drops["amff"][key])
            for key in [m.value for m in MODALITIES] + ["mean"]
        }
        for base in BASES
    }
    amff_runs = runs.get("amff", "default", profile.n_main)
    return {
        "severities": severities,
        "auroc": curves,
        "auroc_drop": {m: {k: stats.summary(v) for k, v in d.items()} for m, d in drops.items()},
        "baseline_drop_minus_amff_drop": comparison,
        "amff_weight_of_corrupted_modality": _corrupted_weights(amff_runs, severities),
        "note": (
            f"drop = AUROC with clean data - AUROC at severity {severities[-1]:g}; a positive "
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
            aurocs = values(seed_metrics(method_runs, condition), "auroc")
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
            aurocs[(scenario, method)] = values(per_seed, "auroc")
            rows[method] = summarize(per_seed, ("auroc", "f1", "accuracy"))
        reference = runs.get("amff", scenario, profile.n_main)[0]
        out["scenarios"][scenario] = {
            "label": SCENARIO_LABELS[scenario],
            "knobs": SCENARIOS[scenario],
            "rows": rows,
            "bayes_auroc": metrics.auroc(reference.y, reference.truth["p_true"]),
            "amff_minus": {
                base: stats.paired(aurocs[(scenario, "amff")], aurocs[(scenario, base)])
                for base in BASES
            },
        }
    out["gain_with_minus_without_synergy"] = {
        base: stats.paired(
            [a - b for a, b in zip(aurocs[("default", "amff")], aurocs[("default", base)])],
            [a - b for a, b in zip(aurocs[("no-synergy", "amff")], aurocs[("no-synergy", base)])],
        )
        for base in BASES
    }
    return out


# -- Simulation 5d: do the weights adapt? --------------------------------------------------
def _weights_by_quality(method_runs: list[Run], j: int) -> dict[str, Any]:
    """Mean weight of modality j for poor- and good-quality readings (all four present)."""
    poor_means, good_means, diffs = [], [], []
    for run in method_runs:
        everything = run.truth["present"].all(axis=1)
        weights = run.arrays["subset|all|w"].astype(float)[:, j]
        poor = run.truth["quality_poor"][:, j]
        poor_mean = float(weights[everything & poor].mean())
        good_mean = float(weights[everything & ~poor].mean())
        poor_means.append(poor_mean)
        good_means.append(good_mean)
        diffs.append(poor_mean - good_mean)
    return {
        "poor": stats.summary(poor_means),
        "good": stats.summary(good_means),
        "poor_minus_good": stats.summary(diffs),
    }


def sim5d(runs: Runs, profile: Profile) -> dict[str, Any]:
    out: dict[str, Any] = {
        "population": "test patients with all four modalities, all four used",
        "methods": {},
    }
    for method in ("amff", "amff-mean-pooling"):
        method_runs = runs.get(method, "default", profile.n_main)
        out["methods"][method] = {
            modality.value: _weights_by_quality(method_runs, j)
            for j, modality in enumerate(MODALITIES)
        }
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
            aurocs[method] = values(per_seed, "auroc")
            rows[method] = summarize(per_seed, ("auroc", "f1", "accuracy"))
        for base in BASES:
            gains[(name, base)] = [a - b for a, b in zip(aurocs["amff"], aurocs[base])]
        out["scenarios"][name] = {
            "simulator": scenario,
            "knobs": SCENARIOS[scenario],
            "n": n,
            "rows": rows,
            "amff_minus": {base: stats.summary(gains[(name, base)]) for base in BASES},
        }
    out["gain_differences"] = {
        f"{a}-vs-{b}": {base: stats.paired(gains[(a, base)], gains[(b, base)]) for base in BASES}
        for a, b in (("limited", "main"), ("limited_noisy", "limited"), ("limited_noisy", "main"))
    }
    return out
