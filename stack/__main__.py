"""`python -m stack <command>`: the local platform's command line (what `make run/down/status` call)."""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import UTC, date, datetime, timedelta


def _yesterday() -> date:
    return (datetime.now(UTC) - timedelta(days=1)).date()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start Postgres, migrate Airflow, run elt_ecommerce end to end")
    run.add_argument(
        "--date",
        type=date.fromisoformat,
        default=_yesterday(),
        help="logical date (the shop day to land), default yesterday (UTC)",
    )
    up = commands.add_parser("up", help="start the platform's services and UIs in the background")
    up.add_argument("--celery", action="store_true", help="CeleryExecutor: Redis and two workers")
    commands.add_parser("down", help="stop everything the project started")
    commands.add_parser("status", help="what is running, where")
    commands.add_parser("env", help="print `export` lines for a shell (airflow, dbt, psql by hand)")
    commands.add_parser("browser", help="find (or install, where apt-get may) a Chromium for browser tests")
    args = parser.parse_args(argv)

    if args.command == "run":
        from stack.run import run_pipeline

        return run_pipeline(args.date)
    if args.command == "up":
        from stack.up import up

        return up(celery=args.celery)
    if args.command == "down":
        from stack.processes import down

        return down()
    if args.command == "browser":
        from stack.browser import ensure_chromium

        return ensure_chromium()
    if args.command == "status":
        from stack.up import status

        return status()
    from stack.environment import Environment

    for key, value in Environment.load().variables().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
