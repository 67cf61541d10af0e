"""Command line: simulate, train, evaluate, predict, and the commands other modules add.

Bad input ends with one line on stderr, `error: <what, where, how to fix>`, exit status 2, no
traceback, and nothing written. Modules that own a command (explain, reproduce, bench)
expose `add_cli(subparsers)`, which adds their parser with `set_defaults(func=handler)`.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import logging
import math
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from amff.errors import InputError

log = logging.getLogger("amff")
PLUGINS = ("amff.explain", "amff.experiments", "amff.bench")


class CliError(InputError):
    """A bad flag or argument combination."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, status 2 (argparse's own convention)
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


# -- progress ------------------------------------------------------------------------------
class TqdmProgress:
    """Trainer callback: one tqdm bar per fit, showing the running validation AUROC."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bar: Any = None

    def on_fit_start(self, name: str, epochs: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=epochs, desc=f"train {name}", unit="epoch", disable=self.quiet)

    def on_epoch_end(self, name: str, record: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.set_postfix(
                val_auroc=f"{record['val_auroc']:.3f}", loss=f"{record['val_loss']:.3f}"
            )
            self.bar.update(1)

    def on_fit_end(self, name: str, result: Any) -> None:
        if self.bar is not None:
            self.bar.close()


# -- commands ------------------------------------------------------------------------------
def _sim_config(args: argparse.Namespace) -> Any:
    from amff.simulator import SimConfig

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(SimConfig)}
    return SimConfig(**values)


def cmd_simulate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from amff.simulator import oracle_report, simulate

    config = _sim_config(args)
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CliError(f"{out}: already exists and is not empty; choose a new --out folder")
    with tqdm(total=config.n, desc="simulate", unit="patient", disable=args.quiet) as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        cohort = simulate(config, progress=progress)
    cohort.write(out)
    report = oracle_report(cohort)
    print(
        f"wrote {len(cohort)} patients to {out}; Bayes (latent) AUROC {report['bayes_auroc']:.3f}, "
        f"ceiling given the noisy readings {report['noisy_ceiling_auroc']:.3f}, "
        f"prevalence {report['prevalence']:.3f}"
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Train in one process, or data-parallel in every process torchrun starts (rank 0 writes)."""
    from amff import distributed
    from amff.checkpoint import save_checkpoint
    from amff.config import ModelConfig, TrainConfig
    from amff.data.folder import read_cohort
    from amff.train import train

    out = Path(args.out)
    _refuse_inside(out, Path(args.data), "the checkpoint")
    if out.exists() and not args.overwrite:
        raise CliError(f"{out}: already exists; choose another --out or pass --overwrite")
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
    ctx, device = distributed.setup(args.device)
    try:
        if args.batch_size < max(2, ctx.world_size):
            raise CliError(
                f"--batch-size {args.batch_size}: the global batch is shared by "
                f"{ctx.world_size} processes; give at least {max(2, ctx.world_size)}"
            )
        cohort = read_cohort(args.data)  # every rank reads the same folder
        if cohort.labels is None:
            raise InputError(
                f"{Path(args.data) / 'clinical.csv'}: no label column; training needs 0/1 labels"
            )
        if len(cohort) < 10:
            raise InputError(
                f"{Path(args.data) / 'clinical.csv'}: {len(cohort)} patient(s); training needs "
                "at least 10 (and many more to learn anything): add patients"
            )
        trained = train(
            cohort,
            model_config,
            train_config,
            callbacks=[TqdmProgress(args.quiet or not ctx.is_main)],
            device=device,
        )
        if ctx.is_main:
            save_checkpoint(
                out,
                trained.model,
                trained.preprocessor,
                trained.model_config,
                trained.train_config,
                trained.threshold,
                trained.history,
                {"validation": trained.metrics},
            )
            where = f"trained on {ctx.world_size} processes, " if ctx.distributed else ""
            print(
                f"saved {args.model} checkpoint to {out} ({where}validation AUROC "
                f"{trained.metrics['val_auroc']:.3f}, threshold {trained.threshold:.3f})"
            )
        distributed.barrier()
    finally:
        distributed.teardown()
    return 0


def _modalities(text: str | None) -> tuple[Any, ...]:
    from amff.modalities import parse_modalities

    try:
        return parse_modalities(text)
    except ValueError as exc:
        raise CliError(f"--modalities: {exc}") from None


