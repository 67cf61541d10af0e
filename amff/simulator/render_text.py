"""The clinical note: SOAP notes whose phrases follow the text readings of s and u_txt.

The phrase banks below are data; the rendering is at the end.
"""

from __future__ import annotations

import numpy as np

# Phrase banks by level 0 (well) .. 4 (critical). The same keywords appear negated in well
# patients and affirmed in sick ones, so word order matters.
_SUBJECTIVE = (
    ("Feels well this morning.", "Denies chest pain or shortness of breath.",
     "No complaints overnight.", "Denies fevers or chills.", "Tolerating diet, no nausea."),
    ("Mild fatigue but no other complaints.", "Denies shortness of breath at rest.",
     "Reports a mild cough, denies fevers.", "Slept well, pain controlled."),
    ("Reports shortness of breath on exertion.", "Reports fevers and chills since yesterday.",
     "Complains of fatigue and poor appetite.", "Reports a productive cough."),
    ("Reports worsening shortness of breath at rest.", "Reports chest tightness and fevers.",
     "Confused overnight per nursing.", "Reports severe weakness and dizziness."),
    ("Acutely short of breath, speaking in single words.",
     "Unresponsive to voice overnight per nursing.", "Rigors and new confusion overnight.",
     "Reports crushing chest pain and shortness of breath."),
)  # fmt: skip
_OBJECTIVE = (
    ("Afebrile, hemodynamically stable.", "Alert and oriented, in no acute distress.",
     "Lungs clear to auscultation bilaterally.", "Saturating well on room air.",
     "Heart rate and blood pressure within normal range."),
    ("Afebrile, vitals stable.", "Mild tachycardia, otherwise stable.",
     "Scattered wheezes, no crackles.", "On room air, no increased work of breathing."),
    ("Low-grade fever, mildly tachycardic.", "Crackles at the right base.",
     "Requiring 2 L nasal cannula oxygen.", "Mildly increased work of breathing."),
    ("Febrile, tachycardic and tachypneic.", "Hypotensive, responding to fluids.",
     "Crackles at both bases, requiring high-flow oxygen.", "Drowsy but rousable, appears unwell."),
    ("Febrile and hypotensive despite fluids, on norepinephrine.",
     "In acute respiratory distress, using accessory muscles.", "Obtunded, GCS 8.",
     "Mottled extremities, cool peripheries."),
)  # fmt: skip
_ASSESSMENT = (
    ("No evidence of sepsis; clinically stable.", "Improving, no signs of infection.",
     "Stable, no acute issues."),
    ("Stable, no evidence of sepsis at present.", "Mild symptoms, no signs of organ dysfunction."),
    ("Possible early sepsis, cannot rule out pneumonia.",
     "Worsening respiratory status, likely pneumonia."),
    ("Sepsis with evidence of organ dysfunction.",
     "Acute hypoxic respiratory failure, likely pneumonia."),
    ("Septic shock with multiorgan dysfunction.", "Critically ill, high risk of deterioration."),
)  # fmt: skip
_PLAN = (
    ("Continue current management, plan discharge tomorrow.", "Mobilise, step down to the ward."),
    ("Continue current management, recheck labs in the morning.",
     "Encourage oral intake, no antibiotics needed."),
    ("Send blood cultures and start antibiotics.", "Chest radiograph and repeat lactate."),
    ("Broad-spectrum antibiotics, fluid resuscitation, repeat lactate.",
     "Escalate oxygen, consider ICU review."),
    ("Vasopressors, ICU transfer, intubation discussed.",
     "Urgent ICU review, escalate to critical care."),
)  # fmt: skip
_HISTORY = (
    ("Lives independently, walks without aids.", "Works full time, no history of falls."),
    ("Independent with activities of daily living.",
     "Lives with spouse, no cognitive impairment."),
    ("Uses a walker at home.", "Needs help with some activities of daily living."),
    ("Nursing home resident, dependent for most care.",
     "History of recurrent falls, mild dementia."),
    ("Bedbound, fully dependent for care.", "Advanced dementia, recent weight loss."),
)  # fmt: skip
_BASELINE = (
    ("Fit and well at baseline.", "Excellent functional baseline."),
    ("Good functional baseline.", "Mostly independent at baseline."),
    ("Moderate frailty at baseline.", "Reduced mobility at baseline."),
    ("Frail at baseline with poor reserve.", "Poor functional reserve, frequent admissions."),
    ("Severely frail with very poor reserve.", "Very poor baseline, largely bedbound."),
)  # fmt: skip
_GOALS = (
    ("Full code.", "Full code, goals of care not yet discussed."),
    ("Full code, discussed with patient.",),
    ("Full code for now, family meeting planned.",),
    ("DNR, goals of care discussed with family.", "DNR, not for intubation."),
    ("DNR/DNI, transition to comfort measures discussed.",
     "Comfort-focused care per family wishes."),
)  # fmt: skip
_FILLER = (
    "Seen and examined at the bedside.", "Labs and imaging reviewed.",
    "Discussed with nursing staff.", "Medications reconciled.", "Family updated by phone.",
    "Pain controlled on current regimen.", "Lines and drains reviewed.",
    "Tolerating oral medications.", "Chart and overnight events reviewed.",
    "Case discussed with the attending.", "Physiotherapy input appreciated.",
    "Plan discussed with the patient.", "Skin intact, pressure areas checked.",
    "Bowels open, passing urine.", "Diet and fluids reviewed with dietitian.",
)  # fmt: skip
_LIMITED = (
    "Limited exam due to patient agitation.", "Limited history; patient unable to participate.",
    "Exam limited by body habitus.", "Limited exam, patient declined full assessment.",
)  # fmt: skip
_LEVEL_CUTS = np.array([-1.2, -0.4, 0.4, 1.2])  # reading -> level 0..4


