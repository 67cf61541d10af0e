"""Everything drawn before rendering: latent factors, the outcome (linear predictor, intercept),
quality flags, each modality's noisy readings, and who has which modality."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit, ndtr

from amff.modalities import MODALITIES, Modality
from amff.simulator.config import (
    N_NUISANCE,
    SUBTYPE_MEAN,
    SUBTYPE_RATE,
    SUBTYPE_SD,
    SimConfig,
    stream,
)

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
_B0_DRAW = 200_000  # size of the fixed internal draw that sets b0
_B0_SEED = 20_240_601


@dataclass(frozen=True)
class Patients:
    """One cohort's draws, one row per patient; modality columns in MODALITIES order."""

    latents: dict[str, np.ndarray]  # LATENTS (n,), "nuisance" (n, 3), "y_uniform" (n,)
    b0: float
    eta: np.ndarray  # (n,) b0 + the linear predictor
    p_true: np.ndarray  # (n,) Phi(eta)
    labels: np.ndarray  # (n,) int64
    poor: np.ndarray  # (n, 4) bool: poor quality
    readings: np.ndarray  # (n, 9) in READINGS order
    reading_sd: np.ndarray  # (n, 9) the noise sd of each reading
    present: np.ndarray  # (n, 4) bool: has the modality

    def reading(self, latent: str, modality: Modality) -> np.ndarray:
        """(n,) the reading of one latent by one modality."""
        return self.readings[:, READINGS.index((latent, modality))]


def draw_patients(config: SimConfig) -> Patients:
    """Latents, outcome, quality, readings and presence, each from its own random stream."""
    n, seed = config.n, config.seed
    latents = draw_latents(stream(seed, "latents"), n)
    b0 = intercept(config)
    eta = b0 + linear_predictor(latents, config)
    p_true = ndtr(eta)
    labels = (latents["y_uniform"] < p_true).astype(np.int64)
    poor = stream(seed, "quality").random((n, 4)) < config.poor_quality_rate  # (n, 4)
    readings, reading_sd = draw_readings(stream(seed, "readings"), latents, poor, config)
    present = presence(stream(seed, "missing"), latents["s"], config)
    return Patients(latents, b0, eta, p_true, labels, poor, readings, reading_sd, present)


def draw_latents(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """The latent factors, the nuisance latents (n, 3) and the outcome's uniform draw."""
    out = {name: rng.standard_normal(n) for name in ("s", "u_tab", "u_txt", "u_img")}
    subtype = rng.random(n) < SUBTYPE_RATE
    out["u_rna"] = np.where(subtype, rng.normal(SUBTYPE_MEAN, SUBTYPE_SD, n), 0.0)
    out["a"] = rng.standard_normal(n)
    out["b"] = rng.standard_normal(n)
    out["nuisance"] = rng.standard_normal((n, N_NUISANCE))
    out["y_uniform"] = rng.random(n)
    return out


def linear_predictor(latents: dict[str, np.ndarray], config: SimConfig) -> np.ndarray:
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
    latents = draw_latents(np.random.default_rng(_B0_SEED), _B0_DRAW)
    eta = linear_predictor(latents, config)
    return float(brentq(lambda b0: ndtr(b0 + eta).mean() - prevalence, -30.0, 30.0, xtol=1e-12))


def intercept(config: SimConfig) -> float:
    """b0 for the config's weights and prevalence (cached: the same weights, the same b0)."""
    weights = (config.w_s, config.w_tab, config.w_txt, config.w_img, config.w_rna, config.gamma)
    return _intercept_for(weights, config.prevalence)


def draw_readings(
    rng: np.random.Generator,
    latents: dict[str, np.ndarray],
    poor: np.ndarray,
    config: SimConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """(n, 9) readings in READINGS order and their noise sd: kappa times larger when poor."""
    n = len(poor)
    noise = rng.standard_normal((n, len(READINGS)))
    reading_sd = np.empty_like(noise)
    for j, (_, modality) in enumerate(READINGS):
        m = MODALITIES.index(modality)
        reading_sd[:, j] = config.noise[m] * np.where(poor[:, m], config.kappa, 1.0)
    readings = np.stack([latents[name] for name, _ in READINGS], axis=1) + reading_sd * noise
    return readings, reading_sd


def presence(rng: np.random.Generator, severity: np.ndarray, config: SimConfig) -> np.ndarray:
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
