"""Which modality mattered: the adaptive weights and drop-one importance, from level 1 cached.

`modality_importance` re-runs only level 2 (a few milliseconds per patient), once with every
used modality and once without each of them; `average_importance` is its cohort view.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from amff.data.cohort import Cohort, Patient
from amff.predictor import Encoded, Modalities, Predictor, as_modalities

IMPORTANCE_CHUNK = 1024  # patients per level-2 forward in modality_importance


def modality_importance(
    predictor: Predictor, data: Cohort | Patient | Encoded, modalities: Modalities = None
) -> pd.DataFrame:
    """Adaptive weights and drop-one importance per patient x modality.

    One row per patient x modality: patient_id, modality, used, weight (the alpha the head
    used; NaN for early fusion, which has none), logit, probability (with every used
    modality), drop_one_logit, drop_one_probability (the prediction with every used modality
    minus the prediction without this one: > 0 = it pushed risk up; 0 for an unused modality;
    NaN when it is the only modality used).
    """
    encoded = data if isinstance(data, Encoded) else predictor.encode(data)
    chosen = as_modalities(modalities, predictor.modalities)
    selected = torch.tensor([m in chosen for m in predictor.modalities], dtype=torch.bool)
    used = encoded.available & selected  # (N, M)
    n, k = len(encoded), len(predictor.modalities)
    logit, alpha = _level_two(predictor, encoded.h, used)  # (N, M + 1), (N, M)
    used_np = used.numpy()
    n_used = used_np.sum(axis=1, keepdims=True)
    prob = _sigmoid(logit)
    full_logit, full_prob = logit[:, :1], prob[:, :1]
    drop_logit = np.where(used_np, full_logit - logit[:, 1:], 0.0)
    drop_prob = np.where(used_np, full_prob - prob[:, 1:], 0.0)
    alone = used_np & (n_used == 1)
    drop_logit[alone] = np.nan
    drop_prob[alone] = np.nan
    nothing = n_used[:, 0] == 0
    full_logit = np.where(nothing[:, None], np.nan, full_logit)
    alpha = np.where(nothing[:, None], np.nan, alpha)
    return pd.DataFrame(
        {
            "patient_id": np.repeat(np.asarray(encoded.ids, dtype=object), k),
            "modality": np.tile([m.value for m in predictor.modalities], n),
            "used": used_np.ravel(),
            "weight": alpha.ravel(),
            "logit": np.repeat(full_logit[:, 0], k),
            "probability": np.repeat(_sigmoid(full_logit[:, 0]), k),
            "drop_one_logit": drop_logit.ravel(),
            "drop_one_probability": drop_prob.ravel(),
        }
    )


def _level_two(
    predictor: Predictor, h: torch.Tensor, used: torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """Level 2 with every used modality (column 0) and without each one (column 1 + j):
    logits (N, K + 1) and the head's weights with every used modality (N, K; NaN if none)."""
    n, k = used.shape
    # row 0 of each patient: every used modality; row 1 + j: without modality j
    drop = ~torch.eye(k, dtype=torch.bool)  # (K, K)
    masks = torch.cat([used[:, None, :], used[:, None, :] & drop[None]], dim=1)  # (N, K+1, K)
    logits, weights = [], []
    with torch.inference_mode():
        for start in range(0, n, IMPORTANCE_CHUNK):
            part = slice(start, start + IMPORTANCE_CHUNK)
            rows = masks[part].shape[0]
            hk = h[part][:, None].expand(-1, k + 1, -1, -1).reshape(rows * (k + 1), k, -1)
            out = predictor.model.forward_encoded(hk, masks[part].reshape(-1, k))
            logits.append(out.logit.view(rows, k + 1).double())
            if out.modality_weights is not None:
                weights.append(out.modality_weights.view(rows, k + 1, k)[:, 0].double())
    logit = torch.cat(logits).numpy() if logits else np.zeros((0, k + 1))
    alpha = torch.cat(weights).numpy() if weights else np.full((n, k), np.nan)
    return logit, alpha


def average_importance(frame: pd.DataFrame) -> pd.DataFrame:
    """Per modality, over the patients that used it: n_used, mean weight, mean drop-one
    (signed and absolute, logit and probability)."""
    used = frame[frame["used"]].copy()
    used["abs_drop_one_logit"] = used["drop_one_logit"].abs()
    used["abs_drop_one_probability"] = used["drop_one_probability"].abs()
    grouped = used.groupby("modality", sort=False)
    summary = pd.DataFrame(
        {
            "n_used": grouped.size(),
            "weight": grouped["weight"].mean(),
            "drop_one_logit": grouped["drop_one_logit"].mean(),
            "abs_drop_one_logit": grouped["abs_drop_one_logit"].mean(),
            "drop_one_probability": grouped["drop_one_probability"].mean(),
            "abs_drop_one_probability": grouped["abs_drop_one_probability"].mean(),
        }
    )
    order = list(dict.fromkeys(frame["modality"]))  # the model's modality order
    summary = summary.reindex(order)
    summary["n_used"] = summary["n_used"].fillna(0).astype(int)
    summary.index.name = "modality"
    return summary


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))
