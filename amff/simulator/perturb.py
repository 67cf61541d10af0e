"""Test-time perturbations of any cohort: one modality corrupted, or modalities dropped."""

from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd
from scipy import ndimage

from amff.data.cohort import Cohort
from amff.errors import InputError
from amff.modalities import MODALITIES, Modality


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
        out.rnaseq = _corrupt_rna(rng, out.rnaseq, severity)
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


def _corrupt_rna(rng: np.random.Generator, rnaseq: pd.DataFrame, severity: float) -> pd.DataFrame:
    counts = np.rint(rnaseq.to_numpy(dtype=np.float64)).astype(np.int64)
    thinned = rng.binomial(counts, 1.0 - 0.9 * severity)
    sd = 0.5 * severity
    jitter = np.exp(sd * rng.standard_normal(counts.shape) - 0.5 * sd**2)
    return pd.DataFrame(
        rng.poisson(thinned * jitter).astype(np.float64),
        index=rnaseq.index,
        columns=rnaseq.columns,
    )


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
