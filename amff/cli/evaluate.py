"""`python -m amff evaluate --checkpoint CKPT --data DIR`: held-out metrics as JSON on stdout."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from amff.cli.common import (
    add_modalities_flag,
    add_scoring_flags,
    finite,
    modalities_flag,
    progress_bar,
    say,
)
from amff.errors import InputError


def add_parser(subparsers: Any) -> None:
    """Add `evaluate`."""
    p = subparsers.add_parser("evaluate", help="held-out metrics as JSON on stdout")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True, help="cohort folder with labels")
    add_modalities_flag(p)
    p.add_argument("--all-subsets", action="store_true", help="add a row per modality subset")
    add_scoring_flags(p)
    p.set_defaults(func=run)


def evaluate_cohort(
    predictor: Any, cohort: Any, modalities: Sequence[Any] | None
) -> dict[str, Any]:
    """Metrics of one modality subset on a labelled cohort (patients with none of it skipped)."""
    encoded = predictor.encode(cohort)
    arrays = predictor.predict_arrays(encoded, modalities)
    return subset_metrics(encoded.labels, arrays["probability"], predictor.threshold)


def subset_metrics(labels: Any, prob: Any, threshold: float) -> dict[str, Any]:
    """all_metrics over the patients that have a probability, and how many do not."""
    import numpy as np

    from amff import metrics

    keep = ~np.isnan(prob)
    result = metrics.all_metrics(labels[keep], prob[keep], threshold)
    result["n_without_modalities"] = int((~keep).sum())
    return result


def run(args: argparse.Namespace) -> int:
    """Metrics on a labelled cohort folder of any size, read and scored in chunks (shared by
    the processes under torchrun; rank 0 prints)."""
    import numpy as np

    import amff
    from amff import distributed
    from amff.data.folder import CohortChunks
    from amff.modalities import all_subsets, subset_name
    from amff.predictor import encode_folder, probabilities_chunk

    chosen = modalities_flag(args.modalities)
    ctx, device = distributed.setup(args.device)
    try:
        predictor = amff.load(args.checkpoint)
        chosen = tuple(m for m in chosen if m in predictor.modalities)
        subsets = [chosen] + (all_subsets(predictor.modalities) if args.all_subsets else [])
        chunks = CohortChunks(args.data, args.chunk_size)
        if chunks.labels is None:
            raise InputError(
                f"{Path(args.data) / 'clinical.csv'}: no label column; evaluate needs 0/1 labels "
                "(use predict for unlabelled patients)"
            )
        labels: list[Any] = []
        probs: list[list[Any]] = [[] for _ in subsets]
        with progress_bar("evaluate", len(chunks.ids), args.quiet or not ctx.is_main) as bar:
            for encoded in encode_folder(predictor, chunks, device, bar.update):
                labels.append(encoded.labels)
                for i, subset in enumerate(subsets):
                    probs[i].append(probabilities_chunk(predictor, encoded, subset))
        if ctx.is_main:
            y = np.concatenate(labels)
            scores = [subset_metrics(y, np.concatenate(p), predictor.threshold) for p in probs]
            result: dict[str, Any] = {"checkpoint": str(args.checkpoint), "kind": predictor.kind}
            result["modalities"] = subset_name(chosen)
            result.update(scores[0])
            bayes = _bayes_auroc(chunks, y, Path(args.data) / "truth.csv")
            if bayes is not None:
                result["bayes_auroc"] = bayes
            if args.all_subsets:
                result["subsets"] = [
                    {"modalities": subset_name(s), **score}
                    for s, score in zip(subsets[1:], scores[1:])
                ]
            say(json.dumps(finite(result), indent=1))
    finally:
        distributed.teardown()
    return 0


def _bayes_auroc(chunks: Any, labels: Any, truth_path: Path) -> float | None:
    """The AUROC of the simulator's true probabilities, when the folder has them."""
    if chunks.truth is None or "p_true" not in chunks.truth.columns:
        return None
    import pandas as pd

    from amff import metrics

    ids = pd.Index(chunks.ids)
    missing = ids[~ids.isin(chunks.truth.index)]
    if len(missing):
        raise InputError(
            f"{truth_path}: no row for patient {missing[0]!r}; give every patient a row, or "
            "remove truth.csv"
        )
    truth = chunks.truth.loc[chunks.ids, "p_true"].to_numpy(dtype=float)
    return metrics.auroc(labels, truth)
