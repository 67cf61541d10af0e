"""Explanations of one prediction: which modality mattered, and what inside each modality.

Shaped like Captum: a verb over any model (AMFF-HT, early or late fusion) and any modality
subset; arrays and DataFrames out; no drawing (`amff.explain.png` draws the CLI's PNGs)::

    modality_importance(predictor, data, modalities=None) -> pd.DataFrame
        one row per patient x modality: patient_id, modality, used, weight (the alpha the
        head used; NaN for early fusion, which has none), logit, probability (with every
        used modality), drop_one_logit, drop_one_probability (the prediction with every used
        modality minus the prediction without this one: > 0 = it pushed risk up; 0 for an
        unused modality; NaN when it is the only modality used). From the cached level-1
        output (`Encoded`): a few milliseconds per patient.
    average_importance(frame) -> pd.DataFrame
        the cohort view of `modality_importance`: one row per modality, means over the
        patients that used it.
    attribute(predictor, patient, modality, method="integrated_gradients", modalities=None,
              n_steps=32, image_baseline="mean") -> Attribution
        Captum attributions inside one modality, explaining the fused logit for exactly the
        chosen modality subset. The other used modalities' level-1 vectors are held fixed
        (computed once); only this modality's encoder and pooling, then level 2, are re-run.
        A modality the patient lacks or that is not chosen raises InputError (it had no
        influence, so there is nothing to attribute; its weight is 0).
    attribute_all(predictor, patient, method=..., modalities=None, n_steps=32,
                  image_baseline="mean") -> dict[str, Attribution]
        `attribute` for every used modality, preprocessing and encoding the patient once
        (one patient's preprocessing costs about as much as all four attributions).
    attention_maps(predictor, patient, modalities=None) -> dict[str, AttentionMap]
        the intra-modality pooling attention: "text" per word, "image" a 4x4 grid of cells
        (and upsampled to the input size), read through forward hooks on `attn.attend`.
    explain_patient(predictor, patient, modalities=None, method=..., n_steps=32,
                    top_genes=50, image_baseline="mean") -> dict
        all of the above for one patient, JSON-able (what `python -m amff explain` writes):
        patient_id, model, modalities (used), available, method, prediction {probability,
        logit, label, threshold}, weights {modality: alpha}, drop_one {modality: {logit,
        probability}}, attributions {modality: Attribution.to_dict() or None when unused},
        attention {"text": {labels, weights}, "image": {weights (4x4)}}.

The package, one job per module: `importance` (weights and drop-one), `attribute` (the Captum
methods over a forward function, `METHODS`), `adapters` (per modality: what is attributed,
its baseline and labels; `ADAPTERS`, `adapter_for`), `attention` (pooling attention maps),
`hooks` (the thread-scoped forward hooks and `ATTRIBUTION_LOCK`), `results` (`Attribution`,
`AttentionMap`), `report` (`explain_patient`, `write_explanation`), `png` (drawing only).

Thread safety: a dashboard shares one Predictor across sessions. Attribution and attention
calls are serialised by a module-level lock (`ATTRIBUTION_LOCK`), because they add forward
hooks to the shared model for the duration of a call. Each hook also acts only on the thread
that registered it, so a prediction running meanwhile in another thread (which does not take
the lock) is never altered or recorded. Every hook is removed before a call returns, even on
error; parameters, buffers and train/eval mode are never changed; gradients are taken with
respect to the inputs only, inside `torch.enable_grad()` scoped to the call.
"""

from __future__ import annotations

from amff.explain.adapters import (
    ADAPTERS,
    BASELINES,
    IMAGE_BASELINES,
    LIBRARY_LABEL,
    AttributionAdapter,
    GenericAdapter,
    adapter_for,
    note_words,
)
from amff.explain.attention import attention_maps
from amff.explain.attribute import METHODS, attribute, attribute_all
from amff.explain.hooks import ATTRIBUTION_LOCK
from amff.explain.importance import average_importance, modality_importance
from amff.explain.report import explain_parts, explain_patient, write_explanation
from amff.explain.results import AttentionMap, Attribution

__all__ = [
    "ADAPTERS",
    "ATTRIBUTION_LOCK",
    "BASELINES",
    "IMAGE_BASELINES",
    "LIBRARY_LABEL",
    "METHODS",
    "AttentionMap",
    "Attribution",
    "AttributionAdapter",
    "GenericAdapter",
    "adapter_for",
    "attention_maps",
    "attribute",
    "attribute_all",
    "average_importance",
    "explain_parts",
    "explain_patient",
    "modality_importance",
    "note_words",
    "write_explanation",
]
