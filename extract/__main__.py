"""The extract layer's command line: `python -m extract <command> [options]` (`<command> --help`).

    generate   write realistic, dirty shop data and its ground-truth manifest to a landing folder
    load       load a landing folder into raw.* (ledger, rejects, skip what was loaded)
    serve      serve the shop's REST API over generated data on 127.0.0.1
    extract    land what changed in the shop API since the last run into raw.*

A command lives in its module as `add_arguments(parser)` and `run(args) -> int`; only the chosen command's
module is imported, so `--help` and every command start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module, add_arguments, run, one-line help)
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "generate": ("extract.writers", "add_arguments", "cli", "write generated shop data and its manifest"),
    "load": ("extract.landing", "add_arguments", "cli", "load a landing folder into raw.*"),
    "serve": ("extract.api_cli", "add_serve_arguments", "serve_cli", "serve the shop API on 127.0.0.1"),
    "extract": ("extract.api_cli", "add_extract_arguments", "extract_cli", "extract the shop API into raw.*"),
}


def _chosen(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m extract",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawTextHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)
    chosen = _chosen(argv)
    for name, (module, add_arguments, _, summary) in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        if name == chosen:
            getattr(importlib.import_module(module), add_arguments)(sub)
    args = parser.parse_args(argv)
    module, _, run, _ = COMMANDS[args.command]
    return getattr(importlib.import_module(module), run)(args)


if __name__ == "__main__":
    sys.exit(main())
