"""The synthetic four-modality cohort of DESIGN.md "The simulator", with its oracles.

Every patient has latent factors; each modality sees noisy readings of some of them and renders
those readings as data a clinician would recognise (ICU vitals and labs, a SOAP note, a chest-like
phantom image, RNA-seq counts). Because the generator knows the latents it also knows the truth:

* ``p_true = Phi(eta)``, the Bayes probability, whose AUROC no model can pass;
* ``p_noisy_ceiling``, the probability given the noisy readings of the present modalities.

Latents (standard normal unless said)::

    s      severity, seen by tabular, text and image
    u_tab  frailty seen by the record; u_txt goals of care seen by the note;
    u_img  lesion burden seen by the image; u_rna a high-risk subtype seen by RNA
           (0 for 85% of patients, N(2, 0.5^2) for 15%)
    a, b   an image pattern and an RNA programme: the outcome uses gamma * a * b (synergy)

    eta = b0 + w_s s + w_tab u_tab + w_txt u_txt + w_img u_img + w_rna u_rna + gamma a b
    y ~ Bernoulli(Phi(eta)), b0 set for the prevalence

A reading is ``factor + noise_m * (kappa if poor else 1) * N(0, 1)``; a poor reading shows in the
data (more blank cells, "limited exam" in the note, a blurred image, a low library size).

Determinism: every random draw comes from a NumPy Generator seeded from ``SeedSequence(seed)``
with a fixed spawn key per purpose, so the same SimConfig gives byte-identical cohort folders.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.optimize import brentq
from scipy.special import expit, ndtr
from sklearn.metrics import roc_auc_score

from amff.data.cohort import ID, LABEL, Cohort
from amff.errors import InputError
from amff.modalities import MODALITIES, Modality

logger = logging.getLogger(__name__)

SUBTYPE_RATE = 0.15  # share of patients in the high-risk RNA subtype
SUBTYPE_MEAN, SUBTYPE_SD = 2.0, 0.5
N_NUISANCE = 3  # RNA programmes that follow latents unrelated to the outcome
_STREAMS = ("latents", "quality", "readings", "missing", "tabular", "genes", "render")
_B0_DRAW = 200_000  # size of the fixed internal draw that sets b0
_B0_SEED = 20_240_601


def _stream(seed: int, name: str, *more: int) -> np.random.Generator:
    """An independent generator for one purpose (and chunk): same seed, same numbers."""
    key = (_STREAMS.index(name), *more)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


# -- settings --------------------------------------------------------------------------------
def _knob(default: Any, text: str) -> Any:
    """A settings field whose help text the CLI turns into --flag help."""
    return field(default=default, metadata={"help": text})


@dataclass
class SimConfig:
    """The simulator's knobs. Defaults were fixed for plausibility before any model was run."""

    n: int = _knob(2000, "Number of patients to simulate (at least 10).")
    seed: int = _knob(0, "Random seed; the same settings and seed give identical cohorts (>= 0).")
    prevalence: float = _knob(0.3, "Expected share of positive outcomes, in (0, 1).")
    gamma: float = _knob(0.8, "Weight of the synergy term a*b (image pattern x RNA programme).")
    w_s: float = _knob(0.6, "Outcome weight of severity s, seen by tabular, text and image.")
    w_tab: float = _knob(0.5, "Outcome weight of u_tab, the factor only the clinical record sees.")
    w_txt: float = _knob(0.4, "Outcome weight of u_txt, the factor only the clinical note sees.")
    w_img: float = _knob(0.7, "Outcome weight of u_img (lesion burden), seen only by the image.")
    w_rna: float = _knob(0.4, "Outcome weight of u_rna (high-risk subtype), seen only by RNA-seq.")
    # Reading noise, in latent standard deviations. Fixed before any model was run: the note is
    # the most subjective reading, the image the most direct measurement.
    noise_tabular: float = _knob(0.5, "Reading noise sd of the clinical record (latent sd units).")
    noise_text: float = _knob(0.6, "Reading noise sd of the clinical note (latent sd units).")
    noise_image: float = _knob(0.4, "Reading noise sd of the image (latent sd units).")
    noise_rna: float = _knob(0.5, "Reading noise sd of RNA-seq (latent sd units).")
    poor_quality_rate: float = _knob(
        0.2, "Probability that a patient's modality is of poor quality, in [0, 1]."
    )
    kappa: float = _knob(3.0, "Noise multiplier of a poor-quality reading (>= 1).")
    missing_tabular: float = _knob(0.05, "Probability that the clinical record is missing.")
    missing_text: float = _knob(0.15, "Probability that the clinical note is missing.")
    missing_image: float = _knob(0.15, "Probability that the image is missing.")
    missing_rna: float = _knob(0.25, "Probability that RNA-seq is missing.")
    missing_mechanism: str = _knob(
        "mcar", "How modalities go missing: mcar (at random) or sicker (more often when severe)."
    )
    image_size: int = _knob(64, "Image side in pixels (16 to 512).")
    n_genes: int = _knob(2000, "Number of genes in RNA-seq (at least 5 x programme_size).")
    programme_size: int = _knob(50, "Genes per RNA expression programme (at least 5).")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kind = f.type if isinstance(f.type, str) else f.type.__name__
            if kind == "int":
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                if isinstance(value, bool) or not isinstance(value, int):
                    raise InputError(f"{f.name} must be a whole number, got {value!r}")
            elif kind == "float":
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise InputError(f"{f.name} must be a number, got {value!r}")
                value = float(value)
                if not math.isfinite(value):
                    raise InputError(f"{f.name} must be finite, got {value!r}")
            elif not isinstance(value, str):
                raise InputError(f"{f.name} must be text, got {value!r}")
            setattr(self, f.name, value)
        _require(self.n >= 10, f"n must be at least 10, got {self.n}")
        _require(self.n <= 10_000_000, f"n must be at most 10,000,000, got {self.n}")
        _require(self.seed >= 0, f"seed must be 0 or more, got {self.seed}")
        _require(
            0.0 < self.prevalence < 1.0, f"prevalence must be in (0, 1), got {self.prevalence}"
        )
        for name in ("gamma", "w_s", "w_tab", "w_txt", "w_img", "w_rna"):
            value = getattr(self, name)
            _require(0.0 <= value <= 5.0, f"{name} must be in [0, 5], got {value}")
        for modality in MODALITIES:
            value = getattr(self, f"noise_{modality.value}")
            _require(
                0.0 <= value <= 10.0, f"noise_{modality.value} must be in [0, 10], got {value}"
            )
            value = getattr(self, f"missing_{modality.value}")
            _require(
                0.0 <= value <= 1.0, f"missing_{modality.value} must be in [0, 1], got {value}"
            )
        _require(
            min(self.missing_rates) < 1.0,
            "at least one missing_* rate must be below 1, or no patient has any modality",
        )
        _require(
            0.0 <= self.poor_quality_rate <= 1.0,
            f"poor_quality_rate must be in [0, 1], got {self.poor_quality_rate}",
        )
        _require(1.0 <= self.kappa <= 100.0, f"kappa must be in [1, 100], got {self.kappa}")
        _require(
            self.missing_mechanism in ("mcar", "sicker"),
            f"missing_mechanism must be 'mcar' or 'sicker', got {self.missing_mechanism!r}",
        )
        _require(
            16 <= self.image_size <= 512, f"image_size must be in [16, 512], got {self.image_size}"
        )
        _require(
            self.programme_size >= 5,
            f"programme_size must be at least 5, got {self.programme_size}",
        )
        need = (2 + N_NUISANCE) * self.programme_size
        _require(
            need <= self.n_genes <= 60_000,
            f"n_genes must be in [{need}, 60000] (5 programmes of {self.programme_size} genes), "
            f"got {self.n_genes}",
        )

    @property
    def missing_rates(self) -> tuple[float, float, float, float]:
        return tuple(getattr(self, f"missing_{m.value}") for m in MODALITIES)  # type: ignore[return-value]

    @property
    def noise(self) -> tuple[float, float, float, float]:
        return tuple(getattr(self, f"noise_{m.value}") for m in MODALITIES)  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimConfig:
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise InputError(f"unknown simulator setting(s) {unknown}; known: {names}")
        return cls(**data)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InputError(message)


