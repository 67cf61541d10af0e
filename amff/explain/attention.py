"""The intra-modality pooling attention, read through forward hooks on `attn.attend`.

"text" per word, "image" a grid of feature-map cells (and upsampled to the input size); a
modality's adapter says whether its attention is shown and how (`attends`, `attention_map`).
"""

from __future__ import annotations

import torch

from amff.data.cohort import Patient
from amff.explain.adapters import adapter_for
from amff.explain.attribute import _context, _prepare, _Prepared
from amff.explain.hooks import ATTRIBUTION_LOCK, grad_mode
from amff.explain.results import AttentionMap
from amff.predictor import Modalities, Predictor


def attention_maps(
    predictor: Predictor, patient: Patient, modalities: Modalities = None
) -> dict[str, AttentionMap]:
    """Which words and image cells the pooling attended to (used text and image only)."""
    with ATTRIBUTION_LOCK, grad_mode():
        return _attention_maps(predictor, _prepare(predictor, patient, modalities))


def _attention_maps(predictor: Predictor, prepared: _Prepared) -> dict[str, AttentionMap]:
    maps: dict[str, AttentionMap] = {}
    with torch.inference_mode():
        for j, modality in enumerate(prepared.modalities):
            adapter = adapter_for(modality.value)
            if not adapter.attends or not bool(prepared.used[0, j]):
                continue
            context = _context(predictor, prepared, modality)
            maps[context.name] = adapter.attention_map(context, context.pooling_attention())
    return maps
