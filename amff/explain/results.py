"""What the explanation verbs return: `Attribution` and `AttentionMap`, plain and JSON-able."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Attribution:
    """Attributions inside one modality for one patient, explaining the fused logit.

    labels: feature names, words or gene names (empty for the image). values: one per label
    ((F,) for the record, (n_words,) for the note, (G + 1,) for RNA: the genes, then the log
    library size), or, for a modality whose adapter keeps the input's shape, a grid ((S, S) for
    the image). inputs: what is shown beside each value (the raw record values, the words, the
    (S, S) image in [0, 1], the raw counts). delta: Captum's convergence delta (integrated
    gradients only): values.sum() = logit - baseline_logit + delta. extra: more per-label
    columns for `frame()` (e.g. log_cpm, standardised, start/end offsets).
    """

    modality: str
    method: str
    labels: list[str]
    values: np.ndarray
    inputs: np.ndarray | list[Any]
    delta: float | None
    logit: float
    baseline_logit: float
    baseline: str
    extra: dict[str, np.ndarray | list[Any]] = field(default_factory=dict)

    @property
    def is_grid(self) -> bool:
        """True when values kept a 2-D input's shape (the image's heatmap), not one per label."""
        return not self.labels and np.ndim(self.values) == 2

    def frame(self) -> pd.DataFrame:
        """label, value, attribution (+ extra); for a grid (the image): row, col, value,
        attribution."""
        if self.is_grid:
            rows, cols = np.indices(self.values.shape)
            return pd.DataFrame(
                {
                    "row": rows.ravel(),
                    "col": cols.ravel(),
                    "value": np.asarray(self.inputs).ravel(),
                    "attribution": self.values.ravel(),
                }
            )
        frame = pd.DataFrame(
            {"label": self.labels, "value": list(self.inputs), "attribution": self.values}
        )
        for name, column in self.extra.items():
            frame[name] = list(column)
        return frame

    def top(self, k: int = 10) -> pd.DataFrame:
        """The k rows of `frame()` with the largest absolute attribution."""
        frame = self.frame()
        order = np.argsort(-np.abs(frame["attribution"].to_numpy()), kind="stable")
        return frame.iloc[order[:k]].reset_index(drop=True)

    def to_dict(self, top_k: int | None = None) -> dict[str, Any]:
        """JSON-able; a grid as an (S, S) nested list, the rest as rows (top_k by |value|)."""
        out: dict[str, Any] = {
            "modality": self.modality,
            "method": self.method,
            "baseline": self.baseline,
            "logit": self.logit,
            "baseline_logit": self.baseline_logit,
            "delta": self.delta,
            "total": float(self.values.sum()),
        }
        if self.is_grid:
            out["heatmap"] = np.round(self.values, 8).tolist()
        else:
            rows = self.top(top_k) if top_k is not None else self.frame()
            out["n_features"] = len(self.labels)
            out["features"] = rows.to_dict(orient="records")
        return jsonable(out)


@dataclass
class AttentionMap:
    """Pooling attention over one modality's tokens (heads averaged; sums to 1).

    text: labels are the words, weights (n_words,); image: labels empty, weights (4, 4)
    cells of the last feature map, upsampled (S, S) bilinearly to the input size.
    """

    modality: str
    labels: list[str]
    weights: np.ndarray
    upsampled: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: modality, weights, and labels where there are any."""
        out: dict[str, Any] = {"modality": self.modality, "weights": self.weights.tolist()}
        if self.labels:
            out["labels"] = self.labels
        return jsonable(out)


def jsonable(value: Any) -> Any:
    """Plain JSON types; NaN and infinities become None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
