"""`python -m stack <command>`: the local platform's command line (what `make run/down/status` call)."""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import date


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start Postgres, migrate Airflow, run elt_ecommerce end to end")
    run.add_argument(
        "--date", type=_date, default=None, help="the run's logical date, a label (default: now, UTC)"
    )
    run.add_argument(
        "--inbox", default=None, help="a folder or s3://bucket/prefix (default: INBOX or the demo)"
    )
    commands.add_parser(
        "reset", help="empty the warehouse (raw, staging, marts, monitoring) for another shop"
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

        return run_pipeline(args.date, args.inbox)
    if args.command == "reset":
        from stack.databases import reset_warehouse
        from stack.environment import Environment

        env = Environment.load()
        env.start_postgres()
        reset_warehouse(env.warehouse_url)
        print("the warehouse is empty (raw, staging, marts, monitoring); the demo shop starts over too")
        import shutil

        shutil.rmtree(env.demo_home, ignore_errors=True)
        return 0
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
