"""The numbers of the paper's four simulations (training dynamics, per modality, the fusion
benchmark, data size), one function per section."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from amff import metrics
from amff.experiments import stats
from amff.experiments.analysis.runs import (
    FULL,
    Run,
    Runs,
    condition_metrics,
    seed_metrics,
    subset_condition,
    summarize,
    values,
)
from amff.experiments.paper import PAPER_TABLE1
from amff.experiments.plan import MAIN_METHODS, METHOD_LABELS, METHODS, Profile
from amff.modalities import MODALITIES, Modality, all_subsets, subset_name

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
BASES = ("early", "late")


# -- Simulation 1: training dynamics -------------------------------------------------------
def first_stable_epoch(curve: Sequence[float], within: float = STABLE_WITHIN) -> int:
    """The first epoch (1-based) whose value is within `within` of the curve's best."""
    points = np.asarray(curve, dtype=float)
    best = np.nanmax(points)
    return int(np.flatnonzero(points >= best - within)[0]) + 1


def largest_fall(curve: Sequence[float], until: int) -> float:
    """The largest epoch-to-epoch fall of a curve up to epoch `until` (0 if it never falls)."""
    points = np.asarray(curve[:until], dtype=float)
    if len(points) < 2:
        return 0.0
    return float(max(0.0, np.nanmax(points[:-1] - points[1:])))


def _mean_curves(histories: list[list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Each logged curve, summarised over seeds epoch by epoch (with the lowest and highest)."""
    longest = max(len(h) for h in histories)
    curves: dict[str, list[dict[str, Any]]] = {}
    for key in HISTORY_KEYS:
        curves[key] = []
        for epoch in range(longest):
            found = [
                h[epoch][key] for h in histories if epoch < len(h) and h[epoch][key] is not None
            ]
            s = stats.summary(found)
            s["min"] = float(min(found)) if found else float("nan")
            s["max"] = float(max(found)) if found else float("nan")
            curves[key].append(s)
    return curves


def _dynamics(run: Run, history: list[dict[str, Any]]) -> dict[str, Any]:
    """One seed's stabilisation epochs, largest fall and loss gap at the best epoch."""
    best = int(run.record["best_epoch"])
    at_best = history[best - 1]
    auroc_curve = [h["val_auroc"] for h in history]
    return {
        "seed": run.seed,
        "epochs_run": len(history),
        "best_epoch": best,
        "auroc_stable_epoch": first_stable_epoch(auroc_curve),
        "f1_stable_epoch": first_stable_epoch([h["val_f1"] for h in history]),
        "largest_auroc_fall": largest_fall(auroc_curve, best),
        "loss_gap": at_best["val_loss"] - at_best["train_loss"],
        "relative_loss_gap": (at_best["val_loss"] - at_best["train_loss"]) / at_best["train_loss"],
    }


def sim1(runs: Runs, profile: Profile) -> dict[str, Any]:
    amff_runs = runs.get("amff", "default", profile.n_main)
    histories = [[r for r in run.record["history"] if "member" not in r] for run in amff_runs]
    curves = _mean_curves(histories)
    per_seed = [_dynamics(run, history) for run, history in zip(amff_runs, histories)]
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
    per_seed_single: dict[str, dict[str, list[dict[str, float]]]] = {}
    for method in MAIN_METHODS:
        method_runs = runs.get(method, "default", profile.n_main)
        table = {}
        for subset in all_subsets():
            name = subset_name(subset)
            per_seed = seed_metrics(method_runs, subset_condition(subset), name)
            table[name] = summarize(per_seed)
            if len(subset) == 1:
                per_seed_single.setdefault(method, {})[name] = per_seed
        out["methods"][method] = table
    out["unimodal_note"] = (
        "late fusion's members are each trained on one modality alone, so the late-fusion "
        "rows of the single-modality subsets are the unimodal models"
    )
    out["amff_single"] = _amff_single(per_seed_single)
    best = out["amff_single"]["ranking_by_auroc"][0]
    out.update(_all_four_gains(runs.get("amff", "default", profile.n_main), best))
    return out


def _amff_single(per_seed_single: dict[str, dict[str, list[dict[str, float]]]]) -> dict:
    """AMFF-HT with one modality on: rankings, and the image against the others."""
    single = [m.value for m in MODALITIES]
    amff = per_seed_single["amff"]
    mean_auroc = {m: float(np.mean(values(amff[m], "auroc"))) for m in single}
    ranked = sorted(single, key=lambda m: -mean_auroc[m])
    runner_up = next(m for m in ranked if m != "image")
    top = {
        key: max(single, key=lambda m: float(np.mean(values(amff[m], key))))
        for key in ("auroc", "f1", "accuracy")
    }
    return {
        "ranking_by_auroc": ranked,
        "top_by_metric": top,
        "image_minus_runner_up_auroc": {
            "runner_up": runner_up,
            **stats.paired(values(amff["image"], "auroc"), values(amff[runner_up], "auroc")),
        },
        "image_minus_tabular_f1": stats.paired(
            values(amff["image"], "f1"), values(amff["tabular"], "f1")
        ),
        "image_minus_text_f1": stats.paired(
            values(amff["image"], "f1"), values(amff["text"], "f1")
        ),
        "amff_branch_minus_unimodal_auroc": {
            m: stats.paired(values(amff[m], "auroc"), values(per_seed_single["late"][m], "auroc"))
            for m in single
        },
    }


def _all_four_gains(amff_runs: list[Run], best: str) -> dict[str, Any]:
    """All four against the best single modality (on the patients who have it), and the
    recall that RNA-seq adds (on the patients who have RNA-seq)."""
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
    return {
        "all_minus_best_single_auroc": {"best_single": best, **stats.summary(diffs)},
        "rna_recall_gain": {
            "note": "recall of all four minus recall of tabular+text+image, on patients with "
            "RNA-seq",
            **stats.summary(recall_diffs),
        },
    }


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
            key: stats.paired(values(per_seed[a], key), values(per_seed[b], key))
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
    aurocs: dict[tuple[str, int], list[float]] = {}
    for n in sizes:
        by_size[str(n)] = {}
        for method in MAIN_METHODS:
            per_seed = seed_metrics(runs.get(method, "default", n), FULL)
            aurocs[(method, n)] = values(per_seed, "auroc")
            by_size[str(n)][method] = summarize(per_seed, ("auroc", "f1", "accuracy", "brier"))
    small = sizes[0]
    below_main = max((n for n in sizes if n < profile.n_main), default=small)
    growth = {
        method: {
            f"{profile.n_main}-vs-{n}": stats.paired(
                aurocs[(method, profile.n_main)], aurocs[(method, n)]
            )
            for n in (small, below_main)
        }
        for method in MAIN_METHODS
    }

    def versus_baselines(compare: Any) -> dict[str, Any]:
        return {
            str(n): {base: compare(aurocs[("amff", n)], aurocs[(base, n)]) for base in BASES}
            for n in sizes
        }

    return {
        "sizes": sizes,
        "n_main": profile.n_main,
        "small": small,
        "below_main": below_main,
        "by_size": by_size,
        "auroc_growth": growth,
        "amff_minus_baseline_auroc": versus_baselines(stats.paired),
        "auroc_variance_ratio_amff_over_baseline": versus_baselines(stats.variance_ratio),
        "pairing_note": (
            "differences between sizes pair seed k with seed k: independent cohorts, so the "
            "paired t interval is still valid"
        ),
    }
