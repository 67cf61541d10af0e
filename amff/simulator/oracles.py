"""The oracles: P(y | the noisy readings) per patient, and the cohort's oracle AUROCs."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit, ndtr
from sklearn.metrics import roc_auc_score

from amff.data.cohort import Cohort
from amff.errors import InputError
from amff.modalities import MODALITIES, Modality
from amff.simulator.config import SUBTYPE_MEAN, SUBTYPE_RATE, SUBTYPE_SD, SimConfig
from amff.simulator.latents import READINGS


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

    rna = col[("u_rna", Modality.RNA)]
    return _with_subtype(
        mean, var, readings[:, rna], reading_sd[:, rna], m[Modality.RNA], config.w_rna
    )


def _with_subtype(
    mean: np.ndarray,
    var: np.ndarray,
    reading: np.ndarray,
    reading_sd: np.ndarray,
    has: np.ndarray,
    w_rna: float,
) -> np.ndarray:
    """P(y = 1) given eta's Gaussian part (mean, var) and the RNA reading of u_rna.

    u_rna is a spike at 0 (weight 0.85) and a slab N(2, 0.5^2): its exact posterior has two
    components, each adding its own Gaussian term to eta.
    """
    sd2 = np.maximum(reading_sd, 1e-9) ** 2
    log0 = math.log(1 - SUBTYPE_RATE) - 0.5 * reading**2 / sd2 - 0.5 * np.log(sd2)
    slab = SUBTYPE_SD**2 + sd2
    log1 = math.log(SUBTYPE_RATE) - 0.5 * (reading - SUBTYPE_MEAN) ** 2 / slab - 0.5 * np.log(slab)
    w1 = np.where(has, expit(log1 - log0), SUBTYPE_RATE)
    v1 = np.where(has, 1.0 / (1.0 / SUBTYPE_SD**2 + 1.0 / sd2), SUBTYPE_SD**2)
    mu1 = np.where(has, v1 * (SUBTYPE_MEAN / SUBTYPE_SD**2 + reading / sd2), SUBTYPE_MEAN)
    p_spike = ndtr(mean / np.sqrt(1.0 + var))
    p_slab = ndtr((mean + w_rna * mu1) / np.sqrt(1.0 + var + w_rna**2 * v1))
    return (1.0 - w1) * p_spike + w1 * p_slab


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
