"""`python -m amff make-checkpoints`: train the shipped default checkpoints."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from amff.cli.common import TqdmProgress, positive_int
from amff.config import TrainConfig


def add_parser(subparsers: Any) -> None:
    """Add `make-checkpoints`."""
    p = subparsers.add_parser("make-checkpoints", help="train the shipped default checkpoints")
    p.add_argument("--out", default="checkpoints")
    p.add_argument("--epochs", type=positive_int, default=TrainConfig().epochs)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Simulate, train, evaluate and save the three default models (progress bars on stderr)."""
    from amff.shipped import make_default_checkpoints

    make_default_checkpoints(
        Path(args.out), epochs=args.epochs, callbacks=[TqdmProgress(args.quiet)]
    )
    return 0
