"""Binary classification metrics on scikit-learn, bootstrap intervals, paired differences."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    precision_recall_curve,
    roc_auc_score,
)

MetricFn = Callable[[np.ndarray, np.ndarray], float]


def _both_classes(y: np.ndarray) -> bool:
    return len(np.unique(y)) == 2


def auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    y, p = np.asarray(y), np.asarray(p)
    return float(roc_auc_score(y, p)) if _both_classes(y) else float("nan")


def auprc(y: np.ndarray, p: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve); NaN with one class."""
    y, p = np.asarray(y), np.asarray(p)
    return float(average_precision_score(y, p)) if _both_classes(y) else float("nan")


def f1(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> float:
    return float(f1_score(np.asarray(y), np.asarray(p) >= threshold, zero_division=0.0))


def accuracy(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> float:
    return float(accuracy_score(np.asarray(y), np.asarray(p) >= threshold))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(brier_score_loss(np.asarray(y), np.clip(np.asarray(p), 0.0, 1.0)))


def ece(y: np.ndarray, p: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error over `bins` equal-width probability bins."""
    y, p = np.asarray(y, dtype=float), np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.mean() * abs(p[in_bin].mean() - y[in_bin].mean())
    return float(total)


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The probability threshold that maximises F1 (chosen on validation, stored with a model)."""
    y, p = np.asarray(y), np.asarray(p)
    if not _both_classes(y):
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y, p)
    scores = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.nanargmax(scores[:-1])) if len(thresholds) else 0
    return float(thresholds[best]) if len(thresholds) else 0.5


def all_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """auroc, auprc, f1, accuracy, brier, ece and n for labels y and probabilities p."""
    y, p = np.asarray(y), np.asarray(p)
    return {
        "auroc": auroc(y, p),
        "auprc": auprc(y, p),
        "f1": f1(y, p, threshold),
        "accuracy": accuracy(y, p, threshold),
        "brier": brier(y, p),
        "ece": ece(y, p),
        "n": int(len(y)),
        "threshold": float(threshold),
    }
