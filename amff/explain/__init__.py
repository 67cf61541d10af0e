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
`AttentionMap`), `report` (`explain_patient` and its files), `png` (drawing only).

Thread safety: a dashboard shares one Predictor across sessions. Attribution and attention
calls are serialised by a module-level lock (`ATTRIBUTION_LOCK`), because they add forward
hooks to the shared model for the duration of a call. Each hook also acts only on the thread
that registered it, so a prediction running meanwhile in another thread (which does not take
the lock) is never altered or recorded. Every hook is removed before a call returns, even on
error; parameters, buffers and train/eval mode are never changed; gradients are taken with
respect to the inputs only, inside `torch.enable_grad()` scoped to the call.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from amff.errors import InputError
from amff.explain.adapters import ADAPTERS as ADAPTERS
from amff.explain.adapters import BASELINES, IMAGE_BASELINES, note_words
from amff.explain.adapters import LIBRARY_LABEL as LIBRARY_LABEL
from amff.explain.adapters import AttributionAdapter as AttributionAdapter
from amff.explain.adapters import GenericAdapter as GenericAdapter
from amff.explain.adapters import adapter_for as adapter_for
from amff.explain.attention import attention_maps
from amff.explain.attribute import METHODS, attribute, attribute_all
from amff.explain.hooks import ATTRIBUTION_LOCK
from amff.explain.importance import average_importance, modality_importance
from amff.explain.report import _explain as _explain
from amff.explain.report import explain_patient
from amff.explain.report import write_explanation as write_explanation
from amff.explain.results import AttentionMap, Attribution
from amff.predictor import as_modalities


# -- command line --------------------------------------------------------------------------
def add_cli(subparsers: Any) -> None:
    """`python -m amff explain --checkpoint C --data DIR --patient ID --out DIR`."""
    p = subparsers.add_parser(
        "explain", help="explain one patient's prediction: JSON and four PNG panels"
    )
    p.add_argument("--checkpoint", required=True, help="checkpoint folder")
    p.add_argument("--data", required=True, help="cohort folder that holds the patient")
    p.add_argument("--patient", required=True, help="the patient_id to explain")
    p.add_argument("--out", required=True, help="folder to write (must be new or empty)")
    p.add_argument("--modalities", help="comma-separated subset, e.g. tabular,image (default all)")
    p.add_argument("--method", choices=METHODS, default="integrated_gradients")
    p.add_argument("--steps", type=int, default=32, help="integration steps (default 32)")
    p.add_argument(
        "--image-baseline",
        choices=tuple(IMAGE_BASELINES),
        default="mean",
        help="what the image attributions are measured against (default: the training mean)",
    )
    p.set_defaults(func=_cmd_explain)


def _cmd_explain(args: argparse.Namespace) -> int:
    import amff
    from amff.data.cohort import read_cohort
    from amff.explain_plots import write_panels

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"--out {out}: already exists and is not empty; choose a new folder")
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: folder {out.parent} does not exist; create it first")
    if args.steps < 2:
        raise InputError(f"--steps {args.steps}: use at least 2 integration steps")
    names = None
    if args.modalities:
        names = [part.strip() for part in args.modalities.split(",") if part.strip()]
        try:
            names = [m.value for m in as_modalities(names)]
        except InputError as exc:
            raise InputError(f"--modalities: {exc}") from None
    predictor = amff.load(args.checkpoint)
    cohort = read_cohort(args.data, ids=[args.patient])
    patient = cohort.patient(args.patient)
    result, attributions, attention = _explain(
        predictor, patient, names, args.method, args.steps, 50, args.image_baseline
    )
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
        (staging / "explanation.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
        write_panels(staging, patient, result, attributions, attention)
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    say(f"wrote the explanation of patient {args.patient} to {out}")
    return 0


__all__ = [
    "ATTRIBUTION_LOCK",
    "BASELINES",
    "IMAGE_BASELINES",
    "METHODS",
    "AttentionMap",
    "Attribution",
    "attention_maps",
    "attribute",
    "attribute_all",
    "average_importance",
    "explain_patient",
    "modality_importance",
    "note_words",
]


def say(text: str, error: bool = False) -> None:
    """Command output through the CLI's single writer."""
    from amff.cli import say as cli_say

    cli_say(text, error)
