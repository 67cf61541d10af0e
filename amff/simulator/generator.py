"""simulate(): draw the patients, render each modality in chunks, attach the truth and oracles."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from amff.data.cohort import Cohort
from amff.data.tables import ID, LABEL
from amff.modalities import MODALITIES, Modality
from amff.simulator.config import SimConfig, stream
from amff.simulator.latents import LATENTS, Patients, draw_patients
from amff.simulator.oracles import noisy_ceiling, oracle_report
from amff.simulator.render_image import render_images
from amff.simulator.render_rna import GeneModel, gene_model, render_rna
from amff.simulator.render_tabular import TABULAR_SIGNAL, render_tabular
from amff.simulator.render_text import render_notes

logger = logging.getLogger(__name__)

_TAB, _TXT, _IMG, _RNA = range(4)  # column of each modality, in MODALITIES order


@dataclass
class _Media:
    """What the chunked renderers give back: only for patients that have the modality."""

    nodule: np.ndarray  # (n, 3) row, column, radius (pixels), for every patient
    notes: dict[str, str] = field(default_factory=dict)
    images: dict[str, np.ndarray] = field(default_factory=dict)
    counts: list[np.ndarray] = field(default_factory=list)  # (B_present, G) per chunk


def simulate(
    config: SimConfig | None = None, progress: Callable[[int, int], None] | None = None
) -> Cohort:
    """A synthetic four-modality cohort that knows its truth (see amff.simulator).

    progress(done, total) is called as patients are rendered. The result's truth holds each
    patient's latents, quality flags, nodule and oracle probabilities; meta holds the config,
    b0, which record columns and genes carry which factor, and the oracle AUROCs.
    """
    config = config or SimConfig()
    started = time.perf_counter()
    width = max(5, len(str(config.n)))
    ids = [f"P{i + 1:0{width}d}" for i in range(config.n)]

    patients = draw_patients(config)
    ceiling = noisy_ceiling(
        patients.readings, patients.reading_sd, patients.present, config, patients.b0
    )
    genes = gene_model(config)
    media = _render_media(config, patients, genes, ids, progress)
    cohort = Cohort(
        clinical=_clinical(config, patients, ids),
        labels=pd.Series(patients.labels, index=pd.Index(ids, name=ID), name=LABEL),
        notes=media.notes,
        images=media.images,
        rnaseq=_rnaseq(patients, media, genes, ids),
        truth=_truth(patients, ceiling, media.nodule, ids),
    )
    cohort.meta = _meta(config, patients.b0, genes, cohort)
    logger.info(
        "simulated %d patients in %.1f s (prevalence %.3f)",
        config.n,
        time.perf_counter() - started,
        patients.labels.mean(),
    )
    return cohort


def _chunk_size(config: SimConfig) -> int:
    """Patients rendered together: bounded memory for images (a function of the config only)."""
    return max(8, min(256, (1 << 20) // config.image_size**2))


def _clinical(config: SimConfig, patients: Patients, ids: list[str]) -> pd.DataFrame:
    """The record of every patient; all feature cells blank where the record is missing."""
    clinical = render_tabular(
        stream(config.seed, "tabular"),
        {
            "s": patients.reading("s", Modality.TABULAR),
            "u_tab": patients.reading("u_tab", Modality.TABULAR),
        },
        patients.poor[:, _TAB],
    )
    clinical.index = pd.Index(ids, name=ID)
    clinical.loc[~patients.present[:, _TAB]] = np.nan
    return clinical


def _render_media(
    config: SimConfig,
    patients: Patients,
    genes: GeneModel,
    ids: list[str],
    progress: Callable[[int, int], None] | None,
) -> _Media:
    """Notes, images and RNA counts, rendered a chunk of patients at a time; each chunk and
    modality has its own random stream, so the chunk size never changes a patient."""
    n, seed, present, poor = config.n, config.seed, patients.present, patients.poor
    scores = np.column_stack(
        [
            patients.reading("u_rna", Modality.RNA),
            patients.reading("b", Modality.RNA),
            patients.latents["nuisance"],
        ]
    )  # (n, 5): one score per gene programme
    media = _Media(np.empty((n, 3)))
    step = _chunk_size(config)
    for chunk, start in enumerate(range(0, n, step)):
        part = slice(start, min(start + step, n))
        notes = render_notes(
            stream(seed, "render", _TXT, chunk),
            patients.reading("s", Modality.TEXT)[part],
            patients.reading("u_txt", Modality.TEXT)[part],
            poor[part, _TXT],
        )
        for i, note in enumerate(notes, start=start):
            if present[i, _TXT]:
                media.notes[ids[i]] = note
        pixels, *where = render_images(
            stream(seed, "render", _IMG, chunk),
            patients.reading("s", Modality.IMAGE)[part],
            patients.reading("u_img", Modality.IMAGE)[part],
            patients.reading("a", Modality.IMAGE)[part],
            poor[part, _IMG],
            config.image_size,
        )
        media.nodule[part] = np.column_stack(where)
        for i, picture in enumerate(pixels, start=start):
            if present[i, _IMG]:
                media.images[ids[i]] = picture.astype(np.float32) / np.float32(255.0)
        block = render_rna(
            stream(seed, "render", _RNA, chunk), genes, scores[part], poor[part, _RNA]
        )
        media.counts.append(block[present[part, _RNA]])
        if progress is not None:
            progress(part.stop, n)
    return media


def _rnaseq(
    patients: Patients, media: _Media, genes: GeneModel, ids: list[str]
) -> pd.DataFrame | None:
    """The counts of the patients with RNA-seq, or None when nobody has it."""
    rna_ids = [ids[i] for i in np.flatnonzero(patients.present[:, _RNA])]
    if not rna_ids:
        return None
    return pd.DataFrame(
        np.concatenate(media.counts), index=pd.Index(rna_ids, name=ID), columns=genes.names
    )


def _truth(
    patients: Patients, ceiling: np.ndarray, nodule: np.ndarray, ids: list[str]
) -> pd.DataFrame:
    """truth.csv: the oracle probabilities, eta, the latents, quality flags and the nodule."""
    return pd.DataFrame(
        {
            "p_true": patients.p_true,
            "eta": patients.eta,
            **{name: patients.latents[name] for name in LATENTS},
            # 1 = poor, 0 = good; float, as truth.csv reads back
            **{
                f"quality_{m.value}": patients.poor[:, i].astype(np.float64)
                for i, m in enumerate(MODALITIES)
            },
            "nodule_row": nodule[:, 0],
            "nodule_col": nodule[:, 1],
            "nodule_radius": nodule[:, 2],
            "p_noisy_ceiling": ceiling,
        },
        index=pd.Index(ids, name=ID),
    )


def _meta(config: SimConfig, b0: float, genes: GeneModel, cohort: Cohort) -> dict[str, Any]:
    """truth.json: the config, b0, where the signal lives, and the oracle AUROCs."""
    return {
        # the simulator's name when this format was fixed; kept so folders stay byte-identical
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
