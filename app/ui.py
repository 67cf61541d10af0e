"""Widget groups shared by the pages (`*_ui()` functions return plain values) and the words
the dashboard uses: short help texts for every term a clinician may not know."""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

import amff
from app import charts, state

DISCLAIMER = "Synthetic patients; not for clinical decisions."

HELP = {
    "risk": (
        "The model's estimate of the probability of the adverse outcome for this patient, "
        "using only the sources switched on."
    ),
    "threshold": (
        "Patients at or above this risk are flagged. It was chosen on validation patients "
        "to balance missed events against false alarms (best F1 score)."
    ),
    "weights": (
        "Modality weights (the model's attention over sources): for this patient, how much "
        "of the final decision rests on each source. They add up to 100% over the sources "
        "used."
    ),
    "drop_one": (
        "The risk with every source switched on minus the risk without this one, in "
        "percentage points. Positive: this source raises the risk; negative: it lowers it."
    ),
    "attribution": (
        "Attribution: how much each value, word, image region or gene moved this patient's "
        "risk score (on the log-odds scale) compared with a neutral reference, such as the "
        "average training patient. Vermillion raises the risk, blue lowers it."
    ),
    "method": (
        "Integrated gradients is the most faithful (recommended). Occlusion removes one "
        "input at a time (slower). Saliency and input x gradient are quick approximations; "
        "saliency shows sensitivity, not direction."
    ),
    "oracle": (
        "The simulator knows every patient's true risk (from the hidden factors that "
        "generated the data). No model can do better than this."
    ),
    "auroc": (
        "AUROC: the chance that a random patient with the event gets a higher risk than a "
        "random patient without it. 0.5 is a coin toss, 1.0 is perfect."
    ),
    "auprc": "AUPRC: the area under the precision-recall curve; higher is better.",
    "f1": (
        "F1 score: balances sensitivity (events caught) and precision (flags that were "
        "right), at the decision threshold. 0 to 1, higher is better."
    ),
    "accuracy": "Accuracy: the share of patients whose flag matched what happened.",
    "brier": "Brier score: the mean squared error of the predicted risk; lower is better.",
    "ece": (
        "Calibration error: the average gap between predicted risk and the observed event "
        "rate; lower is better."
    ),
    "calibration": (
        "Calibration: among patients given about 30% risk, about 30% should have the event. "
        "Points on the dotted line are well calibrated."
    ),
    "ablation": (
        "Ablation: switching sources off for every patient to see how much each one "
        "contributes to the model's accuracy."
    ),
    "out_of_range": (
        "(low) or (high): outside the usual range, i.e. below the 1st or above the 99th "
        "percentile of the training patients."
    ),
}

METHOD_LABELS = {
    "integrated_gradients": "Integrated gradients (recommended)",
    "occlusion": "Occlusion (slower)",
    "saliency": "Saliency (fastest)",
    "input_x_gradient": "Input x gradient (fast)",
}


def modality_toggles_ui(
    available: Iterable[str] | None = None, reasons: dict[str, str] | None = None
) -> tuple[str, ...]:
    """One switch per source. A source in neither `available` nor None is shown disabled,
    switched off, with the reason; the user's choice for it is kept for the next patient.

    Returns the sources switched on that are available.
    """
    have = {m.value for m in amff.MODALITIES} if available is None else set(available)
    reasons = reasons or {}
    columns = st.columns(len(amff.MODALITIES))
    for column, m in zip(columns, amff.MODALITIES):
        with column:
            if m.value in have:
                st.toggle(
                    source_title(m.value),
                    value=True,
                    key=state.toggle_key(m),
                    help=f"Use the {m.label} in the prediction.",
                    persist_state="session",
                )
            else:
                st.toggle(
                    source_title(m.value),
                    value=False,
                    key=f"absent_{m.value}",
                    disabled=True,
                    help=reasons.get(m.value, f"This patient has no {m.label}."),
                )
                st.caption(f"Not available: {reasons.get(m.value, f'no {m.label}')}")
    return tuple(m for m in state.chosen_modalities() if m in have)


def require_model() -> state.CurrentModel | None:
    """The model chosen in the sidebar, loaded; None, after saying how to make one, when no
    checkpoint exists (the page then stops)."""
    current = state.current_model()
    if current is None:
        no_model_ui()
    return current


def no_model_ui() -> None:
    folder = state.checkpoint_dir()
    st.error(
        f"No model found in {folder}. Run `make checkpoint` to train the shipped models, or "
        "set AMFF_CHECKPOINT_DIR to a folder that holds amff-default/."
    )


def no_cohort_ui() -> None:
    st.warning(
        f"The held-out cohort is missing ({state.demo_cohort_dir()}). Run `make checkpoint` "
        "to create it, set AMFF_DEMO_COHORT to a cohort folder, or upload a patient."
    )


feature_label = charts.feature_label  # display names of record features, with units


def source_title(name: str) -> str:
    """'Clinical record', 'RNA-seq': the label with a capital first letter only."""
    label = amff.Modality(name).label
    return label[:1].upper() + label[1:]


def model_label(kind: str) -> str:
    return state.MODEL_KINDS.get(kind, kind)


def modality_label(name: str) -> str:
    return amff.Modality(name).label


def sources_text(names: Iterable[str]) -> str:
    """'clinical record, medical image' (or 'none')."""
    names = list(names)
    return ", ".join(modality_label(n) for n in names) if names else "none"


def md_escape(text: str) -> str:
    """User text made inert for st.markdown (Markdown and HTML characters escaped)."""
    out = []
    for ch in str(text):
        if ch in _HTML_ENTITIES:
            out.append(_HTML_ENTITIES[ch])
        elif ch in _MARKDOWN_SPECIALS:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


_HTML_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_MARKDOWN_SPECIALS = set("\\`*_{}[]()#+-.!|~$:")
