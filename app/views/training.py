"""Training and experiments: how the loaded model learned, and the paper's reproduction."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

import amff
from app import charts, state, ui

log = logging.getLogger(__name__)

TABLE_METRICS = {"auroc": "AUROC", "f1": "F1", "accuracy": "Accuracy"}


def training_curves_ui(model: Any, kind: str) -> None:
    history = list(model.history)
    if not history:
        st.info("This checkpoint has no training history.")
        return
    members = sorted({str(r["member"]) for r in history if "member" in r})
    epochs = max(int(r.get("epoch", 0)) for r in history)
    text = f"{ui.model_label(kind)}: {epochs} epochs"
    if members:
        text += (
            "; late fusion trains one model per source, so each source has its own curves ("
            + ", ".join(amff.Modality(m).label for m in members if m in amff.NAMES)
            + ")"
        )
    st.caption(text + ". Dashed: training patients; solid: validation patients (20% held back).")
    top = st.columns(2)
    bottom = st.columns(2)
    for column, metric in zip(top + bottom, charts.HISTORY_METRICS):
        column.plotly_chart(
            charts.history_figure(history, metric),
            key=f"history_{metric}",
            config={"displayModeBar": False},
        )


def held_out_ui(model: Any) -> None:
    found = model.metrics or {}
    subsets = found.get("subsets")
    if not subsets:
        st.caption("No held-out metrics stored with this checkpoint.")
        return
    every = found.get("all", {})
    columns = st.columns(4)
    for column, key in zip(columns, ("auroc", "f1", "accuracy")):
        if key in every:
            column.metric(TABLE_METRICS[key], f"{every[key]:.3f}", help=ui.HELP[key], border=True)
    if found.get("bayes_auroc") is not None:
        columns[3].metric(
            "Oracle AUROC",
            f"{found['bayes_auroc']:.3f}",
            help=ui.HELP["oracle"],
            border=True,
        )
    table = pd.DataFrame(subsets).T
    table.index = [
        " + ".join(amff.Modality(p).label for p in name.split("+")) for name in table.index
    ]
    keep = [c for c in ("auroc", "auprc", "f1", "accuracy", "brier", "n") if c in table.columns]
    shown = table[keep].rename(
        columns={
            "auroc": "AUROC",
            "auprc": "AUPRC",
            "f1": "F1",
            "accuracy": "Accuracy",
            "brier": "Brier",
            "n": "Patients",
        }
    )
    with st.expander(f"Every combination of sources ({len(shown)} rows)"):
        st.dataframe(
            shown.style.format({c: "{:.3f}" for c in shown.columns if c != "Patients"}),
            width="stretch",
        )
    n = found.get("n")
    if n:
        st.caption(f"Held-out simulated patients: {n:,}, never seen in training or validation.")


def fusion_table(results: dict[str, Any]) -> pd.DataFrame:
    """Table 1: ours (mean +- sd over seeds) beside the paper's numbers."""
    section = results.get("sim3") or {}
    rows = section.get("rows") or {}
    paper = section.get("paper") or amff.PAPER_TABLE1
    out = []
    for method in ("early", "late", "amff"):
        row = rows.get(method, {})
        entry = {"Method": row.get("label") or ui.model_label(method)}
        for key, label in TABLE_METRICS.items():
            ours = row.get(key)
            if isinstance(ours, dict):
                sd = ours.get("sd")
                entry[f"{label} (ours)"] = f"{ours.get('mean', float('nan')):.3f}" + (
                    f" ± {sd:.3f}" if isinstance(sd, float) and sd == sd else ""
                )
            else:
                entry[f"{label} (ours)"] = "not run" if ours is None else f"{float(ours):.3f}"
            entry[f"{label} (paper)"] = f"{paper.get(method, {}).get(key, float('nan')):.3f}"
        out.append(entry)
    return pd.DataFrame(out)


def experiments_ui() -> None:
    folder = state.results_dir()
    found = state.results_listing(str(folder))
    results = found["results"]
    if results is None:
        st.info(
            "The reproduction has not been run on this machine yet. `make reproduce` reruns "
            "the paper's simulations and ours (about an hour on 2 cores) and writes the "
            f"results, figures and a report to {folder}; this page shows them when they exist."
        )
        st.markdown("**The paper's Table 1** (for reference):")
        paper = pd.DataFrame(amff.PAPER_TABLE1).T.rename(columns=TABLE_METRICS)
        paper.index = [ui.model_label(k) for k in paper.index]
        st.dataframe(paper.style.format("{:.3f}"), width="stretch")
        return
    meta = results.get("meta") or {}
    st.caption(
        "Profile: "
        + str(meta.get("profile", "unknown"))
        + (f", {len(meta.get('seeds', []))} seeds" if meta.get("seeds") else "")
        + ". Ours: mean ± standard deviation over seeds."
    )
    st.markdown("**Table 1: fusion strategies, ours beside the paper's**")
    st.dataframe(fusion_table(results), hide_index=True, width="stretch")
    claims = results.get("claims")
    if isinstance(claims, list) and claims:
        st.markdown("**The paper's claims, checked**")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Claim": c.get("paper", ""),
                        "Verdict": c.get("verdict", ""),
                        "Evidence": c.get("evidence", ""),
                    }
                    for c in claims
                    if isinstance(c, dict)
                ]
            ),
            hide_index=True,
            width="stretch",
            column_config={
                "Claim": st.column_config.TextColumn(width="large"),
                "Verdict": st.column_config.TextColumn(width="small"),
                "Evidence": st.column_config.TextColumn(width="large"),
            },
        )
    figures_ui(results, found["png"])
    if found["reproduction"]:
        with st.expander("REPRODUCTION.md: the full report"):
            st.markdown(found["reproduction"])


def figures_ui(results: dict[str, Any], pngs: list[str]) -> None:
    """The reproduction's figures, interactive when amff.figures can draw them, else PNGs."""
    specs = []
    figures = amff.figures  # outside the try: a broken import must fail loudly, not fall back
    try:
        specs = figures.build_all(results)
    except Exception:  # an incomplete results.json: fall back to the PNGs on disk
        log.warning("could not rebuild the reproduction figures; showing the PNGs", exc_info=True)
    if specs:
        for spec in specs:  # each figure carries its own title
            st.plotly_chart(amff.figures.to_plotly(spec), key=f"figure_{spec.name}")
            if getattr(spec, "caption", ""):
                st.caption(spec.caption)
        return
    for png in pngs:
        st.image(png, caption=Path(png).stem.replace("_", " "))


def training_page() -> None:
    current = ui.require_model()
    if current is None:
        return
    st.title("Training and experiments")
    st.subheader("How the loaded model learned")
    training_curves_ui(current.model, current.kind)
    st.subheader("Held-out results of the loaded model")
    held_out_ui(current.model)
    st.subheader("Reproducing the paper")
    experiments_ui()


training_page()
