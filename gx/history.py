"""A bounded result history: the newest runs of each checkpoint, for each suite; older results go.

Every checkpoint run adds one validation result per suite to GX's validation results store
(gx/uncommitted/validations/<suite>/<checkpoint>/<run time>/<batch>.json), and every data docs build
reads each stored result again for the index: kept forever, they would make every gate pay for the
whole history (~+10 s a gate at 1,443 stored results, ~12,000 after a year of daily runs). So after
each run (gx/checkpoints.py) `prune_results` keeps the newest `GX_KEEP_RUNS` runs (default 30) of each
checkpoint for each suite and removes the older ones through the store's own `remove_key`. The docs
build that follows lists only what is kept, and GX's index builder deletes the pages of results the
store no longer holds.

Grouped by checkpoint (the run name) as well as by suite, so that the daily `raw_landed` never pushes
the weekly `raw_history` results of the same suites out. Each group holds at most `GX_KEEP_RUNS`
results, whatever the number of runs so far. The verdicts themselves stay in
`monitoring.gx_results` (gx/results.py); what goes is GX's JSON and HTML copy of them.

`GX_KEEP_RUNS` is read from the gate's process environment (set it where Airflow runs: `make run` and
`make up` pass theirs on), like `NPM_CONFIG_REGISTRY` in gx/docs.py.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.resource_identifiers import ValidationResultIdentifier

log = logging.getLogger(__name__)

KEEP_VARIABLE = "GX_KEEP_RUNS"
DEFAULT_KEEP = 30


def runs_kept(environ: Mapping[str, str] = os.environ) -> int:
    """How many runs of each checkpoint to keep: `GX_KEEP_RUNS`, else 30. Raises ValueError below 1."""
    value = environ.get(KEEP_VARIABLE, "").strip()
    if not value:
        return DEFAULT_KEEP
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{KEEP_VARIABLE}={value!r}: expected a whole number of runs, at least 1")
    return int(value)


def prune_results(context: AbstractDataContext, keep: int) -> list[ValidationResultIdentifier]:
    """Remove from the validation results store all but the newest `keep` runs of each checkpoint
    for each suite; returns the removed keys."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1, not {keep}")
    store = context.validation_results_store
    runs: dict[tuple[str, str], dict[object, list[ValidationResultIdentifier]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for key in store.list_keys():
        group = (key.expectation_suite_identifier.name, key.run_id.run_name)
        runs[group][key.run_id.run_time].append(key)
    removed = [
        key
        for by_time in runs.values()
        for run_time in sorted(by_time, reverse=True)[keep:]
        for key in by_time[run_time]
    ]
    for key in removed:
        store.remove_key(key)
    base = getattr(store.store_backend, "full_base_directory", None)
    if base is not None:
        remove_empty_folders(Path(base), removed)
    if removed:
        log.info("removed %d validation result(s) older than the newest %d run(s)", len(removed), keep)
    return removed


def remove_empty_folders(root: Path, keys: Iterable[ValidationResultIdentifier]) -> None:
    """Remove the run folders (<suite>/<checkpoint>/<run time>) of `keys` under `root` that are empty.

    GX's filesystem backend means to (`TupleFilesystemStoreBackend.rrmdir`) but never does in 1.24:
    it tests `not Path(...).iterdir()`, and a generator is always true.
    """
    for key in keys:
        folder = root.joinpath(*key.to_tuple()[:-1])
        try:
            folder.rmdir()
        except OSError:  # gone already, or holds something else
            continue
