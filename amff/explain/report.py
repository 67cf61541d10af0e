"""One patient, everything: `explain_patient`'s JSON-able dict, and the files written from it
(`write_explanation`: explanation.json and one PNG per modality, what `amff explain` writes)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from amff.data.cohort import Patient
from amff.errors import InputError
from amff.explain.adapters import adapter_for
from amff.explain.attention import _attention_maps
from amff.explain.attribute import _attribute, _check_method, _prepare
from amff.explain.hooks import ATTRIBUTION_LOCK, grad_mode
from amff.explain.importance import modality_importance
from amff.explain.results import AttentionMap, Attribution, jsonable
from amff.predictor import Modalities, Predictor, as_modalities


def explain_patient(
    predictor: Predictor,
    patient: Patient,
    modalities: Modalities = None,
    method: str = "integrated_gradients",
    n_steps: int = 32,
    top_genes: int = 50,
    image_baseline: str = "mean",
) -> dict[str, Any]:
    """Prediction, weights, drop-one, attributions (per used modality) and attention, as a
    JSON-able dict. RNA lists the top_genes genes by |attribution|; the image is a heatmap.

    Keys: patient_id, model, checkpoint, modalities (used), available, method, prediction
    {probability, logit, label, threshold}, weights {modality: alpha}, drop_one {modality:
    {logit, probability}}, attributions {modality: Attribution.to_dict() or None when unused},
    attention {"text": {labels, weights}, "image": {weights (4x4)}}.
    """
    return explain_parts(
        predictor, patient, modalities, method, n_steps, top_genes, image_baseline
    )[0]


def explain_parts(
    predictor: Predictor,
    patient: Patient,
    modalities: Modalities,
    method: str,
    n_steps: int,
    top_genes: int,
    image_baseline: str = "mean",
) -> tuple[dict[str, Any], dict[str, Attribution], dict[str, AttentionMap]]:
    """explain_patient's dict, and the Attribution and AttentionMap objects behind it."""
    _check_method(method, n_steps, image_baseline)
    with ATTRIBUTION_LOCK, grad_mode():
        prepared = _prepare(predictor, patient, modalities, image_baseline)
        names = prepared.names
        if not names:
            chosen = as_modalities(modalities, predictor.modalities)
            raise InputError(
                f"patient {patient.patient_id!r} has none of the chosen modalities "
                f"({', '.join(m.value for m in chosen)}); it has "
                f"{', '.join(m.value for m in patient.modalities) or 'none'}"
            )
        frame = modality_importance(predictor, prepared.encoded(), names)
        attributions = {
            m.value: _attribute(predictor, prepared, m, method, n_steps)
            for m in predictor.modalities
            if m.value in names
        }
        attention = _attention_maps(predictor, prepared)
    frame = frame.set_index("modality")
    first = frame.iloc[0]
    result: dict[str, Any] = {
        "patient_id": patient.patient_id,
        "model": predictor.kind,
        "checkpoint": None if predictor.path is None else str(predictor.path),
        "modalities": names,
        "available": [m.value for m in patient.modalities],
        "method": method,
        "prediction": {
            "probability": float(first["probability"]),
            "logit": float(first["logit"]),
            "label": int(first["probability"] >= predictor.threshold),
            "threshold": predictor.threshold,
        },
        "weights": {m.value: float(frame.loc[m.value, "weight"]) for m in predictor.modalities},
        "drop_one": {
            m.value: {
                "logit": float(frame.loc[m.value, "drop_one_logit"]),
                "probability": float(frame.loc[m.value, "drop_one_probability"]),
            }
            for m in predictor.modalities
        },
        "attributions": {
            m.value: (
                attributions[m.value].to_dict(top_genes if adapter_for(m.value).top_only else None)
                if m.value in attributions
                else None
            )
            for m in predictor.modalities
        },
        "attention": {name: found.to_dict() for name, found in attention.items()},
    }
    return jsonable(result), attributions, attention


def write_explanation(
    out: Path,
    patient: Patient,
    result: dict[str, Any],
    attributions: dict[str, Attribution],
    attention: dict[str, AttentionMap],
) -> None:
    """Write explanation.json and the PNG panels into out, all or nothing.

    out must be new or an empty folder, in an existing folder (the caller checks, to fail
    before any work); the files are written to a staging folder beside it, then renamed.
    """
    from amff.explain.png import write_panels

    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
        (staging / "explanation.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
        write_panels(staging, patient, result, attributions, attention)
        if out.exists():
            out.rmdir()  # empty (checked by the caller)
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
