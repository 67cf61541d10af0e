"""`python -m amff bench --out bench.json`: speed and memory benchmarks as JSON."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from amff.cli.common import say


def add_parser(subparsers: Any) -> None:
    """Add `bench`."""
    parser = subparsers.add_parser("bench", help="speed and memory benchmarks as JSON")
    parser.add_argument("--out", default="bench.json")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmarks, write the JSON, and say which targets were met."""
    from amff.bench import run_bench

    results = run_bench(Path(args.out), quick=args.quick)
    for key, item in results.get("targets", {}).items():
        say(
            f"{key}: {item['value']:.4g} (target {item['target']}: "
            f"{'met' if item['met'] else 'NOT met'})"
        )
    say(f"peak memory {results['peak_rss_mb']:.0f} MB; all figures in {args.out}")
    return 0
