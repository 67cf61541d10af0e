"""Summaries over seeds and paired intervals: the numbers every verdict is computed from.

Two kinds of paired interval are used, and every number says which:

* over seeds: seed k of every method sees the same training cohort and the same
  initialisation seed, so the per-seed differences are paired; a t interval (df = seeds - 1)
  for their mean. This carries the variation from data draws and training.
* over test patients: a percentile bootstrap that resamples the held-out patients once per
  replicate and applies the same resample to both methods and every seed (the difference of
  the seed-mean AUROCs). This carries the variation from the finite test cohort only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import sparse, stats

LEVEL = 0.95


def summary(values: Sequence[float]) -> dict[str, object]:
    """mean, sd, 95% t interval of the mean, n and the values themselves (NaN dropped)."""
    clean = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(clean)
    if n == 0:
        nan = float("nan")
        return {"mean": nan, "sd": nan, "low": nan, "high": nan, "n": 0, "values": []}
    mean = float(clean.mean())
    sd = float(clean.std(ddof=1)) if n > 1 else float("nan")
    if n > 1:
        half = float(stats.t.ppf((1 + LEVEL) / 2, n - 1) * sd / math.sqrt(n))
        low, high = mean - half, mean + half
    else:
        low = high = float("nan")
    return {
        "mean": mean,
        "sd": sd,
        "low": low,
        "high": high,
        "n": n,
        "values": [float(v) for v in clean],
    }


def paired(a: Sequence[float], b: Sequence[float]) -> dict[str, object]:
    """Summary of the per-seed differences a - b (pairs with a NaN are dropped)."""
    if len(a) != len(b):
        raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    return summary([x - y for x, y in zip(a, b)])


def variance_ratio(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """var(a) / var(b) with the 95% F interval (independent normal samples)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        nan = float("nan")
        return {"ratio": nan, "low": nan, "high": nan}
    va, vb = a.var(ddof=1), b.var(ddof=1)
    if vb == 0:
        return {
            "ratio": float("inf") if va > 0 else float("nan"),
            "low": float("nan"),
            "high": float("nan"),
        }
    ratio = float(va / vb)
    da, db = len(a) - 1, len(b) - 1
    low = ratio / stats.f.ppf((1 + LEVEL) / 2, da, db)
    high = ratio / stats.f.ppf((1 - LEVEL) / 2, da, db)
    return {"ratio": ratio, "low": float(low), "high": float(high)}


def resample_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n): how often each patient is drawn in each bootstrap replicate."""
    rng = np.random.default_rng(seed)
    return np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(n_boot)])


def weighted_auroc(y: np.ndarray, p: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """AUROC of scores p for each row of patient counts (n_boot, n): Mann-Whitney, ties 1/2.

    One sort serves every replicate, so a thousand replicates cost about one sort.
    """
    values, inverse = np.unique(p, return_inverse=True)
    to_value = sparse.csr_matrix(
        (np.ones(len(p)), (np.arange(len(p)), inverse)), shape=(len(p), len(values))
    )  # (n, U): patient -> its distinct score
    pos = to_value.T @ (counts * (y == 1)).T  # (U, B): positives at each score
    neg = to_value.T @ (counts * (y == 0)).T
    pos, neg = np.asarray(pos).T, np.asarray(neg).T  # (B, U)
    below = np.cumsum(neg, axis=1) - neg  # negatives scored strictly lower
    wins = (pos * (below + 0.5 * neg)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return wins / (pos.sum(axis=1) * neg.sum(axis=1))


def bootstrap_auroc_difference(
    y: np.ndarray,
    probs_a: Sequence[np.ndarray],
    probs_b: Sequence[np.ndarray],
    n_boot: int,
    seed: int = 0,
) -> dict[str, float]:
    """mean over seeds of AUROC(a_s) - AUROC(b_s), with a paired bootstrap over patients."""
    from amff.metrics import auroc

    if len(probs_a) != len(probs_b) or not probs_a:
        raise ValueError("give one probability vector per seed for both methods")
    y = np.asarray(y)
    keep = np.ones(len(y), dtype=bool)
    for p in (*probs_a, *probs_b):
        keep &= np.isfinite(p)
    y = y[keep]
    estimate = float(
        np.mean([auroc(y, a[keep]) - auroc(y, b[keep]) for a, b in zip(probs_a, probs_b)])
    )
    counts = resample_counts(len(y), n_boot, seed)
    diffs = np.mean(
        [
            weighted_auroc(y, a[keep], counts) - weighted_auroc(y, b[keep], counts)
            for a, b in zip(probs_a, probs_b)
        ],
        axis=0,
    )
    diffs = diffs[np.isfinite(diffs)]
    low, high = np.percentile(diffs, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return {
        "difference": estimate,
        "low": float(low),
        "high": float(high),
        "n_boot": int(n_boot),
        "n_patients": int(len(y)),
    }
