"""The simulated shop's command line: `python -m simshop <command> [options]` (`<command> --help`).

    generate   write a generated, dirty shop period and its ground truth (`_manifest.json`) to a folder
    deliver    deliver the demo shop's next days into its inbox, as a shop would (one day at a time)
    serve      serve the shop's REST API over generated data on 127.0.0.1

The demo's and the tests' source only: the warehouse never imports this package.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from extract.cli import run_command

COMMANDS = {
    "generate": ("simshop.writers", "add_arguments", "cli", "write generated shop data and its manifest"),
    "deliver": ("simshop.delivery", "add_arguments", "cli", "deliver the demo shop's next days"),
    "serve": ("simshop.serve", "add_arguments", "cli", "serve the shop API on 127.0.0.1"),
}


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(COMMANDS, "python -m simshop", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
