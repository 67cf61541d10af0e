"""Model card: what the model is, what it learned from, what it is for and what it is not."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app import charts, state, ui


def facts_ui(model: Any, kind: str) -> None:
    config = model.config
    train = config.get("train_config") or config.get("train") or {}
    left, right = st.columns(2)
    left.markdown(
        f"""
- **Model:** {ui.model_label(kind)} (`{kind}`)
- **Decision threshold:** {100 * model.threshold:.1f}% (chosen on validation patients)
- **Clinical record:** {len(model.features)} features
- **Medical image:** {model.image_size} x {model.image_size} pixels, grayscale
- **RNA-seq:** {len(model.genes):,} of {len(model.library_genes):,} genes read by the model
  (raw counts, made log-CPM over all of them)
"""
    )
    found = model.metrics or {}
    every = found.get("all") or {}
    lines = []
    if every:
        lines.append(
            f"- **Held-out AUROC:** {every.get('auroc', float('nan')):.3f} on "
            f"{found.get('n', 0):,} simulated patients (all sources)"
        )
    if found.get("bayes_auroc") is not None:
        lines.append(f"- **Best possible AUROC (oracle):** {found['bayes_auroc']:.3f}")
    if isinstance(train, dict) and train.get("epochs"):
        lines.append(f"- **Training budget:** up to {train['epochs']} epochs, early stopping")
    lines.append(f"- **Checkpoint:** `{str(model.path).replace('`', '')}`")
    right.markdown("\n".join(lines))


def model_card_page() -> None:
    st.title("Model card")
    st.error(
        "**The shipped model learned from synthetic patients only. It is a research and "
        "teaching tool and is not for clinical decisions.**",
        icon=":material/block:",
    )
    st.subheader("Architecture")
    st.graphviz_chart(charts.architecture_dot(), width="stretch")
    st.markdown(
        """
AMFF-HT (adaptive multimodal fusion with hierarchical transformers) reads up to four
sources per patient and works in two levels:

1. **Within each source**, an encoder turns the input into tokens (words, image regions,
   groups of genes), and attention pooling keeps one summary vector per source. Its
   attention says which words or regions mattered.
2. **Across sources**, each summary attends to the others (cross-modal attention), and the
   model gives every source a weight for this patient (the *modality weights*, adding up to
   100%). A missing source is masked out: it gets no weight and has no influence.

The classifier head reads the weighted summaries and gives one risk. Switching a source off
in the dashboard reruns only the second level, so the answer comes back at once.
"""
    )
    st.subheader("Data")
    st.markdown(
        """
- **Training data:** 2,000 **simulated** patients (the project's simulator), 20% of them held
  back for validation; the held-out test set is another 4,000 simulated patients, of whom the
  first 600 are the dashboard's cohort.
- **How patients are simulated:** hidden factors (severity, frailty, goals of care, lesion
  burden, a high-risk RNA subtype, and an image pattern that only matters together with an
  RNA programme) drive the outcome. Each source sees some of them, with noise; some readings
  are of poor quality, and some sources are missing.
- **Sources:** ICU-style vitals and labs; SOAP-style notes; 64 x 64 chest-like phantom
  images; negative-binomial RNA-seq counts.
- Because the simulator knows each patient's true risk, the dashboard can show the best
  achievable result (the *oracle*) beside the model's.
"""
    )
    st.subheader("Intended use")
    st.markdown(
        """
- Exploring how adaptive multimodal fusion behaves: which sources it relies on, how the
  prediction changes when a source is missing, and how attributions explain it.
- Teaching and workshop demonstrations; research on fusion methods with your own cohorts
  (train with `python -m amff train`).
"""
    )
    st.subheader("Limits")
    st.markdown(
        """
- **Not for clinical decisions.** The model has never seen a real patient; its numbers say
  nothing about real patients.
- The outcome, the features and the notes are simulated; patterns that hold here need not
  hold in any real population.
- Attributions explain the model, not the disease: they show what moved this model's score.
- Uploaded patients are scored against the training features, genes and image size; values
  far outside the training range are flagged, but the model may still be unreliable there.
"""
    )
    current = state.current_model()
    if current is not None:
        st.subheader("This checkpoint")
        facts_ui(current.model, current.kind)


model_card_page()
