"""`python -m simshop serve`: the shop's REST API over generated data, on 127.0.0.1.

The token comes from `SHOP_API_TOKEN` only (a command-line argument would show in `ps`).
"""

from __future__ import annotations

import argparse
import logging
import os

from simshop.writers import add_config_arguments, config_from

TOKEN_VARIABLE = "SHOP_API_TOKEN"
DEFAULT_PORT = 8765


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port on 127.0.0.1 (0: any free port)")
    add_config_arguments(parser)
    parser.add_argument(
        "--http-faults", type=float, default=0.0, help="chance of each of 429, 503, 500 and a slow answer"
    )
    parser.add_argument("--http-fault-seed", type=int, default=0)
    parser.add_argument("--slow-seconds", type=float, default=2.0, help="delay of a slow answer")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def cli(args: argparse.Namespace) -> int:
    """`python -m simshop serve [--port P] [generator options] [--http-faults RATE]`: blocks until Ctrl-C."""
    from simshop.api_faults import Faults
    from simshop.api_server import serve
    from simshop.api_store import store_from_generator

    token = os.environ.get(TOKEN_VARIABLE)
    if not token:
        print(f"set {TOKEN_VARIABLE} to the token clients must send (Authorization: Bearer <token>)")
        return 2
    try:
        config = config_from(args)
    except ValueError as err:
        print(f"error: {err}")
        return 2
    faults = (
        Faults.uniform(args.http_faults, seed=args.http_fault_seed, slow_seconds=args.slow_seconds)
        if args.http_faults
        else None
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    store = store_from_generator(config, progress=not args.no_progress)
    serve(store, token, port=args.port, faults=faults)
    return 0