# -- latents, quality, readings, missingness -------------------------------------------------
LATENTS = ("s", "u_tab", "u_txt", "u_img", "u_rna", "a", "b")
# (latent, modality) for each reading, in the column order of the readings matrix
READINGS = (
    ("s", Modality.TABULAR),
    ("u_tab", Modality.TABULAR),
    ("s", Modality.TEXT),
    ("u_txt", Modality.TEXT),
    ("s", Modality.IMAGE),
    ("u_img", Modality.IMAGE),
    ("a", Modality.IMAGE),
    ("u_rna", Modality.RNA),
    ("b", Modality.RNA),
)


def _draw_latents(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """The latent factors, the nuisance latents (n, 3) and the outcome's uniform draw."""
    out = {name: rng.standard_normal(n) for name in ("s", "u_tab", "u_txt", "u_img")}
    subtype = rng.random(n) < SUBTYPE_RATE
    out["u_rna"] = np.where(subtype, rng.normal(SUBTYPE_MEAN, SUBTYPE_SD, n), 0.0)
    out["a"] = rng.standard_normal(n)
    out["b"] = rng.standard_normal(n)
    out["nuisance"] = rng.standard_normal((n, N_NUISANCE))
    out["y_uniform"] = rng.random(n)
    return out


def _linear_predictor(latents: dict[str, np.ndarray], config: SimConfig) -> np.ndarray:
    """eta without the intercept b0."""
    return (
        config.w_s * latents["s"]
        + config.w_tab * latents["u_tab"]
        + config.w_txt * latents["u_txt"]
        + config.w_img * latents["u_img"]
        + config.w_rna * latents["u_rna"]
        + config.gamma * latents["a"] * latents["b"]
    )


@functools.lru_cache(maxsize=64)
def _intercept_for(weights: tuple[float, ...], prevalence: float) -> float:
    """b0 such that mean Phi(eta) = prevalence, on a fixed internal draw (deterministic)."""
    names = ("w_s", "w_tab", "w_txt", "w_img", "w_rna", "gamma")
    config = SimConfig(**dict(zip(names, weights)))
    latents = _draw_latents(np.random.default_rng(_B0_SEED), _B0_DRAW)
    eta = _linear_predictor(latents, config)
    return float(brentq(lambda b0: ndtr(b0 + eta).mean() - prevalence, -30.0, 30.0, xtol=1e-12))


def _intercept(config: SimConfig) -> float:
    weights = (config.w_s, config.w_tab, config.w_txt, config.w_img, config.w_rna, config.gamma)
    return _intercept_for(weights, config.prevalence)


def _presence(rng: np.random.Generator, severity: np.ndarray, config: SimConfig) -> np.ndarray:
    """(n, 4) bool: who has which modality. Every patient keeps at least one."""
    n = len(severity)
    rates = np.asarray(config.missing_rates)[None, :]  # (1, 4)
    if config.missing_mechanism == "sicker":
        # rate +- its room to 0 or 1, along a logistic of s: the mean over s stays the rate
        room = np.minimum(rates, 1.0 - rates)
        rates = rates + room * (2.0 * expit(1.5 * severity[:, None]) - 1.0)  # (n, 4)
    present = rng.random((n, 4)) >= rates
    # where none is left, restore one at random, favouring the modalities rarely missing
    keep = (1.0 - np.asarray(config.missing_rates)) * rng.random((n, 4))
    empty = ~present.any(axis=1)
    present[np.flatnonzero(empty), np.argmax(keep[empty], axis=1)] = True
    return present


# -- the oracle given the readings -------------------------------------------------------------
def _gaussian_posterior(
    readings: list[np.ndarray], sds: list[np.ndarray], masks: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and variance of a N(0, 1) latent given independent Gaussian readings."""
    precision = np.ones_like(readings[0])
    weighted = np.zeros_like(readings[0])
    for reading, sd, mask in zip(readings, sds, masks):
        inv = np.where(mask, 1.0 / np.maximum(sd, 1e-9) ** 2, 0.0)
        precision += inv
        weighted += inv * np.where(mask, reading, 0.0)
    return weighted / precision, 1.0 / precision


def noisy_ceiling(
    readings: np.ndarray,
    reading_sd: np.ndarray,
    present: np.ndarray,
    config: SimConfig,
    b0: float,
) -> np.ndarray:
    """P(y = 1 | the noisy readings and quality of the present modalities), per patient.

    This is the ceiling *given the readings*: no model of the rendered data can do better on
    average, since rendering only adds noise. readings and reading_sd are (n, 9) in the order
    of READINGS; present is (n, 4). Each latent's posterior is Gaussian (readings combined by
    precision), except u_rna, whose spike-and-slab prior gives an exact two-component posterior.
    The one approximation is the a*b term, taken as Gaussian with E[ab] = E[a]E[b] and
    Var(ab) = Va Vb + Va E[b]^2 + Vb E[a]^2. Under missing_mechanism="sicker" the missingness
    pattern itself hints at s; the ceiling ignores that hint.
    """
    col = {key: i for i, key in enumerate(READINGS)}
    m = {mod: present[:, i] for i, mod in enumerate(MODALITIES)}

    def post(latent: str, modalities: tuple[Modality, ...]) -> tuple[np.ndarray, np.ndarray]:
        idx = [col[(latent, mod)] for mod in modalities]
        return _gaussian_posterior(
            [readings[:, i] for i in idx],
            [reading_sd[:, i] for i in idx],
            [m[x] for x in modalities],
        )

    mean = np.full(len(readings), b0)
    var = np.zeros(len(readings))
    for latent, weight, modalities in (
        ("s", config.w_s, (Modality.TABULAR, Modality.TEXT, Modality.IMAGE)),
        ("u_tab", config.w_tab, (Modality.TABULAR,)),
        ("u_txt", config.w_txt, (Modality.TEXT,)),
        ("u_img", config.w_img, (Modality.IMAGE,)),
    ):
        mu, v = post(latent, modalities)
        mean += weight * mu
        var += weight**2 * v
    mu_a, v_a = post("a", (Modality.IMAGE,))
    mu_b, v_b = post("b", (Modality.RNA,))
    mean += config.gamma * mu_a * mu_b
    var += config.gamma**2 * (v_a * v_b + v_a * mu_b**2 + v_b * mu_a**2)

    # u_rna: spike at 0 (weight 0.85) and slab N(2, 0.5^2); exact posterior over the two
    reading = readings[:, col[("u_rna", Modality.RNA)]]
    sd2 = np.maximum(reading_sd[:, col[("u_rna", Modality.RNA)]], 1e-9) ** 2
    has = m[Modality.RNA]
    log0 = math.log(1 - SUBTYPE_RATE) - 0.5 * reading**2 / sd2 - 0.5 * np.log(sd2)
    slab = SUBTYPE_SD**2 + sd2
    log1 = math.log(SUBTYPE_RATE) - 0.5 * (reading - SUBTYPE_MEAN) ** 2 / slab - 0.5 * np.log(slab)
    w1 = np.where(has, expit(log1 - log0), SUBTYPE_RATE)
    v1 = np.where(has, 1.0 / (1.0 / SUBTYPE_SD**2 + 1.0 / sd2), SUBTYPE_SD**2)
    mu1 = np.where(has, v1 * (SUBTYPE_MEAN / SUBTYPE_SD**2 + reading / sd2), SUBTYPE_MEAN)
    p_spike = ndtr(mean / np.sqrt(1.0 + var))
    p_slab = ndtr((mean + config.w_rna * mu1) / np.sqrt(1.0 + var + config.w_rna**2 * v1))
    return (1.0 - w1) * p_spike + w1 * p_slab


# -- tabular -----------------------------------------------------------------------------------
# name, driver, loading on the driver's reading, link from z (~N(0, 1)) to units, range, decimals
_TABULAR: tuple[tuple[str, str, float, Callable[[np.ndarray], np.ndarray], float, float, int], ...]
_TABULAR = (
    ("age", "u_tab", 0.7, lambda z: 64 + 14 * z, 18, 100, 0),
    ("heart_rate", "s", 0.8, lambda z: 88 + 17 * z, 35, 190, 0),
    ("sbp", "s", 0.75, lambda z: 122 - 19 * z, 60, 220, 0),
    ("dbp", "s", 0.65, lambda z: 68 - 10 * z, 30, 130, 0),
    ("resp_rate", "s", 0.8, lambda z: 19 + 5 * z, 6, 50, 0),
    ("spo2", "s", 0.75, lambda z: 100 - np.exp(np.log(2.5) + 0.55 * z), 65, 100, 0),
    ("temperature", "s", 0.6, lambda z: 37.0 + 0.65 * z, 34, 41.5, 1),
    ("fio2", "s", 0.7, lambda z: 0.21 + 0.18 * np.maximum(z - 0.3, 0) ** 1.5, 0.21, 1.0, 2),
    ("gcs", "s", 0.7, lambda z: 15 - np.maximum(0, 3.0 * (z - 0.5)), 3, 15, 0),
    ("lactate", "s", 0.8, lambda z: np.exp(np.log(1.4) + 0.5 * z), 0.3, 20, 1),
    ("wbc", "s", 0.65, lambda z: np.exp(np.log(9.0) + 0.38 * z), 0.5, 60, 1),
    ("creatinine", "u_tab", 0.8, lambda z: np.exp(0.42 * z), 0.2, 15, 2),
    ("bun", "u_tab", 0.75, lambda z: np.exp(np.log(18) + 0.45 * z), 2, 150, 0),
    ("hemoglobin", "u_tab", 0.7, lambda z: 12.4 - 1.7 * z, 4, 19, 1),
    ("albumin", "u_tab", 0.75, lambda z: 3.6 - 0.5 * z, 1.0, 5.5, 1),
    ("bilirubin", "u_tab", 0.65, lambda z: np.exp(np.log(0.8) + 0.55 * z), 0.1, 30, 1),
    ("platelets", "u_tab", 0.6, lambda z: np.exp(np.log(230) - 0.32 * z), 5, 900, 0),
    ("sodium", "noise", 0.0, lambda z: 139 + 3.5 * z, 115, 165, 0),
    ("potassium", "noise", 0.0, lambda z: 4.2 + 0.45 * z, 2.0, 7.5, 1),
    ("glucose", "noise", 0.0, lambda z: np.exp(np.log(125) + 0.3 * z), 40, 800, 0),
    ("weight_kg", "noise", 0.0, lambda z: 80 + 17 * z, 35, 220, 1),
)
_CATEGORICAL = ("sex", "admission_type")
_ALWAYS_RECORDED = ("age", "sex", "admission_type")  # administrative: never a blank cell
_CELL_MISSING_GOOD, _CELL_MISSING_POOR = 0.02, 0.2
TABULAR_COLUMNS = (
    "age",
    "sex",
    "admission_type",
    "heart_rate",
    "sbp",
    "dbp",
    "map",
    "resp_rate",
    "spo2",
    "temperature",
    "fio2",
    "gcs",
    "lactate",
    "wbc",
    "creatinine",
    "bun",
    "hemoglobin",
    "albumin",
    "bilirubin",
    "platelets",
    "sodium",
    "potassium",
    "glucose",
    "weight_kg",
)
TABULAR_SIGNAL = {
    "s": ["admission_type", "heart_rate", "sbp", "dbp", "map", "resp_rate", "spo2"]
    + ["temperature", "fio2", "gcs", "lactate", "wbc"],
    "u_tab": ["age", "creatinine", "bun", "hemoglobin", "albumin", "bilirubin", "platelets"],
    "noise": ["sex", "sodium", "potassium", "glucose", "weight_kg"],
}


def _render_tabular(
    rng: np.random.Generator, reading: dict[str, np.ndarray], poor: np.ndarray
) -> pd.DataFrame:
    """ICU vitals and labs in real units; more blank cells when the record is poor."""
    n = len(poor)
    columns: dict[str, np.ndarray] = {}
    for name, driver, loading, link, lo, hi, decimals in _TABULAR:
        own = rng.standard_normal(n)
        z = (
            own
            if driver == "noise"
            else loading * reading[driver] + math.sqrt(1 - loading**2) * own
        )
        columns[name] = np.round(np.clip(link(z), lo, hi), decimals)
    columns["dbp"] = np.minimum(columns["dbp"], columns["sbp"] - 15)
    columns["map"] = np.round((columns["sbp"] + 2 * columns["dbp"]) / 3)
    z = 0.6 * reading["s"] + 0.8 * rng.standard_normal(n)
    admission = np.where(z < -0.6, "elective", np.where(z < 0.4, "urgent", "emergency"))

    columns["sex"] = np.where(rng.random(n) < 0.5, "F", "M")
    columns["admission_type"] = admission
    # categories as pandas' text dtype ("str", what read_cohort gives back), numbers as float64
    frame = pd.DataFrame(
        {
            name: pd.Series(columns[name], dtype="str" if name in _CATEGORICAL else np.float64)
            for name in TABULAR_COLUMNS
        }
    )
    rate = np.where(poor, _CELL_MISSING_POOR, _CELL_MISSING_GOOD)[:, None]
    blank = rng.random(frame.shape) < rate
    blank[:, [TABULAR_COLUMNS.index(c) for c in _ALWAYS_RECORDED]] = False
    # a blood pressure is measured whole: sbp, dbp and map are blank together
    bp = [TABULAR_COLUMNS.index(c) for c in ("sbp", "dbp", "map")]
    blank[:, bp] = blank[:, bp[:1]]
    return frame.mask(blank)


# -- text --------------------------------------------------------------------------------------
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


def _render_notes(
    rng: np.random.Generator, severity: np.ndarray, frailty: np.ndarray, poor: np.ndarray
) -> list[str]:
    """SOAP notes whose phrases follow the text readings of s and u_txt."""
    n = len(poor)
    # each sentence reads its factor with its own jitter, so many sentences carry a graded signal
    sev_level = np.searchsorted(_LEVEL_CUTS, severity[:, None] + 0.2 * rng.standard_normal((n, 14)))
    frail_level = np.searchsorted(_LEVEL_CUTS, frailty[:, None] + 0.2 * rng.standard_normal((n, 5)))
    pick = rng.random((n, 32))
    count = rng.random((n, 10))
    notes = []
    for i in range(n):
        draws = iter(pick[i])
        sev = iter(sev_level[i])
        frail = iter(frail_level[i])

        def choose(bank: tuple[str, ...], used: list[str], draws=draws) -> None:
            sentence = bank[int(next(draws) * len(bank))]
            if sentence not in used:
                used.append(sentence)

        subjective: list[str] = []
        for _ in range(1 + int(count[i, 0] < 0.7)):
            choose(_SUBJECTIVE[next(sev)], subjective)
        for _ in range(1 + int(count[i, 1] < 0.5)):
            choose(_HISTORY[next(frail)], subjective)
        objective: list[str] = []
        for _ in range(2 + int(count[i, 2] * 3)):
            choose(_OBJECTIVE[next(sev)], objective)
        for _ in range(int(count[i, 3] * 3)):
            choose(_FILLER, objective)
        assessment: list[str] = []
        for _ in range(1 + int(count[i, 4] < 0.5)):
            choose(_ASSESSMENT[next(sev)], assessment)
        choose(_BASELINE[next(frail)], assessment)
        plan: list[str] = []
        for _ in range(1 + int(count[i, 5] < 0.6)):
            choose(_PLAN[next(sev)], plan)
        choose(_GOALS[next(frail)], plan)
        for _ in range(int(count[i, 6] * 3)):
            choose(_FILLER, plan)
        if poor[i]:
            choose(_LIMITED, subjective if count[i, 7] < 0.5 else objective)
        notes.append(
            "\n".join(
                f"{head}: {' '.join(body)}"
                for head, body in (
                    ("S", subjective),
                    ("O", objective),
                    ("A", assessment),
                    ("P", plan),
                )
            )
        )
    return notes


# -- image -------------------------------------------------------------------------------------
_LUNGS = ((-0.37, -0.02, 0.27, 0.62), (0.37, -0.02, 0.25, 0.58))  # cx, cy, half-width, half-height


def _soft_ellipse(
    x: np.ndarray, y: np.ndarray, cx: Any, cy: Any, ax: Any, ay: Any, sharp: float
) -> np.ndarray:
    d = np.sqrt(((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2)
    return expit((1.0 - d) * sharp)


def _lung(
    x: np.ndarray, y: np.ndarray, cx: float, cy: float, ax: float, ay: float, sharp: float
) -> np.ndarray:
    """A lung field: an ellipse that narrows towards the apex."""
    taper = 0.7 + 0.3 * np.clip((y - cy + ay) / (1.2 * ay), 0.0, 1.0)
    return _soft_ellipse(x, y, cx, cy, ax * taper, ay, sharp)


def _cos_sum(along_x: np.ndarray, along_y: np.ndarray) -> np.ndarray:
    """cos(along_x + along_y) for (B, 1, S) and (B, S, 1) terms, without a (B, S, S) cos."""
    return np.cos(along_x) * np.cos(along_y) - np.sin(along_x) * np.sin(along_y)


def nodule_radius(image_reading: np.ndarray, size: int) -> np.ndarray:
    """Nodule radius in pixels from the image reading of u_img (0: no nodule)."""
    return np.round(np.clip(1.8 * (image_reading + 1.2), 0.0, 8.0) * size / 64.0, 2)


def _render_images(
    rng: np.random.Generator,
    severity: np.ndarray,
    lesion: np.ndarray,
    pattern: np.ndarray,
    poor: np.ndarray,
    size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Chest-like phantoms (B, S, S) uint8, and each nodule's row, column and radius (pixels).

    Lung fields are dark, mediastinum, spine and ribs bright; a diffuse lower-zone opacity
    follows severity, a bright nodule's radius follows lesion burden, and a cross-hatched
    reticular texture's amplitude follows the pattern factor. Poor quality is blurred and noisier.
    """
    b = len(poor)
    centre = ((np.arange(size) + 0.5) / size * 2.0 - 1.0).astype(np.float32)
    y = centre[None, :, None]  # (1, S, 1): rows, top = -1
    x = centre[None, None, :]  # (1, 1, S)
    sharp = 0.35 * size
    jitter = (0.03 * rng.standard_normal((b, 3))).astype(np.float32)  # position and size
    dx, dy = jitter[:, 0, None, None], jitter[:, 1, None, None]
    scale = 1.0 + jitter[:, 2, None, None]
    xs, ys = (x - dx) / scale, (y - dy) / scale  # (B, 1, S), (B, S, 1) patient-centred

    thorax = _soft_ellipse(xs, ys, 0.0, 0.1, 0.88, 0.98, sharp)
    lungs = sum(_lung(xs, ys, *lung, sharp) for lung in _LUNGS)
    heart = _soft_ellipse(xs, ys, 0.12, 0.36, 0.32, 0.26, sharp)
    mediastinum = expit((0.12 - np.abs(xs)) * sharp) * thorax
    spine = expit((0.06 - np.abs(xs)) * sharp * 2.0) * thorax
    rib_phase = (ys + 0.35 * xs**2) / 0.19
    ribs = np.maximum(np.cos(2 * np.pi * rib_phase), 0.0) ** 4 * thorax * (1.0 - mediastinum)
    image = 0.04 + 0.42 * thorax + 0.08 * mediastinum + 0.08 * spine + 0.08 * ribs
    field = lungs * (1.0 - 0.9 * heart)  # the lung field seen past the heart
    image = image - 0.30 * field + 0.06 * heart * thorax

    # diffuse opacity: lower zones first, patchy, strength follows severity
    strength = (0.38 * expit(1.4 * (severity - 0.3)))[:, None, None].astype(np.float32)
    waves = rng.uniform(0.0, 2 * np.pi, (b, 3, 3)).astype(np.float32)
    patch = 1.0 + 0.4 * sum(
        _cos_sum(waves[:, k, 0, None, None] * xs + waves[:, k, 2, None, None],
                 waves[:, k, 1, None, None] * ys)
        for k in range(3)
    )  # fmt: skip
    lower = np.clip(0.35 + 0.65 * (ys + 0.5) / 1.1, 0.15, 1.2)
    image = image + strength * field * np.clip(lower * patch, 0.1, 1.3)

    # reticular (honeycomb) texture: three gratings 60 degrees apart, amplitude follows pattern
    period = np.float32(max(4.0, size / 12.0) * 2.0 / size)  # in coordinate units
    turn = rng.uniform(0.0, np.pi / 3, b)[:, None, None] + np.arange(3) * np.pi / 3
    turn = turn.astype(np.float32)  # (B, 1, 3)
    phase = rng.uniform(0.0, 2 * np.pi, (b, 3)).astype(np.float32)
    honeycomb = sum(
        _cos_sum(2 * np.pi * x * np.cos(turn[:, :, k, None]) / period + phase[:, k, None, None],
                 2 * np.pi * y * np.sin(turn[:, :, k, None]) / period)
        for k in range(3)
    ) / 3.0  # fmt: skip
    amplitude = (0.10 * expit(1.5 * pattern))[:, None, None].astype(np.float32)
    image = image + amplitude * honeycomb * field

    # nodule: a bright disc somewhere in one lung, radius follows lesion burden
    radius = nodule_radius(lesion, size)
    side = (rng.random(b) < 0.5).astype(int)
    angle = rng.uniform(0.0, 2 * np.pi, b)
    reach = 0.7 * np.sqrt(rng.random(b))
    lung = np.array(_LUNGS)[side]  # (B, 4)
    nx = (lung[:, 0] + reach * lung[:, 2] * np.cos(angle)) * scale[:, 0, 0] + dx[:, 0, 0]
    ny = (lung[:, 1] + reach * lung[:, 3] * np.sin(angle)) * scale[:, 0, 0] + dy[:, 0, 0]
    col, row = (nx + 1.0) / 2.0 * size - 0.5, (ny + 1.0) / 2.0 * size - 0.5
    rows = np.arange(size, dtype=np.float32)[None, :, None]
    cols = np.arange(size, dtype=np.float32)[None, None, :]
    centre_row, centre_col = (v.astype(np.float32)[:, None, None] for v in (row, col))
    dist = np.sqrt((rows - centre_row) ** 2 + (cols - centre_col) ** 2)
    disc = expit((radius[:, None, None].astype(np.float32) - dist) * 2.5) * (
        radius[:, None, None] > 0
    )
    image = image + 0.32 * disc

    # exposure varies a little between films
    exposure = rng.standard_normal((b, 2)).astype(np.float32)
    image = image * (1.0 + 0.04 * exposure[:, 0, None, None]) + 0.015 * exposure[:, 1, None, None]
    if poor.any():
        sigma = 1.6 * size / 64.0
        image[poor] = ndimage.gaussian_filter(image[poor], sigma=(0, sigma, sigma), mode="nearest")
    noise_sd = np.where(poor, 0.045, 0.025).astype(np.float32)[:, None, None]
    image = image + noise_sd * rng.standard_normal(image.shape, dtype=np.float32)
    pixels = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    truth_row = np.where(radius > 0, np.round(row, 2), np.nan)
    truth_col = np.where(radius > 0, np.round(col, 2), np.nan)
    return pixels, truth_row, truth_col, radius


# -- RNA ---------------------------------------------------------------------------------------
_LIBRARY_MEDIAN, _LIBRARY_SD, _POOR_LIBRARY = 1.0e6, 0.35, 0.08
_DISPERSION = 0.15  # negative-binomial: Var = m + dispersion * m^2


@dataclass(frozen=True)
class _GeneModel:
    names: list[str]
    base: np.ndarray  # (G,) log mean expression
    loadings: np.ndarray  # (G, 5) programme loadings: u_rna, b, then the nuisance programmes
    programmes: list[list[str]]


POPULATION_SEED = 0  # the gene model belongs to the population, not to one cohort's draw


def _gene_model(config: SimConfig) -> _GeneModel:
    """Gene names, base expression and programmes: the same for every seed, so a model
    trained on one simulated cohort meets the same biology in another (held-out) cohort."""
    rng = _stream(POPULATION_SEED, "genes")
    g, size = config.n_genes, config.programme_size
    width = max(4, len(str(g)))
    names = [f"GENE{i + 1:0{width}d}" for i in range(g)]
    base = rng.normal(0.0, 1.8, g)
    chosen = rng.permutation(g)[: (2 + N_NUISANCE) * size].reshape(2 + N_NUISANCE, size)
    loadings = np.zeros((g, 2 + N_NUISANCE))
    for k, genes in enumerate(chosen):
        magnitude = rng.uniform(0.3, 0.8, size)
        sign = np.where(rng.random(size) < 0.8, 1.0, -1.0)
        loadings[genes, k] = magnitude * sign
    programmes = [[names[i] for i in sorted(genes)] for genes in chosen]
    return _GeneModel(names, base, loadings, programmes)


def _render_rna(
    rng: np.random.Generator, genes: _GeneModel, scores: np.ndarray, poor: np.ndarray
) -> np.ndarray:
    """Negative-binomial (gamma-Poisson) counts (B, G); poor libraries are much smaller."""
    log_mean = genes.base[None, :] + scores @ genes.loadings.T  # (B, G)
    log_mean -= log_mean.max(axis=1, keepdims=True)
    share = np.exp(log_mean)
    share /= share.sum(axis=1, keepdims=True)
    library = np.exp(np.log(_LIBRARY_MEDIAN) + _LIBRARY_SD * rng.standard_normal(len(poor)))
    library *= np.where(poor, _POOR_LIBRARY, 1.0)
    mean = library[:, None] * share
    rate = rng.gamma(1.0 / _DISPERSION, mean * _DISPERSION)
    return rng.poisson(rate).astype(np.float64)


# -- the generator -----------------------------------------------------------------------------
def _chunk_size(config: SimConfig) -> int:
    """Patients rendered together: bounded memory for images (a function of the config only)."""
    return max(8, min(256, (1 << 20) // config.image_size**2))


def simulate(
    config: SimConfig | None = None, progress: Callable[[int, int], None] | None = None
) -> Cohort:
    """A synthetic four-modality cohort that knows its truth (see the module docstring).

    progress(done, total) is called as patients are rendered. The result's truth holds each
    patient's latents, quality flags, nodule and oracle probabilities; meta holds the config,
    b0, which record columns and genes carry which factor, and the oracle AUROCs.
    """
    config = config or SimConfig()
    started = time.perf_counter()
    n, seed = config.n, config.seed
    width = max(5, len(str(n)))
    ids = [f"P{i + 1:0{width}d}" for i in range(n)]

    latents = _draw_latents(_stream(seed, "latents"), n)
    b0 = _intercept(config)
    eta = b0 + _linear_predictor(latents, config)
    p_true = ndtr(eta)
    labels = (latents["y_uniform"] < p_true).astype(np.int64)

    poor = _stream(seed, "quality").random((n, 4)) < config.poor_quality_rate  # (n, 4)
    noise = _stream(seed, "readings").standard_normal((n, len(READINGS)))
    reading_sd = np.empty_like(noise)
    for j, (_, modality) in enumerate(READINGS):
        m = MODALITIES.index(modality)
        reading_sd[:, j] = config.noise[m] * np.where(poor[:, m], config.kappa, 1.0)
    readings = np.stack([latents[name] for name, _ in READINGS], axis=1) + reading_sd * noise
    reading = {f"{name}/{mod.value}": readings[:, j] for j, (name, mod) in enumerate(READINGS)}
    present = _presence(_stream(seed, "missing"), latents["s"], config)
    ceiling = noisy_ceiling(readings, reading_sd, present, config, b0)

    tab, txt, img, rna = range(4)  # column of each modality, in MODALITIES order
    clinical = _render_tabular(
        _stream(seed, "tabular"),
        {"s": reading["s/tabular"], "u_tab": reading["u_tab/tabular"]},
        poor[:, tab],
    )
    clinical.index = pd.Index(ids, name=ID)
    clinical.loc[~present[:, tab]] = np.nan

    genes = _gene_model(config)
    scores = np.column_stack([reading["u_rna/rna"], reading["b/rna"], latents["nuisance"]])
    notes: dict[str, str] = {}
    images: dict[str, np.ndarray] = {}
    counts: list[np.ndarray] = []
    nodule = np.empty((n, 3))
    step = _chunk_size(config)
    for chunk, start in enumerate(range(0, n, step)):
        part = slice(start, min(start + step, n))
        for i, note in enumerate(
            _render_notes(
                _stream(seed, "render", txt, chunk),
                reading["s/text"][part],
                reading["u_txt/text"][part],
                poor[part, txt],
            ),
            start=start,
        ):
            if present[i, txt]:
                notes[ids[i]] = note
        pixels, *where = _render_images(
            _stream(seed, "render", img, chunk),
            reading["s/image"][part],
            reading["u_img/image"][part],
            reading["a/image"][part],
            poor[part, img],
            config.image_size,
        )
        nodule[part] = np.column_stack(where)
        for i, picture in enumerate(pixels, start=start):
            if present[i, img]:
                images[ids[i]] = picture.astype(np.float32) / np.float32(255.0)
        block = _render_rna(
            _stream(seed, "render", rna, chunk), genes, scores[part], poor[part, rna]
        )
        counts.append(block[present[part, rna]])
        if progress is not None:
            progress(part.stop, n)

    rna_ids = [ids[i] for i in np.flatnonzero(present[:, rna])]
    rnaseq = None
    if rna_ids:
        rnaseq = pd.DataFrame(
            np.concatenate(counts), index=pd.Index(rna_ids, name=ID), columns=genes.names
        )
    truth = pd.DataFrame(
        {
            "p_true": p_true,
            "eta": eta,
            **{name: latents[name] for name in LATENTS},
            # 1 = poor, 0 = good; float, as truth.csv reads back
            **{
                f"quality_{m.value}": poor[:, i].astype(np.float64)
                for i, m in enumerate(MODALITIES)
            },
            "nodule_row": nodule[:, 0],
            "nodule_col": nodule[:, 1],
            "nodule_radius": nodule[:, 2],
            "p_noisy_ceiling": ceiling,
        },
        index=pd.Index(ids, name=ID),
    )
    cohort = Cohort(
        clinical=clinical,
        labels=pd.Series(labels, index=pd.Index(ids, name=ID), name=LABEL),
        notes=notes,
        images=images,
        rnaseq=rnaseq,
        truth=truth,
    )
    cohort.meta = {
        "simulator": "amff.data.simulate",
        "version": 1,
        "config": config.to_dict(),
        "b0": b0,
        "tabular_signal_columns": {k: list(v) for k, v in TABULAR_SIGNAL.items()},
        "rna_programme_u_rna": genes.programmes[0],
        "rna_programme_b": genes.programmes[1],
        "rna_nuisance_programmes": genes.programmes[2:],
        "image_size": config.image_size,
        "oracle": {k: (None if isinstance(v, float) and math.isnan(v) else v)
                   for k, v in oracle_report(cohort).items()},
    }  # fmt: skip
    logger.info(
        "simulated %d patients in %.1f s (prevalence %.3f)",
        n,
        time.perf_counter() - started,
        labels.mean(),
    )
    return cohort


# -- oracles -----------------------------------------------------------------------------------
def _auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores))


def oracle_report(cohort: Cohort) -> dict[str, float]:
    """Bayes AUROC (of p_true), the ceiling given the noisy readings, prevalence and n."""
    if cohort.truth is None or cohort.labels is None:
        raise InputError(
            "this cohort has no truth table or no labels; oracles exist only for simulated cohorts"
        )
    truth = cohort.truth.reindex(cohort.labels.index)
    labels = cohort.labels.to_numpy()
    return {
        "bayes_auroc": _auroc(labels, truth["p_true"].to_numpy()),
        "noisy_ceiling_auroc": _auroc(labels, truth["p_noisy_ceiling"].to_numpy()),
        "prevalence": float(labels.mean()),
        "n": int(len(labels)),
    }


# -- test-time corruption and missingness ------------------------------------------------------
def _copy(cohort: Cohort) -> Cohort:
    return Cohort(
        clinical=cohort.clinical.copy(),
        labels=None if cohort.labels is None else cohort.labels.copy(),
        notes=dict(cohort.notes),
        images={pid: image.copy() for pid, image in cohort.images.items()},
        rnaseq=None if cohort.rnaseq is None else cohort.rnaseq.copy(),
        truth=None if cohort.truth is None else cohort.truth.copy(),
        meta=copy.deepcopy(cohort.meta),
    )


def _check_rate(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise InputError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def corrupt(cohort: Cohort, modality: Modality | str, severity: float, seed: int) -> Cohort:
    """A copy of the cohort with one modality corrupted at severity in [0, 1] (0: unchanged).

    tabular: gaussian noise of severity x each column's sd, and up to 30% of cells blanked;
    text: up to 40% of sentences dropped and 50% of words swapped for words of other notes;
    image: gaussian blur (sigma up to 2 px at 64 px) and noise (sd up to 0.12);
    rna: binomial thinning to as little as 10% of the library, and log-normal noise.
    A patient keeps the modality (at least one cell or sentence survives); never mutates.
    """
    severity = _check_rate("severity", severity)
    try:
        modality = Modality(modality)
    except ValueError:
        raise InputError(
            f"unknown modality {modality!r}; use one of {[m.value for m in MODALITIES]}"
        ) from None
    out = _copy(cohort)
    if severity == 0.0:
        return out
    rng = np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(101, MODALITIES.index(modality)))
    )
    if modality is Modality.TABULAR:
        out.clinical = _corrupt_tabular(rng, out.clinical, severity)
    elif modality is Modality.TEXT:
        out.notes = _corrupt_notes(rng, out.notes, severity)
    elif modality is Modality.IMAGE:
        for pid in sorted(out.images):
            out.images[pid] = _corrupt_image(rng, out.images[pid], severity)
    elif out.rnaseq is not None and len(out.rnaseq):
        counts = np.rint(out.rnaseq.to_numpy(dtype=np.float64)).astype(np.int64)
        thinned = rng.binomial(counts, 1.0 - 0.9 * severity)
        sd = 0.5 * severity
        jitter = np.exp(sd * rng.standard_normal(counts.shape) - 0.5 * sd**2)
        out.rnaseq = pd.DataFrame(
            rng.poisson(thinned * jitter).astype(np.float64),
            index=out.rnaseq.index,
            columns=out.rnaseq.columns,
        )
    return out


