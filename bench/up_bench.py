"""`make up` benchmark: time until every UI answers a logged-in user, cold and warm, and the stack's memory.

    .venv/bin/python bench/up_bench.py [--warm 2] [--celery]

Runs the platform's own start-up (`stack.up.start`, what `make up` runs) on a throwaway Postgres and
state folder with fresh per-run logins, so the developer's own `.env` and `.state` are never touched:
- cold: a new cluster (initdb), Airflow's schema migrated, dbt docs and GX data docs built, pgAdmin's
  database set up; then every part started and usable (see stack/up.py: "ready means ready");
- warm: everything stopped, Postgres too (`make down`), then started again with all that kept;
- baseline, named "one after another": warm, but pgAdmin started only once Airflow is up, instead of
  side by side; the ratio says what starting them together buys on this machine.
pgAdmin's own virtual environment (`.venv-pgadmin`, installed once per checkout) is not part of cold:
its install time is printed apart when it happens. Memory: the proportional set size (PSS, shared
pages split between their users) of every process of the stack, Postgres included, once ready and idle.
Prints figures; never fails on a time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from stack import processes, up  # noqa: E402
from stack.environment import Environment  # noqa: E402
from stack.settings import Settings  # noqa: E402

IDLE_SECONDS = 10  # after the cold start, before the memory is measured


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def memory(env: Environment) -> dict[str, float]:
    """PSS in MB per part of the stack (processes that vanish while measured are skipped)."""
    groups: dict[str, list[psutil.Process]] = defaultdict(list)
    for name, pid in processes.running().items():
        part = "celery workers" if name.startswith("airflow-worker") else name
        groups[part] += _tree(pid)
    data = str(env.cluster.data) if env.cluster else None
    for proc in psutil.process_iter(["cmdline"]):
        if data and data in " ".join(proc.info["cmdline"] or []):
            groups["postgres"] += _tree(proc.pid)
    sizes = {}
    for part, procs in groups.items():
        total = 0
        for proc in {p.pid: p for p in procs}.values():
            try:
                total += proc.memory_full_info().pss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        sizes[part] = total / 2**20
    return sizes


def timed_start(env: Environment, celery: bool, side_by_side: bool = True) -> float:
    """Seconds until every UI is usable; prints when each step was done (its `say` line)."""
    started = time.perf_counter()
    marks: list[str] = []
    up.start(
        env,
        celery=celery,
        say=lambda label, _: marks.append(f"{label} {time.perf_counter() - started:.1f}"),
        side_by_side=side_by_side,
    )
    print(f"    steps done at (s): {', '.join(marks)}")
    return time.perf_counter() - started


def stop_all(env: Environment) -> None:
    up.stop_services()
    env.stop_postgres()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=2, help="warm starts to measure")
    parser.add_argument("--celery", action="store_true", help="CeleryExecutor: Redis and two workers")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, env: Environment) -> None:
    """The benchmark proper, on `env`'s Postgres and state folder (SHOP_STATE_DIR must name it: pidfiles
    and logs go there). Ends with everything stopped, Postgres too."""
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"executor: {'CeleryExecutor (Redis, 2 workers)' if args.celery else 'LocalExecutor'}\n")
    try:
        installed = time.perf_counter()
        if up.pgadmin(env).install():
            print(f"pgAdmin venv installed first: {time.perf_counter() - installed:.1f} s (not in cold)")
        cold = timed_start(env, args.celery)
        print(f"cold start, until every UI answers:   {cold:6.1f} s")
        time.sleep(IDLE_SECONDS)  # idle: start-up spikes over
        sizes = memory(env)
        for part, mb in sorted(sizes.items(), key=lambda kv: -kv[1]):
            print(f"    {part:<24} {mb:7.0f} MB")
        print(f"    {'whole stack (PSS)':<24} {sum(sizes.values()):7.0f} MB")
        warm = []
        for _ in range(args.warm):
            stop_all(env)
            warm.append(timed_start(env, args.celery))
            print(f"warm start:                           {warm[-1]:6.1f} s")
        stop_all(env)
        baseline = timed_start(env, args.celery, side_by_side=False)
        print(f"baseline 'one after another' (warm):  {baseline:6.1f} s")
        if warm:
            best = min(warm)
            print(f"\nwarm ÷ cold: {best / cold:.2f}   warm ÷ one after another: {best / baseline:.2f}")
        else:
            print("\nno warm start measured (--warm 0): no ratio")
    finally:
        stop_all(env)


def main(argv: list[str] | None = None) -> None:
    """`run` on a throwaway Postgres and state folder of its own, with fresh logins."""
    args = parse_args(argv)
    state = Path(tempfile.mkdtemp(prefix="shop-up-bench-"))
    state.chmod(0o755)  # the server may run as another OS user when run as root
    env = Environment.load(settings=Settings.generate(), state=state, throwaway=True)
    os.environ.update(env.variables())  # pidfiles and logs under the throwaway state
    try:
        run(args, env)
    finally:
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
