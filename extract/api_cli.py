"""The CLI's `extract` command: land what changed in the shop's REST API into raw.*.

The token comes from `SHOP_API_TOKEN` only (a command-line argument would show in `ps`).
"""

from __future__ import annotations

import argparse
import logging
import os

from extract.landing import ENTITY_ORDER, warehouse_url_from_env

TOKEN_VARIABLE = "SHOP_API_TOKEN"
DEFAULT_PORT = 8765  # the simulated shop's `python -m simshop serve`


def add_extract_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url", default=f"http://127.0.0.1:{DEFAULT_PORT}", help="the shop API (without /api/v1)"
    )
    parser.add_argument(
        "--entity", action="append", choices=ENTITY_ORDER, help="only this entity (repeatable)"
    )
    parser.add_argument("--url", help="warehouse libpq URL (default: WAREHOUSE_URL or the stack's env)")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds for each request's whole answer (body included)"
    )
    parser.add_argument("--max-retries", type=int, default=5)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def extract_cli(args: argparse.Namespace) -> int:
    """`python -m extract api [--base-url U] [--entity E …] [--url URL]`: land what changed since the
    last run of each entity."""
    from tqdm import tqdm

    from extract.api import ExtractError, extract_entity

    url = args.url or warehouse_url_from_env()
    token = os.environ.get(TOKEN_VARIABLE)
    if not url or not token:
        print(
            f'needs a warehouse (--url, WAREHOUSE_URL or eval "$(python -m stack env)") and {TOKEN_VARIABLE}'
        )
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    status = 0
    for entity in args.entity or ENTITY_ORDER:
        bar = tqdm(desc=entity, unit="record", unit_scale=True, disable=args.no_progress, leave=False)
        try:
            r = extract_entity(
                url,
                args.base_url,
                token,
                entity,
                page_size=args.page_size,
                timeout=args.timeout,
                max_retries=args.max_retries,
                on_page=bar.update,
            )
        except ExtractError as err:
            print(f"{entity}: FAILED: {err}")
            status = 1
            continue
        finally:
            bar.close()
        print(
            f"{entity}: {r.pages} pages, {r.fetched} records sent, {r.loaded} loaded, {r.rejected} rejected,"
            f" {r.duplicates} already loaded, {r.retries} retries; watermark {r.watermark}"
        )
    return status
