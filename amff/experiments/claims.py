"""The paper's claims, one by one, as a table: each with what the paper says, the test, the
rule and the numbers of results.json it judges. `all_claims` evaluates the table.

The rules are in verdicts.py (and stated again in REPRODUCTION.md); a section that was not run
gives **not run**.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from amff.experiments.paper import paper_number as p
from amff.experiments.verdicts import (
    FAILS,
    HOLDS,
    NOT_RUN,
    PARTLY,
    VERDICTS,
    Claim,
    ClaimDef,
    PartDef,
    Section,
    all_of,
    below,
    each,
    equivalent,
    greater,
    less,
    under,
    within,
)

RULE_GREATER = "holds if the 95% interval of the mean paired difference is above 0"
RULE_LESS = "holds if the 95% interval of the mean paired difference is below 0"
RULE_ALL = "every part must hold (partly: some parts hold or are partly true)"
GREATER_ALL = f"{RULE_GREATER}; {RULE_ALL}"
BASELINES = ("early", "late")


# -- evidence that is not a judged part ------------------------------------------------------
def bootstrap_note(pair: str, text: str) -> Callable[[Section], str]:
    """The test-patient bootstrap of an AUROC difference in sim3 ('amff-vs-early')."""

    def note(sec: Section) -> str:
        b = sec["differences"][pair]["auroc_bootstrap"]
        return text.format(f"{b['difference']:+.3f} [{b['low']:+.3f}, {b['high']:+.3f}]")

    return note


def best_single_note(sec: Section) -> str:
    top = sec["amff_single"]["top_by_metric"]
    return "Best single modality by mean: " + ", ".join(f"{k} {v}" for k, v in top.items())


def no_single_best(sec: Section) -> str:
    """C2e's verdict: a ranking of means, no interval."""
    return HOLDS if len(set(sec["amff_single"]["top_by_metric"].values())) > 1 else FAILS


def other_weights_note(sec: Section) -> str:
    table = sec["methods"]["amff"]
    others = ", ".join(
        f"{m} {table[m]['poor_minus_good']['mean']:+.3f}" for m in table if m != "image"
    )
    return f"Other modalities (poor - good, mean): {others}."


def _sim3_versus(cid: str, metric: str, bases: tuple[str, ...], paper: str) -> ClaimDef:
    """C3a-C3d: AMFF-HT minus each baseline on one metric of Table 1."""
    name = "AUROC" if metric == "auroc" else metric.capitalize()
    return ClaimDef(
        cid,
        "sim3",
        "Table 1",
        paper,
        f"{name} of AMFF-HT minus each baseline on the held-out cohort, paired over seeds.",
        RULE_GREATER if len(bases) == 1 else GREATER_ALL,
        each(bases, "AMFF-HT - {name}", f"differences/amff-vs-{{name}}/{metric}", unit=metric),
        note=bootstrap_note(f"amff-vs-{bases[0]}", f"Test-patient bootstrap vs {bases[0]}: {{}}. ")
        if metric == "auroc"
        else None,
    )


def _gains(scenario: str, versus: str) -> tuple[PartDef, ...]:
    """C5a, C5b: a gain over each baseline first, then a larger gain than at `versus`."""
    gains = each(BASELINES, "gain over {name}", f"scenarios/{scenario}/amff_minus/{{name}}")
    larger = each(
        BASELINES,
        f"gain over {{name}} minus at {versus}",
        f"gain_differences/{scenario}-vs-{versus}/{{name}}",
    )
    return gains + larger


