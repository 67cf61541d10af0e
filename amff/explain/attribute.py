"""Captum attributions inside one modality, explaining the fused logit.

One verb over any forward function, as in Captum: a modality's adapter (`adapters.py`) turns
the patient into a `Problem` (forward function, input, baseline, labels); `_captum` runs one
method on it and `_reduce` adds the elements up per label. The other used modalities' level-1
vectors are held fixed (computed once); only this modality's encoder and pooling, then level
2, are re-run.

Methods (`METHODS`): "integrated_gradients" (Captum IntegratedGradients, Gauss-Legendre, the
n_steps in one batched forward, with Captum's convergence delta: attributions sum to
logit - baseline_logit + delta), "occlusion" (each feature, word or gene set to its baseline,
one at a time: Captum FeatureAblation; the image: Captum Occlusion with a window of 1/8 of the
side and half that stride), "saliency" (|gradient|) and "input_x_gradient" (cheap options).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from amff.data.cohort import Patient
from amff.data.dataset import Batch
from amff.errors import InputError
from amff.explain.adapters import (
    IMAGE_BASELINES,
    AttributionAdapter,
    Context,
    Problem,
    adapter_for,
    encoders_of,
)
from amff.explain.hooks import ATTRIBUTION_LOCK, grad_mode
from amff.explain.results import Attribution
from amff.modalities import Modality
from amff.predictor import Encoded, Modalities, Predictor, as_modalities

METHODS: tuple[str, ...] = ("integrated_gradients", "occlusion", "saliency", "input_x_gradient")
ABLATION_PER_EVAL = 64  # perturbed copies per forward for occlusion


def attribute(
    predictor: Predictor,
    patient: Patient,
    modality: Modality | str,
    method: str = "integrated_gradients",
    modalities: Modalities = None,
    n_steps: int = 32,
    image_baseline: str = "mean",
) -> Attribution:
    """Captum attributions inside one modality of one patient, for exactly the chosen
    modality subset. A modality the patient lacks or that is not chosen raises InputError (it
    had no influence, so there is nothing to attribute; its weight is 0).

    image_baseline: "mean" (default), "black" or "blur" (see IMAGE_BASELINES).
    """
    modality = _one_modality(modality, predictor)
    _check_method(method, n_steps, image_baseline)
    with ATTRIBUTION_LOCK, grad_mode():
        prepared = _prepare(predictor, patient, modalities, image_baseline)
        return _attribute(predictor, prepared, modality, method, n_steps)


def attribute_all(
    predictor: Predictor,
    patient: Patient,
    method: str = "integrated_gradients",
    modalities: Modalities = None,
    n_steps: int = 32,
    image_baseline: str = "mean",
) -> dict[str, Attribution]:
    """`attribute` for every modality the patient has among those chosen, preparing the
    patient once (what a dashboard panel wants): {modality name: Attribution}."""
    _check_method(method, n_steps, image_baseline)
    with ATTRIBUTION_LOCK, grad_mode():
        prepared = _prepare(predictor, patient, modalities, image_baseline)
        return {
            m.value: _attribute(predictor, prepared, m, method, n_steps)
            for m in predictor.modalities
            if m.value in prepared.names
        }


# -- one patient, prepared once ------------------------------------------------------------
@dataclass
class _Prepared:
    """One patient, preprocessed and encoded once, for any number of modality explanations."""

    patient: Patient
    batch: Batch  # one row, note padding trimmed
    h: Tensor  # (1, M, D): level 1, held fixed while one modality is explained
    used: Tensor  # (1, M) bool: present, readable by the model, and chosen
    modalities: tuple[Modality, ...]  # the model's, in the order of h's columns
    image_baseline: str = "mean"

    @property
    def names(self) -> list[str]:
        return [m.value for j, m in enumerate(self.modalities) if bool(self.used[0, j])]

    def encoded(self) -> Encoded:
        return Encoded([self.patient.patient_id], self.h, self.batch.present.clone(), None)


def _prepare(
    predictor: Predictor, patient: Patient, modalities: Modalities, image_baseline: str = "mean"
) -> _Prepared:
    """Preprocess and encode one patient once (the costly, shared part of every call)."""
    if not isinstance(patient, Patient):
        raise InputError(
            f"expected a Patient, got {type(patient).__name__}; use cohort.patient(patient_id)"
        )
    chosen = as_modalities(modalities, predictor.modalities)
    batch = predictor.batch(predictor.one_patient_cohort(patient)).trim()
    with torch.inference_mode():
        h = predictor.model.encode(batch)  # (1, M, D)
    selected = torch.tensor([[m in chosen for m in predictor.modalities]], dtype=torch.bool)
    # a clone made outside inference mode is an ordinary tensor, usable under autograd
    with torch.inference_mode(False):
        h = h.clone()
    used = batch.present & selected
    return _Prepared(patient, batch, h, used, predictor.modalities, image_baseline)


def _context(predictor: Predictor, prepared: _Prepared, modality: Modality) -> Context:
    """What the modality's adapter needs; its column j is its place among the model's."""
    return Context(
        predictor=predictor,
        patient=prepared.patient,
        modality=modality,
        j=prepared.modalities.index(modality),
        encoders=encoders_of(predictor.model, modality.value),
        raw=prepared.batch.inputs(modality),
        h=prepared.h,
        used=prepared.used,
        baseline_kind=prepared.image_baseline,
    )


def _one_modality(modality: Modality | str, predictor: Predictor) -> Modality:
    return as_modalities([modality], predictor.modalities)[0]


def _check_method(method: str, n_steps: int, image_baseline: str = "mean") -> None:
    if method not in METHODS:
        raise InputError(f"unknown attribution method {method!r}; use one of {', '.join(METHODS)}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 2:
        raise InputError(f"n_steps must be a whole number of at least 2, got {n_steps!r}")
    if image_baseline not in IMAGE_BASELINES:
        raise InputError(
            f"unknown image baseline {image_baseline!r}; use one of {', '.join(IMAGE_BASELINES)}"
        )


def _check_used(prepared: _Prepared, modality: Modality) -> None:
    """InputError when the modality is absent or not chosen: it had no influence."""
    j = prepared.modalities.index(modality)
    if bool(prepared.used[0, j]):
        return
    reason = (
        "is not among the chosen modalities"
        if bool(prepared.batch.present[0, j])
        else "is absent for this patient"
    )
    raise InputError(
        f"patient {prepared.patient.patient_id!r}: the {modality.value} modality {reason}, so "
        "it had no influence on the prediction and has nothing to attribute; choose one of "
        f"{', '.join(prepared.names)}"
    )


# -- Captum over a problem -----------------------------------------------------------------
def _attribute(
    predictor: Predictor,
    prepared: _Prepared,
    modality: Modality,
    method: str,
    n_steps: int,
    adapter: AttributionAdapter | None = None,
) -> Attribution:
    """One modality's attributions; adapter: the modality's own unless given."""
    adapter = adapter_for(modality.value) if adapter is None else adapter
    with torch.inference_mode(False), torch.enable_grad():
        _check_used(prepared, modality)
        context = _context(predictor, prepared, modality)
        problem = adapter.problem(context)
        with torch.no_grad():
            both = problem.run(torch.cat([problem.x, problem.baseline]))  # (2,)
        logit, baseline_logit = float(both[0]), float(both[1])
        raw, delta = _captum(problem, method, n_steps, adapter.window_occlusion)
    values = _reduce(raw, problem.groups, len(problem.labels), method, adapter.keeps_shape)
    return Attribution(
        modality=modality.value,
        method=method,
        labels=problem.labels,
        values=values,
        inputs=problem.inputs,
        delta=delta,
        logit=logit,
        baseline_logit=baseline_logit,
        baseline=adapter.baseline_text(context),
        extra=problem.extra,
    )


def _captum(
    problem: Problem, method: str, n_steps: int, window_occlusion: bool = False
) -> tuple[np.ndarray, float | None]:
    """Run one Captum method; the attributions in the shape of x[0], and the IG delta.

    window_occlusion: "occlusion" slides a window over the last two axes (Captum Occlusion)
    instead of setting each group of elements to its baseline (Captum FeatureAblation).
    """
    from captum.attr import (
        FeatureAblation,
        InputXGradient,
        IntegratedGradients,
        Occlusion,
        Saliency,
    )

    x, baseline, delta = problem.x.clone().requires_grad_(), problem.baseline, None
    if method == "integrated_gradients":
        attr, deltas = IntegratedGradients(problem.run).attribute(
            x,
            baselines=baseline,
            n_steps=n_steps,
            internal_batch_size=n_steps,
            return_convergence_delta=True,
        )
        delta = float(deltas.sum())
    elif method == "saliency":
        attr = Saliency(problem.run).attribute(x, abs=True)
    elif method == "input_x_gradient":
        attr = InputXGradient(problem.run).attribute(x)
    elif window_occlusion:
        side = x.shape[-1]
        window = max(1, side // 8)
        stride = max(1, window // 2)
        attr = Occlusion(problem.run).attribute(
            x,
            sliding_window_shapes=(1, window, window),
            strides=(1, stride, stride),
            baselines=baseline,
            perturbations_per_eval=ABLATION_PER_EVAL,
        )
    else:
        n_labels = len(problem.labels)
        mask = np.where(problem.groups < 0, n_labels, problem.groups)
        attr = FeatureAblation(problem.run).attribute(
            x,
            baselines=baseline,
            feature_mask=torch.as_tensor(mask[None], dtype=torch.long),
            perturbations_per_eval=ABLATION_PER_EVAL,
        )
    return attr.detach()[0].double().numpy(), delta


def _reduce(
    raw: np.ndarray, groups: np.ndarray, n_labels: int, method: str, keeps_shape: bool = False
) -> np.ndarray:
    """Elements -> labels: gradient methods add up a label's elements (so IG stays complete);
    ablation gives every element of a group the group's effect, so it takes one of them.
    keeps_shape: no labels, the attributions keep the input's last two axes (a heatmap)."""
    if keeps_shape:
        return raw.reshape(raw.shape[-2:])  # (S, S)
    keep = groups.ravel() >= 0
    index, flat = groups.ravel()[keep], raw.ravel()[keep]
    total = np.bincount(index, weights=flat, minlength=n_labels)
    if method == "occlusion":
        return total / np.maximum(np.bincount(index, minlength=n_labels), 1)
    return total