def _corrupt_tabular(
    rng: np.random.Generator, clinical: pd.DataFrame, severity: float
) -> pd.DataFrame:
    frame = clinical.copy()
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column):
            values = column.to_numpy(dtype=np.float64)
            sd = float(np.nanstd(values)) if np.isfinite(values).any() else 0.0
            frame[name] = values + severity * sd * rng.standard_normal(len(values))
    had = frame.notna().to_numpy()
    blank = had & (rng.random(frame.shape) < 0.3 * severity)
    emptied = had.any(axis=1) & ~(had & ~blank).any(axis=1)
    if emptied.any():  # keep one recorded cell, chosen at random, where all would go
        choice = np.argmax(np.where(had, rng.random(had.shape), -1.0), axis=1)
        rows = np.flatnonzero(emptied)
        blank[rows, choice[rows]] = False
    return frame.mask(blank)


def _corrupt_notes(
    rng: np.random.Generator, notes: dict[str, str], severity: float
) -> dict[str, str]:
    vocabulary = sorted({w for text in notes.values() for w in text.split() if not w.endswith(":")})
    if not vocabulary:
        return dict(notes)
    out = {}
    for pid in sorted(notes):
        lines = []
        for line in notes[pid].split("\n"):
            head, sep, body = (
                line.partition(": ") if re.match(r"^[A-Z]+: ", line) else ("", "", line)
            )
            sentences = [s for s in re.split(r"(?<=[.;!?])\s+", body) if s]
            kept = [s for s in sentences if rng.random() >= 0.4 * severity]
            words = " ".join(kept).split()
            swap = rng.random(len(words)) < 0.5 * severity
            picks = rng.integers(0, len(vocabulary), len(words))
            words = [vocabulary[p] if s else w for w, s, p in zip(words, swap, picks)]
            lines.append(f"{head}{sep}{' '.join(words)}")
        text = "\n".join(lines)
        if not " ".join(lines).replace(":", "").split() or not any(
            line.partition(": ")[2].strip() for line in lines
        ):
            text = notes[pid].split("\n")[0]  # everything dropped: keep the first section
        out[pid] = text
    return out


