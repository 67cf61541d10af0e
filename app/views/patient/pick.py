"""Choosing a held-out patient: by id, at random, or among the hard cases."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

import amff
from app import state


def _set_patient(patient_id: str) -> None:
    st.session_state["patient_id"] = patient_id


def _random_patient(ids: list[str]) -> None:
    current = st.session_state.get("patient_id")
    _set_patient(random.choice([i for i in ids if i != current] or ids))


def _pick_hard_case(key: str) -> None:
    chosen = st.session_state.get(key)
    if chosen:
        _set_patient(chosen)
    st.session_state[key] = None


@dataclass
class Chosen:
    """The patient on show: its data, the cache key of that data, what is known to be true,
    and (held-out cohort only) the two slots where the hard-case lists go."""

    patient: amff.Patient
    key: str
    truth: dict[str, Any]
    hard_case_slots: tuple[Any, Any] | None = None


def synthetic_patient_ui(cohort_path: str) -> Chosen:
    """Patient id box, a random button and two hard-case lists (filled in at the end of the
    run, so the first prediction does not wait for the whole cohort to be scored)."""
    index = state.cohort_index(cohort_path)
    if st.session_state.get("patient_id") not in index.ids:
        st.session_state["patient_id"] = index.ids[0]
    pick, lucky, wrong, near = st.columns([2, 1, 2, 2], vertical_alignment="bottom")
    pick.selectbox(
        "Patient id",
        index.ids,
        key="patient_id",
        help="A simulated patient from the held-out cohort (never seen in training).",
        persist_state="session",
    )
    lucky.button(
        "Random",
        help="Show a patient drawn at random from the held-out cohort.",
        icon=":material/casino:",
        on_click=_random_patient,
        args=(index.ids,),
        width="stretch",
    )
    patient_id = st.session_state["patient_id"]
    patient = state.demo_patient(cohort_path, patient_id)
    truth = {
        "patient_id": patient_id,
        "label": index.labels.get(patient_id),
        "p_true": index.p_true.get(patient_id),
        "synthetic": True,
    }
    return Chosen(patient, f"demo:{cohort_path}:{patient_id}", truth, (wrong.empty(), near.empty()))


def hard_cases_ui(
    slots: tuple[Any, Any], model_path: str, cohort_path: str, threshold: float
) -> None:
    """The two hard-case lists, in the slots reserved by synthetic_patient_ui."""
    cases = state.hard_cases(model_path, cohort_path)

    def describe(frame: pd.DataFrame, what: str) -> dict[str, str]:
        out = {}
        for row in frame.itertuples():
            outcome = "event" if row.label == 1 else "no event"
            out[row.patient_id] = f"{row.patient_id}: risk {100 * row.probability:.0f}%, {outcome}"
        return out

    for slot, name, title, help_text in (
        (
            slots[0],
            "misclassified",
            "Misclassified",
            f"The {state.HARD_CASES} patients the model gets most confidently wrong at the "
            f"threshold, using every source ({len(cases['misclassified'])} are wrong in all).",
        ),
        (
            slots[1],
            "near",
            "Near the threshold",
            f"The {state.HARD_CASES} patients whose risk (using every source) is closest to "
            f"the {100 * threshold:.0f}% threshold, where a small change flips the flag.",
        ),
    ):
        labels = describe(cases[name].head(state.HARD_CASES), name)
        key = f"hard_{name}"
        slot.selectbox(
            title,
            list(labels),
            index=None,
            format_func=labels.get,
            placeholder="Choose a patient...",
            key=key,
            on_change=_pick_hard_case,
            args=(key,),
            help=help_text,
        )
