"""`python -m amff predict --checkpoint CKPT --data DIR --out preds.csv`: a predictions CSV."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from amff.cli.common import (
    CliError,
    add_modalities_flag,
    add_scoring_flags,
    modalities_flag,
    progress_bar,
    refuse_inside,
    say,
    write_csv_chunks,
)


def add_parser(subparsers: Any) -> None:
    """Add `predict`."""
    p = subparsers.add_parser("predict", help="predictions CSV for a cohort folder")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True, help="cohort folder (labels not needed)")
    p.add_argument("--out", required=True, help="CSV file to write")
    add_modalities_flag(p)
    add_scoring_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Predictions for a cohort folder of any size: read, scored and written in chunks, so
    memory stays flat (shared by the processes under torchrun; rank 0 writes)."""
    import amff
    from amff import distributed
    from amff.data.folder import CohortChunks
    from amff.predictor import encode_folder, predict_chunk

    out = Path(args.out)
    if out.is_dir():
        raise CliError(f"--out {out}: is a folder; give a file name such as preds.csv")
    refuse_inside(out, Path(args.data), "predictions")
    if not out.parent.exists():
        raise CliError(f"--out {out}: folder {out.parent} does not exist; create it first")
    chosen = modalities_flag(args.modalities)
    ctx, device = distributed.setup(args.device)
    try:
        predictor = amff.load(args.checkpoint)
        chunks = CohortChunks(args.data, args.chunk_size)
        with progress_bar("predict", len(chunks.ids), args.quiet or not ctx.is_main) as bar:
            frames = (
                predict_chunk(predictor, encoded, chosen)
                for encoded in encode_folder(predictor, chunks, device, bar.update)
            )
            if ctx.is_main:
                written = write_csv_chunks(frames, out)
            else:
                for _ in frames:  # this rank's chunks travel to rank 0, which writes
                    pass
        if ctx.is_main:
            say(f"wrote {written} predictions to {out}")
    finally:
        distributed.teardown()
    return 0