def render_notes(
    rng: np.random.Generator, severity: np.ndarray, frailty: np.ndarray, poor: np.ndarray
) -> list[str]:
    """SOAP notes whose phrases follow the text readings of s and u_txt."""
    n = len(poor)
    # each sentence reads its factor with its own jitter, so many sentences carry a graded signal
    sev_level = np.searchsorted(_LEVEL_CUTS, severity[:, None] + 0.2 * rng.standard_normal((n, 14)))
    frail_level = np.searchsorted(_LEVEL_CUTS, frailty[:, None] + 0.2 * rng.standard_normal((n, 5)))
    pick = rng.random((n, 32))
    count = rng.random((n, 10))
    return [_note(pick[i], sev_level[i], frail_level[i], count[i], bool(poor[i])) for i in range(n)]


def _note(
    pick: np.ndarray, sev_level: np.ndarray, frail_level: np.ndarray, count: np.ndarray, poor: bool
) -> str:
    """One note from its own draws: pick (32,) chooses phrases, count (10,) sets how many, and
    each phrase from a level bank takes the next severity (14,) or frailty (5,) level."""
    draws = iter(pick)
    sev = iter(sev_level)
    frail = iter(frail_level)

    def choose(bank: tuple[str, ...], used: list[str]) -> None:
        sentence = bank[int(next(draws) * len(bank))]
        if sentence not in used:
            used.append(sentence)

    subjective: list[str] = []
    for _ in range(1 + int(count[0] < 0.7)):
        choose(_SUBJECTIVE[next(sev)], subjective)
    for _ in range(1 + int(count[1] < 0.5)):
        choose(_HISTORY[next(frail)], subjective)
    objective: list[str] = []
    for _ in range(2 + int(count[2] * 3)):
        choose(_OBJECTIVE[next(sev)], objective)
    for _ in range(int(count[3] * 3)):
        choose(_FILLER, objective)
    assessment: list[str] = []
    for _ in range(1 + int(count[4] < 0.5)):
        choose(_ASSESSMENT[next(sev)], assessment)
    choose(_BASELINE[next(frail)], assessment)
    plan: list[str] = []
    for _ in range(1 + int(count[5] < 0.6)):
        choose(_PLAN[next(sev)], plan)
    choose(_GOALS[next(frail)], plan)
    for _ in range(int(count[6] * 3)):
        choose(_FILLER, plan)
    if poor:
        choose(_LIMITED, subjective if count[7] < 0.5 else objective)
    sections = (("S", subjective), ("O", objective), ("A", assessment), ("P", plan))
    return "\n".join(f"{head}: {' '.join(body)}" for head, body in sections)
