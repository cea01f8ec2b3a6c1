"""A command line of subcommands whose modules are imported only when chosen (`--help` starts fast)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module, add_arguments, run, one-line help)
Commands = dict[str, tuple[str, str, str, str]]


def _chosen(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def run_command(commands: Commands, prog: str, doc: str | None, argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (default: sys.argv), import only the chosen command's module, and run it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(doc or "").split("\n\n")[1] if doc and "\n\n" in doc else doc,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    subcommands = parser.add_subparsers(dest="command", metavar="command", required=True)
    chosen = _chosen(argv)
    for name, (module, add_arguments, _, summary) in commands.items():
        sub = subcommands.add_parser(name, help=summary, description=summary)
        if name == chosen:
            getattr(importlib.import_module(module), add_arguments)(sub)
    args = parser.parse_args(argv)
    module, _, run, _ = commands[args.command]
    return getattr(importlib.import_module(module), run)(args)
