"""The demo shop delivers its exports into an inbox of its own, one complete day at a time, as a shop would.

`deliver(home, today)`: the first call delivers a week (the 7 days ending the day before yesterday, UTC); each
later call delivers the next day, once that day is over (a shop exports complete days only), else nothing.
Layout under `home`:

    inbox/        the shop's inbox: <entity>/<YYYY-MM-DD>/<files> (what the warehouse reads)
    truth.json    the ground truth of every day delivered so far (simshop.writers' manifest)
    shop.json     the shop's settings and how many days it delivered
    build/        the generator's scratch: the whole period, rewritten on each delivery

The generator is deterministic and a day's files do not depend on the days after it, so the period is
generated again in `build/` and only the new days' files are copied into the inbox, each written under a
temporary hidden name and renamed into place (a reader never sees half a file); nothing already delivered
is touched. The truth is the whole period's: a later day can change an earlier one (status changes,
customers that arrive late).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from simshop.generator import GeneratorConfig
from simshop.writers import write_landing

FIRST_DAYS = 7


@dataclass(frozen=True)
class ShopSettings:
    seed: int = 2026
    orders_per_day: int = 2000
    fault_rate: float = 0.02
    start: str = ""  # the first day, YYYY-MM-DD
    delivered: int = 0  # days delivered so far


@dataclass(frozen=True)
class Delivery:
    inbox: Path
    truth: Path
    new_days: list[str]  # delivered by this call
    days: list[str]  # every day delivered so far
    files: int  # files written by this call
    note: str


def _load(home: Path) -> ShopSettings | None:
    path = home / "shop.json"
    return ShopSettings(**json.loads(path.read_text())) if path.exists() else None


def _save(home: Path, settings: ShopSettings) -> None:
    tmp = home / ".shop.json.tmp"
    tmp.write_text(json.dumps(asdict(settings), indent=1) + "\n")
    os.replace(tmp, home / "shop.json")


def _place(src: Path, dst: Path) -> None:
    """Copy `src` to `dst` under a hidden temporary name, then rename it into place."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.part")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def deliver(
    home: Path,
    today: date | None = None,
    *,
    seed: int = 2026,
    orders_per_day: int = 2000,
    fault_rate: float = 0.02,
) -> Delivery:
    """Deliver what is due into `home/inbox` (see the module's doc); the settings of the first call stay."""
    today = today or datetime.now(UTC).date()
    home.mkdir(parents=True, exist_ok=True)
    settings = _load(home) or ShopSettings(
        seed, orders_per_day, fault_rate, (today - timedelta(days=FIRST_DAYS + 1)).isoformat()
    )
    start = date.fromisoformat(settings.start)
    due = FIRST_DAYS if settings.delivered == 0 else settings.delivered + 1
    due = min(due, (today - start).days)  # complete days only
    inbox, truth = home / "inbox", home / "truth.json"
    inbox.mkdir(exist_ok=True)
    all_days = [(start + timedelta(days=i)).isoformat() for i in range(max(due, settings.delivered))]
    if due <= settings.delivered:
        nxt = (start + timedelta(days=settings.delivered)).isoformat()
        return Delivery(
            inbox,
            truth,
            [],
            all_days,
            0,
            f"the shop has delivered every complete day; {nxt} comes after it ends",
        )
    config = GeneratorConfig(
        seed=settings.seed, start=start, days=due, orders_per_day=settings.orders_per_day,
        fault_rate=settings.fault_rate,
    )  # fmt: skip
    build = home / "build"
    shutil.rmtree(build, ignore_errors=True)
    manifest = write_landing(config, build, progress=False)
    new_days = all_days[settings.delivered : due]
    files = [f for f in manifest["files"] if f["date"] in new_days]
    for entry in files:
        _place(build / entry["path"], inbox / entry["path"])
    _place(build / "_manifest.json", truth)
    shutil.rmtree(build, ignore_errors=True)
    _save(home, ShopSettings(**{**asdict(settings), "delivered": due}))
    note = f"delivered {len(new_days)} day(s), {len(files)} files: {new_days[0]} … {new_days[-1]}"
    return Delivery(inbox, truth, new_days, all_days, len(files), note)


def truth(home: Path) -> dict[str, Any]:
    return json.loads((home / "truth.json").read_text())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", type=Path, required=True, help="the demo shop's folder (its inbox inside)")
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: UTC)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--orders-per-day", type=int, default=2000)
    parser.add_argument("--fault-rate", type=float, default=0.02)


def cli(args: argparse.Namespace) -> int:
    done = deliver(
        args.home, args.today, seed=args.seed, orders_per_day=args.orders_per_day, fault_rate=args.fault_rate
    )
    print(f"{done.inbox}: {done.note}; ground truth: {done.truth}")
    return 0
