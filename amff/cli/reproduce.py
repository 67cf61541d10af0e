"""`python -m amff reproduce --profile quick|paper --out DIR`: the paper's simulations and ours.

    python -m amff reproduce --profile quick|paper --out assets/results [--workers 2]
                             [--only sim3,sim4] [--dry-run]

The pipeline itself is amff.experiments; this module only reads the flags and reports.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from amff.cli.common import say
from amff.errors import InputError

# the keys of amff.experiments.plan.PROFILES, in the order --help lists them (kept here so
# that --help does not import the experiment plan; a test checks they agree)
PROFILE_NAMES = ("quick", "paper")


def add_parser(subparsers: Any) -> None:
    """Add `reproduce`."""
    p = subparsers.add_parser(
        "reproduce",
        help="rerun the paper's simulations and ours; write results, figures and a report",
        description=(
            "Train every model the chosen simulations need (skipping runs already stored under "
            "--out), then write results.json, figures (PNG and one interactive HTML), "
            "REPRODUCTION.md and README_SECTION.md."
        ),
    )
    p.add_argument(
        "--profile",
        choices=PROFILE_NAMES,
        default="quick",
        help="quick: 2 seeds, small cohorts, a few minutes; paper: 5 paired seeds, "
        "the paper's sizes, about 50 minutes on 2 idle cores",
    )
    p.add_argument("--out", default="assets/results", help="output folder (default %(default)s)")
    p.add_argument(
        "--workers",
        type=_workers,
        default=2,
        help="training processes, one thread each (default %(default)s)",
    )
    p.add_argument(
        "--only",
        default=None,
        help="comma-separated sections: sim1,sim2,sim3,sim4,sim5a..sim5e "
        "(sim5 = all of 5); default all",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="list the runs and the estimated time; train and write nothing",
    )
    p.add_argument(
        "--seeds",
        type=_workers,
        help="use only the first N paired seeds of the profile (for a shorter run; the report "
        "records the seeds used)",
    )
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"{value} must be between 1 and 64")
    return value


def run(args: argparse.Namespace) -> int:
    """List the runs (--dry-run), or train what is missing and write the results."""
    from amff.experiments.plan import PROFILES, parse_sections

    profile = PROFILES[args.profile]
    if args.seeds:
        import dataclasses

        profile = dataclasses.replace(profile, seeds=profile.seeds[: args.seeds])
    sections = parse_sections(args.only)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file; give a folder")
    if args.dry_run:
        _print_dry_run(profile, out, sections, args.workers)
        return 0
    return _reproduce(args, profile, out, sections)


def _print_dry_run(profile: Any, out: Path, sections: tuple[str, ...], workers: int) -> None:
    from amff.experiments.reproduce import dry_run

    plan = dry_run(profile, out, sections, workers)
    for row in plan["runs"]:
        status = "stored" if row["done"] else f"~{row['estimate_s'] / 60:5.1f} min"
        say(f"{row['name']:<44} {status:>12}  {','.join(row['sections'])}")
    source = (
        f"rates measured on {plan['rates_from_runs']} stored run(s), at the load they met"
        if plan["rates_from_runs"]
        else "default rates: CPU time measured on the 2-core build machine, i.e. idle"
    )
    say(
        f"profile {plan['profile']}: {plan['n_runs']} runs, {plan['n_pending']} to train; "
        f"estimated {plan['serial_s'] / 60:.0f} min of single-thread work, about "
        f"{plan['wall_s'] / 60:.0f} min with {workers} worker(s) ({source}); "
        f"code version {plan['code_version']}"
    )
    if plan["idle_wall_s"] is not None:
        say(
            f"on an idle machine (CPU time of {plan['idle_rates_from_runs']} stored run(s)): "
            f"about {plan['idle_wall_s'] / 60:.0f} min with {workers} worker(s)"
        )


def _reproduce(args: argparse.Namespace, profile: Any, out: Path, sections: tuple[str, ...]) -> int:
    from tqdm import tqdm

    from amff.experiments.plan import build_plan, code_version
    from amff.experiments.reproduce import reproduce
    from amff.experiments.runner import RunFailure, is_done

    specs = build_plan(profile, sections)
    version = code_version()
    pending = sum(not is_done(out, s, version) for s in specs)
    command = f"python -m amff reproduce --profile {profile.name} --out {args.out}"
    command += f" --workers {args.workers}"
    if args.only:
        command += f" --only {args.only}"
    with tqdm(total=pending, desc="runs", unit="run", disable=args.quiet) as bar:

        def done(spec: Any, summary: dict[str, Any]) -> None:
            bar.set_postfix_str(f"{spec.name} {summary['timing']['total_s']:.0f} s")
            bar.update(1)

        try:
            results = reproduce(
                profile,
                out,
                sections,
                workers=args.workers,
                command=command,
                on_run_done=done,
                figures=not args.no_figures,
            )
        except RunFailure as exc:
            bar.close()
            say(f"error: {exc}; the finished runs are stored, rerun to retry", error=True)
            return 1
    counts: dict[str, int] = {}
    for claim in results["claims"]:
        counts[claim["verdict"]] = counts.get(claim["verdict"], 0) + 1
    verdicts = ", ".join(f"{n} {v}" for v, n in counts.items())
    say(
        f"wrote results.json, REPRODUCTION.md and README_SECTION.md to {out} "
        f"({results['runs']['count']} runs, {results['meta']['wall_s'] / 60:.1f} min); "
        f"claims: {verdicts}"
    )
    return 0