def evaluate_cohort(
    predictor: Any, cohort: Any, modalities: Sequence[Any] | None
) -> dict[str, Any]:
    """Metrics of one modality subset on a labelled cohort (patients with none of it skipped)."""
    encoded = predictor.encode(cohort)
    arrays = predictor.predict_arrays(encoded, modalities)
    return _subset_metrics(encoded.labels, arrays["probability"], predictor.threshold)


def _subset_metrics(labels: Any, prob: Any, threshold: float) -> dict[str, Any]:
    import numpy as np

    from amff import metrics

    keep = ~np.isnan(prob)
    result = metrics.all_metrics(labels[keep], prob[keep], threshold)
    result["n_without_modalities"] = int((~keep).sum())
    return result


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Metrics on a labelled cohort folder of any size, read and scored in chunks (shared by
    the processes under torchrun; rank 0 prints)."""
    import numpy as np

    import amff
    from amff import distributed
    from amff.data.folder import CohortChunks
    from amff.modalities import all_subsets, subset_name
    from amff.predictor import encode_folder, probabilities_chunk

    chosen = _modalities(args.modalities)
    subsets = [chosen] + (list(all_subsets()) if args.all_subsets else [])
    ctx, device = distributed.setup(args.device)
    try:
        predictor = amff.load(args.checkpoint)
        chunks = CohortChunks(args.data, args.chunk_size)
        if chunks.labels is None:
            raise InputError(
                f"{Path(args.data) / 'clinical.csv'}: no label column; evaluate needs 0/1 labels "
                "(use predict for unlabelled patients)"
            )
        labels: list[Any] = []
        probs: list[list[Any]] = [[] for _ in subsets]
        with _progress("evaluate", len(chunks.ids), args.quiet or not ctx.is_main) as bar:
            for encoded in encode_folder(predictor, chunks, device, bar.update):
                labels.append(encoded.labels)
                for i, subset in enumerate(subsets):
                    probs[i].append(probabilities_chunk(predictor, encoded, subset))
        if ctx.is_main:
            y = np.concatenate(labels)
            scores = [_subset_metrics(y, np.concatenate(p), predictor.threshold) for p in probs]
            result: dict[str, Any] = {"checkpoint": str(args.checkpoint), "kind": predictor.kind}
            result["modalities"] = subset_name(chosen)
            result.update(scores[0])
            if chunks.truth is not None and "p_true" in chunks.truth.columns:
                from amff import metrics

                truth = chunks.truth.loc[chunks.ids, "p_true"].to_numpy(dtype=float)
                result["bayes_auroc"] = metrics.auroc(y, truth)
            if args.all_subsets:
                result["subsets"] = [
                    {"modalities": subset_name(s), **score}
                    for s, score in zip(subsets[1:], scores[1:])
                ]
            print(json.dumps(_finite(result), indent=1))
    finally:
        distributed.teardown()
    return 0


def _progress(desc: str, total: int, quiet: bool) -> Any:
    """A tqdm bar over patients (on stderr)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="patient", disable=quiet)


