"""RNA-seq: a population gene model (names, base expression, programmes) and NB counts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from amff.simulator.config import N_NUISANCE, SimConfig, stream

_LIBRARY_MEDIAN, _LIBRARY_SD, _POOR_LIBRARY = 1.0e6, 0.35, 0.08
_DISPERSION = 0.15  # negative-binomial: Var = m + dispersion * m^2


@dataclass(frozen=True)
class GeneModel:
    names: list[str]
    base: np.ndarray  # (G,) log mean expression
    loadings: np.ndarray  # (G, 5) programme loadings: u_rna, b, then the nuisance programmes
    programmes: list[list[str]]


POPULATION_SEED = 0  # the gene model belongs to the population, not to one cohort's draw


def gene_model(config: SimConfig) -> GeneModel:
    """Gene names, base expression and programmes: the same for every seed, so a model
    trained on one simulated cohort meets the same biology in another (held-out) cohort."""
    rng = stream(POPULATION_SEED, "genes")
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
    return GeneModel(names, base, loadings, programmes)


def render_rna(
    rng: np.random.Generator, genes: GeneModel, scores: np.ndarray, poor: np.ndarray
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
