"""The extract layer's command line: `python -m extract <command> [options]` (`<command> --help`).

    load       load an inbox (a folder or s3://bucket/prefix) into raw.*: what the ledger has not seen
    extract    land what changed in the shop API since the last run into raw.*

The simulated shop that writes demo exports and serves a demo API is a package of its own
(`python -m simshop`).

A command lives in its module as `add_arguments(parser)` and `run(args) -> int`; only the chosen command's
module is imported, so `--help` and every command start fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from extract.cli import run_command

# name -> (module, add_arguments, run, one-line help)
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "load": ("extract.landing", "add_arguments", "cli", "load an inbox into raw.*"),
    "extract": ("extract.api_cli", "add_extract_arguments", "extract_cli", "extract the shop API into raw.*"),
}


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(COMMANDS, "python -m extract", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
