"""The paper's claims, one by one, each with a verdict computed from results.json by a rule.

The rules (stated again in REPRODUCTION.md):

* "A is larger than B": **holds** if the 95% interval of the mean paired difference A - B is
  above 0; **partly** if the mean is above 0 but the interval covers 0; **does not hold** if
  the mean is 0 or below. ("Smaller" mirrors it.)
* "A is about equal to B": **holds** if the interval lies inside +-margin; **partly** if it
  covers 0 but reaches past the margin; **does not hold** if it excludes 0.
* "A is below a bound": **holds** if the interval's upper end is below the bound; **partly**
  if the mean is; **does not hold** otherwise.
* A claim made of parts (e.g. "beats early *and* late fusion") **holds** if every part holds,
  **does not hold** if no part holds or is partly true, and is **partly** true otherwise.

A section that was not run gives **not run**.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

HOLDS, PARTLY, FAILS, NOT_RUN = "holds", "partly", "does not hold", "not run"
VERDICTS = (HOLDS, PARTLY, FAILS, NOT_RUN)


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def greater(mean: float, low: float, high: float) -> str:
    """Verdict on 'the difference is above 0' from its mean and 95% interval."""
    if not _finite(mean):
        return NOT_RUN
    if _finite(low) and low > 0:
        return HOLDS
    return PARTLY if mean > 0 else FAILS


def less(mean: float, low: float, high: float) -> str:
    """Verdict on 'the difference is below 0'."""
    return greater(-mean, -high, -low)


def equivalent(mean: float, low: float, high: float, margin: float) -> str:
    """Verdict on 'the difference is about 0' (inside +-margin)."""
    if not _finite(mean):
        return NOT_RUN
    if not (_finite(low) and _finite(high)):
        return PARTLY if abs(mean) <= margin else FAILS
    if -margin <= low and high <= margin:
        return HOLDS
    return PARTLY if low <= 0 <= high else FAILS


def below(mean: float, high: float, bound: float) -> str:
    """Verdict on 'the value is below bound'."""
    if not _finite(mean):
        return NOT_RUN
    if _finite(high) and high < bound:
        return HOLDS
    return PARTLY if mean < bound else FAILS


def all_of(verdicts: Sequence[str]) -> str:
    """A claim made of parts: holds if all hold, fails if none is even partly true."""
    if not verdicts or any(v == NOT_RUN for v in verdicts):
        return NOT_RUN
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    if all(v == FAILS for v in verdicts):
        return FAILS
    return PARTLY


@dataclass
class Part:
    label: str
    mean: float
    low: float
    high: float
    verdict: str
    unit: str = "AUROC"

    def text(self) -> str:
        interval = (
            f" [{self.low:+.3f}, {self.high:+.3f}]"
            if _finite(self.low) and _finite(self.high)
            else ""
        )
        return f"{self.label}: {self.mean:+.3f}{interval} ({self.verdict})"


@dataclass
class Claim:
    id: str
    section: str
    source: str
    paper: str
    test: str
    rule: str
    parts: list[Part] = field(default_factory=list)
    verdict: str = NOT_RUN
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        evidence = "; ".join(p.text() for p in self.parts)
        if self.note:
            evidence = f"{evidence}. {self.note}" if evidence else self.note
        return {
            "id": self.id,
            "section": self.section,
            "source": self.source,
            "paper": self.paper,
            "test": self.test,
            "rule": self.rule,
            "verdict": self.verdict,
            "evidence": evidence,
            "parts": [vars(p) for p in self.parts],
        }


RULE_GREATER = "holds if the 95% interval of the mean paired difference is above 0"
RULE_LESS = "holds if the 95% interval of the mean paired difference is below 0"
RULE_ALL = "every part must hold (partly: some parts hold or are partly true)"


def _part(label: str, s: dict[str, Any], judge: Callable[..., str], unit: str = "AUROC") -> Part:
    return Part(label, s["mean"], s["low"], s["high"], judge(s["mean"], s["low"], s["high"]), unit)


def _claim(
    claim: Claim, results: dict[str, Any], build: Callable[[Claim, dict[str, Any]], None]
) -> Claim:
    if claim.section in results:
        build(claim, results[claim.section])
        if claim.verdict == NOT_RUN:  # a build may set the verdict itself
            claim.verdict = all_of([p.verdict for p in claim.parts])
    return claim


def paper_claims(results: dict[str, Any]) -> list[Claim]:
    """Every claim with its verdict; sections missing from results give 'not run'."""
    claims: list[Claim] = []
    add = claims.append

    # -- Simulation 1 ------------------------------------------------------------------
    def c1a(c: Claim, sec: dict[str, Any]) -> None:
        s = sec["summary"]["largest_auroc_fall"]
        c.parts.append(
            Part("largest fall", s["mean"], s["low"], s["high"], below(s["mean"], s["high"], 0.02))
        )

    c = Claim(
        "C1a",
        "sim1",
        "Fig 2, section 4",
        "AMFF-HT presents a stable and monotonous convergence.",
        "Largest epoch-to-epoch fall of the validation AUROC up to the best epoch, mean "
        "over seeds.",
        "holds if the 95% upper end of the mean largest fall is below 0.02 AUROC; partly "
        "if the mean is",
    )
    add(_claim(c, results, c1a))

    def c1b(c: Claim, sec: dict[str, Any]) -> None:
        c.parts.append(
            _part(
                "F1 minus AUROC stabilisation epoch",
                sec["summary"]["f1_minus_auroc_stable_epoch"],
                greater,
                "epochs",
            )
        )

    c = Claim(
        "C1b",
        "sim1",
        "Fig 2, section 4",
        "The AUC stabilises in the early stage, before the F1-score fully converges.",
        "Epoch at which the validation F1 (at probability 0.5, as logged each epoch) first "
        "comes within 0.01 of its best, minus the same epoch for the validation AUROC, paired "
        "over seeds.",
        RULE_GREATER,
    )
    add(_claim(c, results, c1b))

    def c1c(c: Claim, sec: dict[str, Any]) -> None:
        s = sec["summary"]["relative_loss_gap"]
        c.parts.append(
            Part(
                "(val - train loss) / train loss",
                s["mean"],
                s["low"],
                s["high"],
                equivalent(s["mean"], s["low"], s["high"], 0.10),
                "ratio",
            )
        )

    c = Claim(
        "C1c",
        "sim1",
        "Fig 2, section 4",
        "The difference between the training and validation losses was small, indicating "
        "mild overfitting.",
        "Relative gap (validation loss - training loss) / training loss at the best epoch, "
        "mean over seeds. The training loss is measured with dropout and modality masking "
        "on.",
        "holds if the 95% interval lies within +-0.10; partly if it covers 0",
    )
    add(_claim(c, results, c1c))

    # -- Simulation 2 ------------------------------------------------------------------
    def c2a(c: Claim, sec: dict[str, Any]) -> None:
        s = sec["amff_single"]["image_minus_runner_up_auroc"]
        c.parts.append(_part(f"image - {s['runner_up']} (AMFF-HT, one modality on)", s, greater))

    c = Claim(
        "C2a",
        "sim2",
        "Fig 3, section 4",
        "With one modality on at test time, the AUC for imaging features is the highest.",
        "AUROC of AMFF-HT with only the image on, minus that with only the next-best "
        "modality on, paired over seeds.",
        RULE_GREATER,
    )
    add(_claim(c, results, c2a))

    def c2b(c: Claim, sec: dict[str, Any]) -> None:
        single = sec["amff_single"]
        c.parts.append(_part("F1 image - tabular", single["image_minus_tabular_f1"], less, "F1"))
        c.parts.append(_part("F1 image - text", single["image_minus_text_f1"], less, "F1"))

    c = Claim(
        "C2b",
        "sim2",
        "Fig 3, section 4",
        "F1-scores are lower for imaging; the clinical text and tabular descriptors increase F1.",
        "F1 (at each subset's validation threshold) of AMFF-HT with only the image on, "
        "minus F1 with only the record, and only the note, on; paired over seeds.",
        f"{RULE_LESS}; {RULE_ALL}",
    )
    add(_claim(c, results, c2b))

    def c2c(c: Claim, sec: dict[str, Any]) -> None:
        s = sec["all_minus_best_single_auroc"]
        c.parts.append(_part(f"all four - {s['best_single']} alone", s, greater))

    c = Claim(
        "C2c",
        "sim2",
        "section 4 (Table 1 discussion), conclusion",
        "Each modality conveys complementary information; combining them beats any single one.",
        "AUROC of AMFF-HT with all modalities minus with the best single modality on, on "
        "the patients who have that modality, paired over seeds.",
        RULE_GREATER,
    )
    add(_claim(c, results, c2c))

    def c2d(c: Claim, sec: dict[str, Any]) -> None:
        c.parts.append(
            _part("recall, all four - without RNA-seq", sec["rna_recall_gain"], greater, "recall")
        )

    c = Claim(
        "C2d",
        "sim2",
        "Fig 3, section 4",
        "Embedding RNA-seq (albeit noisy) increases minority-class sensitivity.",
        "Recall of AMFF-HT with all four modalities minus with tabular+text+image, each at "
        "its validation threshold, on patients with RNA-seq; paired over seeds.",
        RULE_GREATER,
    )
    add(_claim(c, results, c2d))

    def c2e(c: Claim, sec: dict[str, Any]) -> None:
        top = sec["amff_single"]["top_by_metric"]
        c.note = "Best single modality by mean: " + ", ".join(f"{k} {v}" for k, v in top.items())
        c.verdict = HOLDS if len(set(top.values())) > 1 else FAILS

    c = Claim(
        "C2e",
        "sim2",
        "conclusion",
        "No single modality consistently dominates across metrics.",
        "Which single modality (AMFF-HT, one modality on) has the best mean AUROC, F1 and "
        "accuracy.",
        "holds if the best modality is not the same for all three metrics (a ranking of "
        "means, no interval)",
    )
    add(_claim(c, results, c2e))

    # -- Simulation 3 ------------------------------------------------------------------
    def versus(metric: str, bases: Sequence[str]) -> Callable[[Claim, dict[str, Any]], None]:
        def build(c: Claim, sec: dict[str, Any]) -> None:
            for base in bases:
                s = sec["differences"][f"amff-vs-{base}"][metric]
                c.parts.append(_part(f"AMFF-HT - {base}", s, greater, metric))
                if metric == "auroc":
                    b = sec["differences"][f"amff-vs-{base}"]["auroc_bootstrap"]
                    c.note += (
                        f"Test-patient bootstrap vs {base}: {b['difference']:+.3f} "
                        f"[{b['low']:+.3f}, {b['high']:+.3f}]. "
                    )

        return build

    for cid, metric, bases, paper in (
        ("C3a", "auroc", ("early",), "AMFF-HT beats early fusion on AUC (0.721 vs 0.668)."),
        ("C3b", "auroc", ("late",), "AMFF-HT beats late fusion on AUC (0.721 vs 0.654)."),
        (
            "C3c",
            "f1",
            ("early", "late"),
            "AMFF-HT beats early and late fusion on F1 (0.675 vs 0.618 and 0.591).",
        ),
        (
            "C3d",
            "accuracy",
            ("early", "late"),
            "AMFF-HT beats early and late fusion on accuracy (0.680 vs 0.618 and 0.605).",
        ),
    ):
        c = Claim(
            cid,
            "sim3",
            "Table 1",
            paper,
            f"{metric.upper() if metric == 'auroc' else metric.capitalize()} of AMFF-HT "
            "minus each baseline on the held-out cohort, paired over seeds.",
            RULE_GREATER if len(bases) == 1 else f"{RULE_GREATER}; {RULE_ALL}",
        )
        add(_claim(c, results, versus(metric, bases)))

    def c3e(c: Claim, sec: dict[str, Any]) -> None:
        c.parts.append(_part("early - late", sec["differences"]["early-vs-late"]["auroc"], greater))
        b = sec["differences"]["early-vs-late"]["auroc_bootstrap"]
        c.note = (
            f"Test-patient bootstrap: {b['difference']:+.3f} [{b['low']:+.3f}, {b['high']:+.3f}]."
        )

    c = Claim(
        "C3e",
        "sim3",
        "Table 1, section 4",
        "Late fusion worked worse than early fusion (AUC 0.654 vs 0.668).",
        "AUROC of early minus late fusion, paired over seeds.",
        RULE_GREATER,
    )
    add(_claim(c, results, c3e))

    def c3f(c: Claim, sec: dict[str, Any]) -> None:
        for ablation in ("amff-no-cross-attention", "amff-mean-pooling", "amff-no-masking"):
            s = sec["differences"][f"amff-vs-{ablation}"]["auroc"]
            c.parts.append(_part(f"AMFF-HT - {ablation.removeprefix('amff-')}", s, greater))

    c = Claim(
        "C3f",
        "sim3",
        "sections 3.2-3.4 (the paper runs no ablation)",
        "Cross-modal attention, adaptive modality weighting and modality masking each "
        "contribute to the performance.",
        "AUROC of AMFF-HT minus each ablation (no cross-attention, mean pooling, no "
        "modality masking), paired over seeds.",
        f"{RULE_GREATER}; {RULE_ALL}",
    )
    add(_claim(c, results, c3f))

    # -- Simulation 4 ------------------------------------------------------------------
    def c4a(c: Claim, sec: dict[str, Any]) -> None:
        key = f"{sec['n_main']}-vs-{sec['small']}"
        c.parts.append(
            _part(
                f"AMFF-HT, N={key.replace('-vs-', ' - N=')}",
                sec["auroc_growth"]["amff"][key],
                greater,
            )
        )

    c = Claim(
        "C4a",
        "sim4",
        "Fig 4, section 4",
        "AMFF-HT benefits from more patients: AUC increases with 2,000 rather than fewer.",
        "AUROC of AMFF-HT at the main N minus at the smallest N (seed k with seed k).",
        RULE_GREATER,
    )
    add(_claim(c, results, c4a))

    def c4b(c: Claim, sec: dict[str, Any]) -> None:
        key = f"{sec['n_main']}-vs-{sec['below_main']}"
        s = sec["auroc_growth"]["amff"][key]
        c.parts.append(
            Part(
                f"AMFF-HT, N={key.replace('-vs-', ' - N=')}",
                s["mean"],
                s["low"],
                s["high"],
                equivalent(s["mean"], s["low"], s["high"], 0.01),
            )
        )

    c = Claim(
        "C4b",
        "sim4",
        "Fig 4, section 4",
        "From 1,200 samples the metrics reach a plateau and show no further improvement.",
        "AUROC of AMFF-HT at the main N minus at the next smaller N.",
        "holds if the 95% interval lies within +-0.01 AUROC; partly if it covers 0",
    )
    add(_claim(c, results, c4b))

    def c4c(c: Claim, sec: dict[str, Any]) -> None:
        small = str(sec["small"])
        for base in ("early", "late"):
            r = sec["auroc_variance_ratio_amff_over_baseline"][small][base]
            verdict = below(r["ratio"], r["high"], 1.0)
            c.parts.append(
                Part(
                    f"variance ratio vs {base} at N={small}",
                    r["ratio"],
                    r["low"],
                    r["high"],
                    verdict,
                    "ratio",
                )
            )

    c = Claim(
        "C4c",
        "sim4",
        "conclusion",
        "Under reduced data the hierarchical fusion keeps stable performance, with less "
        "metric variance than early and late fusion.",
        "Variance over seeds of AMFF-HT's AUROC divided by each baseline's, at the "
        "smallest N, with a 95% F interval.",
        f"holds if the interval's upper end is below 1; partly if the ratio is below 1; {RULE_ALL}",
    )
    add(_claim(c, results, c4c))

    def c4d(c: Claim, sec: dict[str, Any]) -> None:
        small = str(sec["small"])
        c.parts.append(
            _part(
                f"AMFF-HT - early at N={small}",
                sec["amff_minus_baseline_auroc"][small]["early"],
                greater,
            )
        )

    c = Claim(
        "C4d",
        "sim4",
        "conclusion",
        "Early fusion performs poorly when data sizes are limited; the hierarchical fusion "
        "does better.",
        "AUROC of AMFF-HT minus early fusion at the smallest N, paired over seeds.",
        RULE_GREATER,
    )
    add(_claim(c, results, c4d))

    # -- the abstract's "especially when limited or noisy" -------------------------------
    def gain_claim(scenario: str, versus: str) -> Callable[[Claim, dict[str, Any]], None]:
        def build(c: Claim, sec: dict[str, Any]) -> None:
            for base in ("early", "late"):  # an improvement, first; then a larger one
                gain = sec["scenarios"][scenario]["amff_minus"][base]
                c.parts.append(_part(f"gain over {base}", gain, greater))
            for base in ("early", "late"):
                s = sec["gain_differences"][f"{scenario}-vs-{versus}"][base]
                c.parts.append(_part(f"gain over {base} minus at {versus}", s, greater))

        return build

    c = Claim(
        "C5a",
        "sim5e",
        "abstract",
        "The improvements are clearer when the data are limited.",
        "AMFF-HT's AUROC gain over each baseline at the limited N, and that gain minus its "
        "gain at the main N (seed k with seed k).",
        f"{RULE_GREATER}; {RULE_ALL}",
    )
    add(_claim(c, results, gain_claim("limited", "main")))

    c = Claim(
        "C5b",
        "sim5e",
        "abstract",
        "The improvements are clearer when the data are noisy.",
        "AMFF-HT's AUROC gain over each baseline at the limited N with noisy data "
        "(poor_quality_rate 0.5), and that gain minus its gain at the limited N with default "
        "data.",
        f"{RULE_GREATER}; {RULE_ALL}",
    )
    add(_claim(c, results, gain_claim("limited_noisy", "limited")))
    return claims


def our_checks(results: dict[str, Any]) -> list[Claim]:
    """Claims from the method sections (3.2-3.4) that the paper does not test; ours."""
    claims: list[Claim] = []
    add = claims.append

    def e1(c: Claim, sec: dict[str, Any]) -> None:
        for base in ("early", "late"):
            s = sec["baseline_drop_minus_amff_drop"][base]["mean"]
            c.parts.append(_part(f"{base} drop - AMFF-HT drop", s, greater))

    c = Claim(
        "E1",
        "sim5a",
        "section 3.2",
        "The fusion downplays noise: AMFF-HT loses less AUROC than early and late fusion "
        "when one modality is corrupted.",
        "AUROC lost at the worst corruption severity, averaged over the four modalities: "
        "each baseline's loss minus AMFF-HT's, paired over seeds.",
        f"{RULE_GREATER}; {RULE_ALL}",
    )
    add(_claim(c, results, e1))

    def e2(c: Claim, sec: dict[str, Any]) -> None:
        s = sec["amff_minus_other_at_worst_rate"]["amff-no-masking"]
        c.parts.append(_part(f"AMFF-HT - no masking at rate {sec['worst_rate']:g}", s, greater))

    c = Claim(
        "E2",
        "sim5b",
        "section 3.3",
        "Modality masking in training makes the model robust to incomplete data.",
        "AUROC of AMFF-HT minus the no-masking ablation when each modality is removed "
        "at the highest test-time rate, paired over seeds.",
        RULE_GREATER,
    )
    add(_claim(c, results, e2))

    def e3(c: Claim, sec: dict[str, Any]) -> None:
        for base in ("early", "late"):
            s = sec["amff_minus_other_at_worst_rate"][base]
            c.parts.append(_part(f"AMFF-HT - {base} at rate {sec['worst_rate']:g}", s, greater))

    c = Claim(
        "E3",
        "sim5b",
        "introduction, section 3.3",
        "AMFF-HT copes with incomplete data better than the static fusions.",
        "AUROC of AMFF-HT minus early and late fusion at the highest missing rate, paired "
        "over seeds.",
        f"{RULE_GREATER}; {RULE_ALL}",
    )
    add(_claim(c, results, e3))

    def e4(c: Claim, sec: dict[str, Any]) -> None:
        s = sec["gain_with_minus_without_synergy"]["late"]
        c.parts.append(_part("gain over late, with - without synergy", s, greater))

    c = Claim(
        "E4",
        "sim5c",
        "section 4 (Table 1 discussion)",
        "Late fusion falls behind because individual experts cannot use cross-modal synergies.",
        "AMFF-HT's AUROC gain over late fusion with the default gamma minus its gain with "
        "gamma = 0 (same latents, seed k with seed k).",
        RULE_GREATER,
    )
    add(_claim(c, results, e4))

    def e5(c: Claim, sec: dict[str, Any]) -> None:
        table = sec["methods"]["amff"]
        c.parts.append(
            _part(
                "image weight, poor - good image", table["image"]["poor_minus_good"], less, "weight"
            )
        )
        others = ", ".join(
            f"{m} {table[m]['poor_minus_good']['mean']:+.3f}" for m in table if m != "image"
        )
        c.note = f"Other modalities (poor - good, mean): {others}."

    c = Claim(
        "E5",
        "sim5d",
        "sections 3.2, 3.4",
        "The adaptive weights promote reliable signals and downplay noisy ones: a "
        "poor-quality image gets less weight.",
        "Mean image weight for test patients with a poor-quality image minus with a good "
        "one (all four modalities present and used), paired over seeds.",
        RULE_LESS,
    )
    add(_claim(c, results, e5))
    return claims


def all_claims(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [c.to_dict() for c in paper_claims(results) + our_checks(results)]


CLAIM_IDS = tuple(c.id for c in paper_claims({}) + our_checks({}))

__all__ = ["CLAIM_IDS", "VERDICTS", "all_claims", "all_of", "equivalent", "greater", "less"]