PAPER_CLAIMS: tuple[ClaimDef, ...] = (
    # -- Simulation 1 ------------------------------------------------------------------------
    ClaimDef(
        "C1a",
        "sim1",
        "Fig 2, section 4",
        "AMFF-HT presents a stable and monotonous convergence.",
        "Largest epoch-to-epoch fall of the validation AUROC up to the best epoch, mean over "
        "seeds.",
        "holds if the 95% upper end of the mean largest fall is below 0.02 AUROC; partly if "
        "the mean is",
        (PartDef("largest fall", "summary/largest_auroc_fall", under(0.02)),),
    ),
    ClaimDef(
        "C1b",
        "sim1",
        "Fig 2, section 4",
        "The AUC stabilises in the early stage, before the F1-score fully converges.",
        "Epoch at which the validation F1 (at probability 0.5, as logged each epoch) first "
        "comes within 0.01 of its best, minus the same epoch for the validation AUROC, paired "
        "over seeds.",
        RULE_GREATER,
        (
            PartDef(
                "F1 minus AUROC stabilisation epoch",
                "summary/f1_minus_auroc_stable_epoch",
                unit="epochs",
            ),
        ),
    ),
    ClaimDef(
        "C1c",
        "sim1",
        "Fig 2, section 4",
        "The difference between the training and validation losses was small, indicating "
        "mild overfitting.",
        "Relative gap (validation loss - training loss) / training loss at the best epoch, "
        "mean over seeds. The training loss is measured with dropout and modality masking on.",
        "holds if the 95% interval lies within +-0.10; partly if it covers 0",
        (
            PartDef(
                "(val - train loss) / train loss",
                "summary/relative_loss_gap",
                within(0.10),
                "ratio",
            ),
        ),
    ),
    # -- Simulation 2 ------------------------------------------------------------------------
    ClaimDef(
        "C2a",
        "sim2",
        "Fig 3, section 4",
        "With one modality on at test time, the AUC for imaging features is the highest.",
        "AUROC of AMFF-HT with only the image on, minus that with only the next-best modality "
        "on, paired over seeds.",
        RULE_GREATER,
        (
            PartDef(
                "image - {runner_up} (AMFF-HT, one modality on)",
                "amff_single/image_minus_runner_up_auroc",
            ),
        ),
    ),
    ClaimDef(
        "C2b",
        "sim2",
        "Fig 3, section 4",
        "F1-scores are lower for imaging; the clinical text and tabular descriptors increase F1.",
        "F1 (at each subset's validation threshold) of AMFF-HT with only the image on, minus "
        "F1 with only the record, and only the note, on; paired over seeds.",
        f"{RULE_LESS}; {RULE_ALL}",
        each(
            ("tabular", "text"),
            "F1 image - {name}",
            "amff_single/image_minus_{name}_f1",
            judge=less,
            unit="F1",
        ),
    ),
    ClaimDef(
        "C2c",
        "sim2",
        "section 4 (Table 1 discussion), conclusion",
        "Each modality conveys complementary information; combining them beats any single one.",
        "AUROC of AMFF-HT with all modalities minus with the best single modality on, on the "
        "patients who have that modality, paired over seeds.",
        RULE_GREATER,
        (PartDef("all four - {best_single} alone", "all_minus_best_single_auroc"),),
    ),
    ClaimDef(
        "C2d",
        "sim2",
        "Fig 3, section 4",
        "Embedding RNA-seq (albeit noisy) increases minority-class sensitivity.",
        "Recall of AMFF-HT with all four modalities minus with tabular+text+image, each at its "
        "validation threshold, on patients with RNA-seq; paired over seeds.",
        RULE_GREATER,
        (PartDef("recall, all four - without RNA-seq", "rna_recall_gain", unit="recall"),),
    ),
    ClaimDef(
        "C2e",
        "sim2",
        "conclusion",
        "No single modality consistently dominates across metrics.",
        "Which single modality (AMFF-HT, one modality on) has the best mean AUROC, F1 and "
        "accuracy.",
        "holds if the best modality is not the same for all three metrics (a ranking of "
        "means, no interval)",
        note=best_single_note,
        verdict=no_single_best,
    ),
    # -- Simulation 3 ------------------------------------------------------------------------
    _sim3_versus(
        "C3a",
        "auroc",
        ("early",),
        f"AMFF-HT beats early fusion on AUC ({p('amff', 'auroc')} vs {p('early', 'auroc')}).",
    ),
    _sim3_versus(
        "C3b",
        "auroc",
        ("late",),
        f"AMFF-HT beats late fusion on AUC ({p('amff', 'auroc')} vs {p('late', 'auroc')}).",
    ),
    _sim3_versus(
        "C3c",
        "f1",
        BASELINES,
        f"AMFF-HT beats early and late fusion on F1 ({p('amff', 'f1')} vs {p('early', 'f1')} "
        f"and {p('late', 'f1')}).",
    ),
    _sim3_versus(
        "C3d",
        "accuracy",
        BASELINES,
        f"AMFF-HT beats early and late fusion on accuracy ({p('amff', 'accuracy')} vs "
        f"{p('early', 'accuracy')} and {p('late', 'accuracy')}).",
    ),
    ClaimDef(
        "C3e",
        "sim3",
        "Table 1, section 4",
        f"Late fusion worked worse than early fusion (AUC {p('late', 'auroc')} vs "
        f"{p('early', 'auroc')}).",
        "AUROC of early minus late fusion, paired over seeds.",
        RULE_GREATER,
        (PartDef("early - late", "differences/early-vs-late/auroc"),),
        note=bootstrap_note("early-vs-late", "Test-patient bootstrap: {}."),
    ),
    ClaimDef(
        "C3f",
        "sim3",
        "sections 3.2-3.4 (the paper runs no ablation)",
        "Cross-modal attention, adaptive modality weighting and modality masking each "
        "contribute to the performance.",
        "AUROC of AMFF-HT minus each ablation (no cross-attention, mean pooling, no modality "
        "masking), paired over seeds.",
        GREATER_ALL,
        each(
            ("no-cross-attention", "mean-pooling", "no-masking"),
            "AMFF-HT - {name}",
            "differences/amff-vs-amff-{name}/auroc",
        ),
    ),
    # -- Simulation 4 ------------------------------------------------------------------------
    ClaimDef(
        "C4a",
        "sim4",
        "Fig 4, section 4",
        "AMFF-HT benefits from more patients: AUC increases with 2,000 rather than fewer.",
        "AUROC of AMFF-HT at the main N minus at the smallest N (seed k with seed k).",
        RULE_GREATER,
        (PartDef("AMFF-HT, N={n_main} - N={small}", "auroc_growth/amff/{n_main}-vs-{small}"),),
    ),
    ClaimDef(
        "C4b",
        "sim4",
        "Fig 4, section 4",
        "From 1,200 samples the metrics reach a plateau and show no further improvement.",
        "AUROC of AMFF-HT at the main N minus at the next smaller N.",
        "holds if the 95% interval lies within +-0.01 AUROC; partly if it covers 0",
        (
            PartDef(
                "AMFF-HT, N={n_main} - N={below_main}",
                "auroc_growth/amff/{n_main}-vs-{below_main}",
                within(0.01),
            ),
        ),
    ),
    ClaimDef(
        "C4c",
        "sim4",
        "conclusion",
        "Under reduced data the hierarchical fusion keeps stable performance, with less "
        "metric variance than early and late fusion.",
        "Variance over seeds of AMFF-HT's AUROC divided by each baseline's, at the smallest N, "
        "with a 95% F interval.",
        f"holds if the interval's upper end is below 1; partly if the ratio is below 1; {RULE_ALL}",
        each(
            BASELINES,
            "variance ratio vs {name} at N={small}",
            "auroc_variance_ratio_amff_over_baseline/{small}/{name}",
            judge=under(1.0),
            unit="ratio",
            value="ratio",
        ),
    ),
    ClaimDef(
        "C4d",
        "sim4",
        "conclusion",
        "Early fusion performs poorly when data sizes are limited; the hierarchical fusion "
        "does better.",
        "AUROC of AMFF-HT minus early fusion at the smallest N, paired over seeds.",
        RULE_GREATER,
        (PartDef("AMFF-HT - early at N={small}", "amff_minus_baseline_auroc/{small}/early"),),
    ),
    # -- the abstract's "especially when limited or noisy" -----------------------------------
    ClaimDef(
        "C5a",
        "sim5e",
        "abstract",
        "The improvements are clearer when the data are limited.",
        "AMFF-HT's AUROC gain over each baseline at the limited N, and that gain minus its gain "
        "at the main N (seed k with seed k).",
        GREATER_ALL,
        _gains("limited", "main"),
    ),
    ClaimDef(
        "C5b",
        "sim5e",
        "abstract",
        "The improvements are clearer when the data are noisy.",
        "AMFF-HT's AUROC gain over each baseline at the limited N with noisy data "
        "(poor_quality_rate 0.5), and that gain minus its gain at the limited N with default "
        "data.",
        GREATER_ALL,
        _gains("limited_noisy", "limited"),
    ),
)

