"""`python -m amff simulate --out DIR`: write a simulated four-modality cohort folder."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from amff.cli.common import CliError, say


def add_parser(subparsers: Any) -> None:
    """Add `simulate`, with one flag per simulator knob."""
    p = subparsers.add_parser("simulate", help="write a simulated four-modality cohort folder")
    p.add_argument("--out", required=True, help="the cohort folder to write (must be new)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_sim_knobs(p)
    p.set_defaults(func=run)


def _add_sim_knobs(parser: argparse.ArgumentParser) -> None:
    from amff.simulator import SimConfig

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


def _sim_config(args: argparse.Namespace) -> Any:
    from amff.simulator import SimConfig

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(SimConfig)}
    return SimConfig(**values)


def run(args: argparse.Namespace) -> int:
    """Simulate, write the folder, and report the oracle AUROCs."""
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
    say(
        f"wrote {len(cohort)} patients to {out}; Bayes (latent) AUROC {report['bayes_auroc']:.3f}, "
        f"ceiling given the noisy readings {report['noisy_ceiling_auroc']:.3f}, "
        f"prevalence {report['prevalence']:.3f}"
    )
    return 0
