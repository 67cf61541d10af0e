"""How a claim gets its verdict: the rules, the claim's definition and its evaluation.

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

Judge = Callable[[float, float, float], str]  # (mean, low, high) -> verdict
Section = dict[str, Any]  # one section of results.json


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


def within(margin: float) -> Judge:
    """The judge 'about 0, inside +-margin'."""
    return lambda mean, low, high: equivalent(mean, low, high, margin)


def under(bound: float) -> Judge:
    """The judge 'below bound'."""
    return lambda mean, low, high: below(mean, high, bound)


def all_of(verdicts: Sequence[str]) -> str:
    """A claim made of parts: holds if all hold, fails if none is even partly true."""
    if not verdicts or any(v == NOT_RUN for v in verdicts):
        return NOT_RUN
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    if all(v == FAILS for v in verdicts):
        return FAILS
    return PARTLY


# -- what a claim found ----------------------------------------------------------------------
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


# -- what a claim is -------------------------------------------------------------------------
@dataclass(frozen=True)
class PartDef:
    """One tested number: the summary at `path` in the section ('a/b/c'), judged by `judge`.

    `label` and `path` are templates filled from the section's own fields ('{n_main}'); the
    label may also use the summary's fields ('{runner_up}'). `value` names the summary's
    central value ('mean', or 'ratio' for a variance ratio).
    """

    label: str
    path: str
    judge: Judge = greater
    unit: str = "AUROC"
    value: str = "mean"

    def evaluate(self, sec: Section) -> Part:
        s: Any = sec
        for key in self.path.format_map(sec).split("/"):
            s = s[key]
        mean = s[self.value]
        label = self.label.format_map({**sec, **s})
        return Part(
            label, mean, s["low"], s["high"], self.judge(mean, s["low"], s["high"]), self.unit
        )


def each(names: Sequence[str], label: str, path: str, **options: Any) -> tuple[PartDef, ...]:
    """One part per name, '{name}' in label and path replaced by it."""
    return tuple(
        PartDef(label.replace("{name}", n), path.replace("{name}", n), **options) for n in names
    )


@dataclass(frozen=True)
class ClaimDef:
    """A claim: where it comes from, what the paper says, how it is tested and judged.

    Its verdict combines the parts' (all_of) unless `verdict` decides from the section itself;
    `note` adds evidence that is not a judged part.
    """

    id: str
    section: str
    source: str
    paper: str
    test: str
    rule: str
    parts: tuple[PartDef, ...] = ()
    note: Callable[[Section], str] | None = None
    verdict: Callable[[Section], str] | None = None

    def evaluate(self, results: dict[str, Any]) -> Claim:
        """The claim with its verdict; 'not run' when its section is not in results."""
        claim = Claim(self.id, self.section, self.source, self.paper, self.test, self.rule)
        if self.section not in results:
            return claim
        sec = results[self.section]
        claim.parts = [part.evaluate(sec) for part in self.parts]
        claim.note = self.note(sec) if self.note else ""
        claim.verdict = self.verdict(sec) if self.verdict else NOT_RUN
        if claim.verdict == NOT_RUN:
            claim.verdict = all_of([p.verdict for p in claim.parts])
        return claim


__all__ = [
    "FAILS",
    "HOLDS",
    "NOT_RUN",
    "PARTLY",
    "VERDICTS",
    "Claim",
    "ClaimDef",
    "Part",
    "PartDef",
    "all_of",
    "below",
    "each",
    "equivalent",
    "greater",
    "less",
    "under",
    "within",
]