def _finite(value: Any) -> Any:
    """JSON-safe: NaN becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _refuse_inside(out: Path, data: Path, what: str) -> None:
    """Never write over the input cohort: --out may not be the data folder, inside it, or
    a folder that holds it."""
    try:
        out_abs, data_abs = out.resolve(), data.resolve()
    except OSError:
        return
    if out_abs == data_abs or data_abs in out_abs.parents or out_abs in data_abs.parents:
        raise CliError(
            f"--out {out}: would write {what} over the cohort in {data}; choose a path outside "
            "the --data folder"
        )


def cmd_predict(args: argparse.Namespace) -> int:
    """Predictions for a cohort folder of any size: read, scored and written in chunks, so
    memory stays flat (shared by the processes under torchrun; rank 0 writes)."""
    import amff
    from amff import distributed
    from amff.data.folder import CohortChunks
    from amff.predictor import encode_folder, predict_chunk

    out = Path(args.out)
    if out.is_dir():
        raise CliError(f"--out {out}: is a folder; give a file name such as preds.csv")
    _refuse_inside(out, Path(args.data), "predictions")
    if not out.parent.exists():
        raise CliError(f"--out {out}: folder {out.parent} does not exist; create it first")
    chosen = _modalities(args.modalities)
    ctx, device = distributed.setup(args.device)
    try:
        predictor = amff.load(args.checkpoint)
        chunks = CohortChunks(args.data, args.chunk_size)
        with _progress("predict", len(chunks.ids), args.quiet or not ctx.is_main) as bar:
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
            print(f"wrote {written} predictions to {out}")
    finally:
        distributed.teardown()
    return 0


def write_csv_atomic(frame: Any, out: Path) -> None:
    """Write a CSV so a reader never sees half a file (temp file, then rename)."""
    write_csv_chunks([frame], out)


def write_csv_chunks(frames: Iterable[Any], out: Path) -> int:
    """Write frames one after another as one CSV (one header) so a reader never sees half a
    file: a temp file beside `out`, renamed at the end; on any error the temp file is removed
    and `out` is left as it was. Returns the number of rows written."""
    handle, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    rows, header = 0, True
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            for frame in frames:
                frame.to_csv(stream, index=False, header=header, lineterminator="\n")
                rows, header = rows + len(frame), False
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return rows


def cmd_make_checkpoints(args: argparse.Namespace) -> int:
    from amff.shipped import make_default_checkpoints

    make_default_checkpoints(Path(args.out), epochs=args.epochs, quiet=args.quiet)
    return 0


# -- parser --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m amff", description="AMFF-HT: train, evaluate and explain.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("simulate", help="write a simulated four-modality cohort folder")
    p.add_argument("--out", required=True, help="the cohort folder to write (must be new)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_sim_knobs(p)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("train", help="train a model on a cohort folder")
    p.add_argument("--data", required=True, help="cohort folder (clinical.csv with labels)")
    p.add_argument("--model", choices=["amff", "early", "late"], default="amff")
    p.add_argument("--out", required=True, help="checkpoint folder to write")
    p.add_argument("--epochs", type=_positive_int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=64,
        help="the global batch: under torchrun each of N processes takes about 1/N of it",
    )
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument(
        "--modality-dropout",
        type=float,
        default=0.25,
        help="probability of masking each present modality in training (0 = off)",
    )
    p.add_argument(
        "--patience",
        type=_positive_int,
        default=6,
        help="epochs without a better validation AUROC before stopping",
    )
    p.add_argument("--no-cross-attention", action="store_true", help="ablation")
    p.add_argument("--mean-pooling", action="store_true", help="ablation: equal modality weights")
    _add_device(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="held-out metrics as JSON on stdout")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True, help="cohort folder with labels")
    p.add_argument("--modalities", help="comma-separated subset, e.g. tabular,image (default all)")
    p.add_argument("--all-subsets", action="store_true", help="add a row per modality subset")
    _add_scoring_flags(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predictions CSV for a cohort folder")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True, help="cohort folder (labels not needed)")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--modalities", help="comma-separated subset, e.g. tabular,image (default all)")
    _add_scoring_flags(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("make-checkpoints", help="train the shipped default checkpoints")
    p.add_argument("--out", default="checkpoints")
    p.add_argument("--epochs", type=_positive_int, default=30)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_make_checkpoints)

    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "add_cli"):
            module.add_cli(sub)
    return parser


def _add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="auto (the default): a GPU when there is one; under torchrun, GPU LOCAL_RANK",
    )


def _add_scoring_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--chunk-size",
        type=_positive_int,
        default=2048,
        help="patients read and scored at a time (rounded up to a multiple of 256; default "
        "2048); the results do not depend on it",
    )
    _add_device(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _add_sim_knobs(parser: argparse.ArgumentParser) -> None:
    try:
        from amff.simulator import SimConfig
    except ImportError:
        return
    group = parser.add_argument_group("simulator knobs (defaults fixed before any comparison)")
    for f in dataclasses.fields(SimConfig):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        kind = type(default)
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "") + f" (default {default})"
        if kind is bool:
            group.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=help_text,
            )
        else:
            group.add_argument(flag, dest=f.name, type=kind, default=default, help=help_text)


def say(text: str, error: bool = False) -> None:
    """Command output: the one place a command writes to the terminal (stdout, or stderr for
    errors). Modules that add commands call this instead of print."""
    print(text, file=sys.stderr if error else sys.stdout)


def _log_to_stderr(level: int) -> None:
    """The package's warnings (counts and notices, never patient values) go to stderr."""
    logger = logging.getLogger("amff")
    logger.setLevel(level)
    for handler in list(logger.handlers):
        if getattr(handler, "_amff_cli", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler._amff_cli = True  # type: ignore[attr-defined]
    logger.addHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _log_to_stderr(logging.INFO if args.verbose else logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except (InputError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        # one line, whatever a cell or a library message held
        print("error: " + " ".join(str(message).splitlines()), file=sys.stderr)
        return 2
    except OSError as exc:  # a missing path, no permission, a full disk, a name too long, ...
        where = f"{exc.filename}: " if exc.filename else ""
        print(
            f"error: {where}{exc.strerror or exc}; check the path, its permissions and the "
            "free disk space",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return 130