# Claims from the method sections (3.2-3.4) that the paper does not test; ours.
OUR_CHECKS: tuple[ClaimDef, ...] = (
    ClaimDef(
        "E1",
        "sim5a",
        "section 3.2",
        "The fusion downplays noise: AMFF-HT loses less AUROC than early and late fusion when "
        "one modality is corrupted.",
        "AUROC lost at the worst corruption severity, averaged over the four modalities: each "
        "baseline's loss minus AMFF-HT's, paired over seeds.",
        GREATER_ALL,
        each(BASELINES, "{name} drop - AMFF-HT drop", "baseline_drop_minus_amff_drop/{name}/mean"),
    ),
    ClaimDef(
        "E2",
        "sim5b",
        "section 3.3",
        "Modality masking in training makes the model robust to incomplete data.",
        "AUROC of AMFF-HT minus the no-masking ablation when each modality is removed at the "
        "highest test-time rate, paired over seeds.",
        RULE_GREATER,
        (
            PartDef(
                "AMFF-HT - no masking at rate {worst_rate:g}",
                "amff_minus_other_at_worst_rate/amff-no-masking",
            ),
        ),
    ),
    ClaimDef(
        "E3",
        "sim5b",
        "introduction, section 3.3",
        "AMFF-HT copes with incomplete data better than the static fusions.",
        "AUROC of AMFF-HT minus early and late fusion at the highest missing rate, paired over "
        "seeds.",
        GREATER_ALL,
        each(
            BASELINES,
            "AMFF-HT - {name} at rate {worst_rate:g}",
            "amff_minus_other_at_worst_rate/{name}",
        ),
    ),
    ClaimDef(
        "E4",
        "sim5c",
        "section 4 (Table 1 discussion)",
        "Late fusion falls behind because individual experts cannot use cross-modal synergies.",
        "AMFF-HT's AUROC gain over late fusion with the default gamma minus its gain with gamma "
        "= 0 (same latents, seed k with seed k).",
        RULE_GREATER,
        (
            PartDef(
                "gain over late, with - without synergy", "gain_with_minus_without_synergy/late"
            ),
        ),
    ),
    ClaimDef(
        "E5",
        "sim5d",
        "sections 3.2, 3.4",
        "The adaptive weights promote reliable signals and downplay noisy ones: a poor-quality "
        "image gets less weight.",
        "Mean image weight for test patients with a poor-quality image minus with a good one "
        "(all four modalities present and used), paired over seeds.",
        RULE_LESS,
        (
            PartDef(
                "image weight, poor - good image",
                "methods/amff/image/poor_minus_good",
                less,
                "weight",
            ),
        ),
        note=other_weights_note,
    ),
)


def paper_claims(results: dict[str, Any]) -> list[Claim]:
    """Every claim of the paper with its verdict; sections missing from results give 'not run'."""
    return [claim.evaluate(results) for claim in PAPER_CLAIMS]


def our_checks(results: dict[str, Any]) -> list[Claim]:
    """Our checks of the method sections, with their verdicts."""
    return [claim.evaluate(results) for claim in OUR_CHECKS]


def all_claims(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The paper's claims, then our checks, as dicts for results.json."""
    return [c.to_dict() for c in paper_claims(results) + our_checks(results)]


CLAIM_IDS = tuple(c.id for c in PAPER_CLAIMS + OUR_CHECKS)

__all__ = [
    "CLAIM_IDS",
    "FAILS",
    "HOLDS",
    "NOT_RUN",
    "OUR_CHECKS",
    "PAPER_CLAIMS",
    "PARTLY",
    "VERDICTS",
    "all_claims",
    "all_of",
    "below",
    "equivalent",
    "greater",
    "less",
]
