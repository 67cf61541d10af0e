"""Small hand-built cohorts for tests: other features, genes and image sizes than the simulator.

`make_toy_cohort(signal=...)` puts the label's signal in the chosen modalities only, so a test
can check that a model finds the modality that carries it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from amff.data.cohort import Cohort
from amff.modalities import Modality

WORDS_POS = ["fever", "rigors", "hypotension", "confusion", "tachycardia"]
WORDS_NEG = ["stable", "comfortable", "afebrile", "ambulating", "eating"]


def make_toy_cohort(
    n: int = 200,
    seed: int = 0,
    signal: tuple[Modality, ...] = (Modality.TABULAR, Modality.TEXT, Modality.IMAGE, Modality.RNA),
    image_size: int = 40,
    n_genes: int = 30,
    missing: float = 0.1,
    strength: float = 2.0,
) -> Cohort:
    """A cohort whose label depends on a latent z seen only by the modalities in `signal`."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    y = (z + 0.5 * rng.normal(size=n) > 0).astype(int)
    ids = [f"T{i:04d}" for i in range(n)]

    def seen(m: Modality) -> np.ndarray:
        return strength * z if m in signal else np.zeros(n)

    tab = seen(Modality.TABULAR)
    clinical = pd.DataFrame(
        {
            "marker_a": np.round(10 + tab + rng.normal(size=n), 2),
            "marker_b": np.round(rng.normal(size=n), 2),
            "ward": rng.choice(["north", "south", "east"], size=n).astype(object),
        },
        index=pd.Index(ids, name="patient_id"),
    )
    clinical.loc[rng.random(n) < 0.1, "marker_b"] = np.nan
    txt = seen(Modality.TEXT)
    notes = {}
    for i, pid in enumerate(ids):
        bank = WORDS_POS if txt[i] + 0.3 * rng.normal() > 0 else WORDS_NEG
        words = (
            list(rng.choice(bank, size=4))
            if txt[i] != 0
            else list(rng.choice(WORDS_NEG + WORDS_POS, size=4))
        )
        notes[pid] = "patient seen today. " + " ".join(words) + "."
    img = seen(Modality.IMAGE)
    images = {}
    yy, xx = np.mgrid[0:image_size, 0:image_size] / image_size
    for i, pid in enumerate(ids):
        blob = np.exp(-((yy - 0.5) ** 2 + (xx - 0.5) ** 2) / 0.02)
        pixels = 0.3 + 0.1 * img[i] * blob + 0.05 * rng.normal(size=blob.shape)
        images[pid] = (np.clip(np.rint(pixels * 255), 0, 255) / 255).astype(np.float32)
    rna_signal = seen(Modality.RNA)
    means = rng.uniform(5, 50, size=n_genes)
    effects = np.zeros(n_genes)
    effects[:5] = 0.6
    rates = means * np.exp(np.outer(rna_signal, effects))
    counts = rng.poisson(rates).astype(np.float64)
    rnaseq = pd.DataFrame(
        counts, index=pd.Index(ids, name="patient_id"), columns=[f"g{j}" for j in range(n_genes)]
    )
    cohort = Cohort(
        clinical=clinical,
        labels=pd.Series(y, index=clinical.index, name="label"),
        notes=notes,
        images=images,
        rnaseq=rnaseq,
    )
    # some modalities missing at random
    for pid in ids:
        if rng.random() < missing:
            cohort.notes.pop(pid, None)
        if rng.random() < missing:
            cohort.images.pop(pid, None)
    drop = [pid for pid in ids if rng.random() < missing]
    cohort.rnaseq = cohort.rnaseq.drop(index=drop)
    return cohort
