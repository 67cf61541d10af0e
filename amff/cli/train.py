"""`python -m amff train --data DIR --out CKPT`: train one model and save its checkpoint.

Every default comes from `amff.config` (TrainConfig, ModelConfig), so the command and
`amff.trainer.train()` train the same model for the same seed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from amff.cli.common import CliError, TqdmProgress, add_device, positive_int, refuse_inside, say
from amff.config import MODEL_KINDS, ModelConfig, TrainConfig
from amff.errors import InputError


def add_parser(subparsers: Any) -> None:
    """Add `train`; its defaults are TrainConfig's and ModelConfig's."""
    train_defaults, model_defaults = TrainConfig(), ModelConfig()
    p = subparsers.add_parser("train", help="train a model on a cohort folder")
    p.add_argument("--data", required=True, help="cohort folder (clinical.csv with labels)")
    p.add_argument("--model", choices=MODEL_KINDS, default=model_defaults.kind)
    p.add_argument("--out", required=True, help="checkpoint folder to write")
    p.add_argument("--epochs", type=positive_int, default=train_defaults.epochs)
    p.add_argument("--seed", type=int, default=train_defaults.seed)
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=train_defaults.batch_size,
        help="the global batch: under torchrun each of N processes takes about 1/N of it",
    )
    p.add_argument("--lr", type=float, default=train_defaults.lr)
    p.add_argument(
        "--modality-dropout",
        type=float,
        default=train_defaults.modality_dropout,
        help="probability of masking each present modality in training (0 = off)",
    )
    p.add_argument(
        "--patience",
        type=positive_int,
        default=train_defaults.patience,
        help="epochs without a better validation AUROC before stopping",
    )
    p.add_argument("--no-cross-attention", action="store_true", help="ablation")
    p.add_argument("--mean-pooling", action="store_true", help="ablation: equal modality weights")
    add_device(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def configs(args: argparse.Namespace) -> tuple[ModelConfig, TrainConfig]:
    """The model and training settings the flags ask for (the rest at their defaults)."""
    model_config = ModelConfig(kind=args.model)
    if args.no_cross_attention:
        model_config.cross_attention = False
    if args.mean_pooling:
        model_config.pooling = "mean"
    train_config = TrainConfig(
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
        lr=args.lr,
        modality_dropout=args.modality_dropout,
        patience=args.patience,
    )
    return model_config, train_config


def run(args: argparse.Namespace) -> int:
    """Train in one process, or data-parallel in every process torchrun starts (rank 0 writes)."""
    from amff import distributed
    from amff.data.folder import read_cohort
    from amff.trainer import train

    out = Path(args.out)
    refuse_inside(out, Path(args.data), "the checkpoint")
    if out.exists() and not args.overwrite:
        raise CliError(f"{out}: already exists; choose another --out or pass --overwrite")
    model_config, train_config = configs(args)
    ctx, device = distributed.setup(args.device)
    try:
        if args.batch_size < max(2, ctx.world_size):
            raise CliError(
                f"--batch-size {args.batch_size}: the global batch is shared by "
                f"{ctx.world_size} processes; give at least {max(2, ctx.world_size)}"
            )
        cohort = read_cohort(args.data)  # every rank reads the same folder
        _check_trainable(cohort, Path(args.data) / "clinical.csv")
        trained = train(
            cohort,
            model_config,
            train_config,
            callbacks=[TqdmProgress(args.quiet or not ctx.is_main)],
            device=device,
        )
        if ctx.is_main:
            trained.save(out)
            where = f"trained on {ctx.world_size} processes, " if ctx.distributed else ""
            say(
                f"saved {args.model} checkpoint to {out} ({where}validation AUROC "
                f"{trained.metrics['val_auroc']:.3f}, threshold {trained.threshold:.3f})"
            )
        distributed.barrier()
    finally:
        distributed.teardown()
    return 0


def _check_trainable(cohort: Any, clinical: Path) -> None:
    """Labels, and enough patients to split into training and validation."""
    if cohort.labels is None:
        raise InputError(f"{clinical}: no label column; training needs 0/1 labels")
    if len(cohort) < 10:
        raise InputError(
            f"{clinical}: {len(cohort)} patient(s); training needs at least 10 (and many more "
            "to learn anything): add patients"
        )