def _corrupt_image(rng: np.random.Generator, image: np.ndarray, severity: float) -> np.ndarray:
    sigma = 2.0 * severity * min(image.shape) / 64.0
    blurred = ndimage.gaussian_filter(image.astype(np.float64), sigma=sigma, mode="nearest")
    noisy = blurred + 0.12 * severity * rng.standard_normal(image.shape)
    return (np.clip(np.rint(noisy * 255.0), 0, 255) / 255.0).astype(np.float32)


def drop_modalities(cohort: Cohort, rate: float, seed: int) -> Cohort:
    """A copy where each present modality of each patient is removed with probability rate.

    Every patient keeps at least one of the modalities it had. Removing the record sets all of
    that patient's feature cells to NaN (the row and its label stay).
    """
    rate = _check_rate("rate", rate)
    out = _copy(cohort)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(102,)))
    had = cohort.present_matrix()  # (N, 4)
    drop = had & (rng.random(had.shape) < rate)
    keep_one = np.argmax(np.where(had, rng.random(had.shape), -1.0), axis=1)
    emptied = had.any(axis=1) & ~(had & ~drop).any(axis=1)
    rows = np.flatnonzero(emptied)
    drop[rows, keep_one[rows]] = False
    ids = np.asarray(cohort.ids, dtype=object)
    for m, modality in enumerate(MODALITIES):
        gone = set(ids[drop[:, m]])
        if not gone:
            continue
        if modality is Modality.TABULAR:
            out.clinical.loc[drop[:, m]] = np.nan
        elif modality is Modality.TEXT:
            out.notes = {pid: t for pid, t in out.notes.items() if pid not in gone}
        elif modality is Modality.IMAGE:
            out.images = {pid: a for pid, a in out.images.items() if pid not in gone}
        elif out.rnaseq is not None:
            kept = out.rnaseq.loc[~out.rnaseq.index.isin(list(gone))]
            out.rnaseq = kept if len(kept) else None
    return out


__all__ = [
    "SimConfig",
    "corrupt",
    "drop_modalities",
    "noisy_ceiling",
    "oracle_report",
    "simulate",
]
