"""Command line: `python -m amff COMMAND`, one module per command.

Each command module exposes `add_parser(subparsers)`, which adds its parser with
`set_defaults(func=handler)`; shared flags, output and progress bars are in `common`. Bad
input ends with one line on stderr, `error: <what, where, how to fix>`, exit status 2, no
traceback, and nothing written. Library modules never import this package.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from amff.cli import (
    bench,
    evaluate,
    explain,
    make_checkpoints,
    predict,
    reproduce,
    simulate,
    train,
)
from amff.cli.common import Parser, log_to_stderr, say
from amff.errors import InputError

# in the order `--help` lists them
COMMANDS = (simulate, train, evaluate, predict, make_checkpoints, explain, reproduce, bench)


def build_parser() -> argparse.ArgumentParser:
    """The `python -m amff` parser with every command."""
    parser = Parser(prog="python -m amff", description="AMFF-HT: train, evaluate and explain.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; bad input is one `error:` line and exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    log_to_stderr(logging.INFO if args.verbose else logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        # one line, whatever a cell or a library message held
        say("error: " + " ".join(str(exc).splitlines()), error=True)
        return 2
    except OSError as exc:  # a missing path, no permission, a full disk, a name too long, ...
        where = f"{exc.filename}: " if exc.filename else ""
        say(
            f"error: {where}{exc.strerror or exc}; check the path, its permissions and the "
            "free disk space",
            error=True,
        )
        return 2
    except KeyboardInterrupt:
        say("error: interrupted; nothing was written", error=True)
        return 130


__all__ = ["build_parser", "main"]
