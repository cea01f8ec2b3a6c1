"""The loader against the generator's ground truth: every fault the load layer must catch, caught exactly.

A dirty generated landing folder (every file-level fault kind injected) is loaded with the CLI's
`load_landing`; the ledger and the rejects must match the manifest file by file: files rejected whole,
rejected positions and their reasons, rows loaded; and raw.* must hold exactly the generator's records.
Record-level faults (missing values, bad emails, ...) are dbt's job: here they must all land, as sent.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from extract.contract import FIELDS
from extract.landing import land, load_landing
from simshop.generator import GeneratorConfig, iter_days
from simshop.truth import reason_name
from simshop.writers import write_landing
from tests.raw_layer import reset_raw

CONFIG = GeneratorConfig(seed=11, start=date(2026, 3, 2), days=3, orders_per_day=150, fault_rate=0.05)
# the loader's reason text -> the manifest's reason name
_reason = reason_name  # the loader's reason text -> the manifest's reason name


@pytest.fixture(scope="module")
def loaded(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, dict, list]:
    landing = tmp_path_factory.mktemp("landing")
    manifest = write_landing(CONFIG, landing, chunk_records=400, progress=False)
    reset_raw(warehouse_url)
    results = load_landing(warehouse_url, landing, progress=False, settle_seconds=0)
    return warehouse_url, landing, manifest, results


def _rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def test_every_file_level_fault_kind_is_in_the_folder(loaded) -> None:
    _, _, manifest, _ = loaded
    injected = {kind for kind, f in manifest["faults"].items() if f["level"] == "file" and f["count"]}
    assert injected == {kind for kind, f in manifest["faults"].items() if f["level"] == "file"}
    assert len(injected) >= 8, injected


def test_files_rejected_whole_are_the_headerless_ones(loaded) -> None:
    url, landing, manifest, results = loaded
    expected = {str(landing / f["path"]) for f in manifest["files"] if f["file_rejected"]}
    assert expected and {r.source for r in results if r.status == "rejected"} == expected
    ledger = _rows(url, "select source, error from raw.load_ledger where status = 'rejected'")
    assert {source for source, _ in ledger} == expected
    assert all("header" in error for _, error in ledger), ledger


def test_rejected_rows_match_the_manifest_position_by_position(loaded) -> None:
    url, landing, manifest, _ = loaded
    expected = {
        (str(landing / f["path"]), r["position"], r["reason"])
        for f in manifest["files"]
        for r in f["rejects"]
    }
    rejects = _rows(url, "select source, position, reason from raw.load_rejects")
    assert len(rejects) == manifest["load"]["rows_rejected"] > 0
    assert {(source, position, _reason(reason)) for source, position, reason in rejects} == expected
    by_reason = Counter(_reason(reason) for _, _, reason in rejects)
    assert by_reason == Counter(manifest["load"]["rejects_by_reason"])


def test_every_batch_reads_loaded_plus_rejected_rows(loaded) -> None:
    url, landing, manifest, _ = loaded
    files = {str(landing / f["path"]): f for f in manifest["files"]}
    ledger = _rows(
        url,
        "select source, rows_read, rows_loaded, rows_rejected from raw.load_ledger where status = 'loaded'",
    )
    assert len(ledger) == len(files) - manifest["load"]["files_rejected"]
    for source, read, loaded_, rejected in ledger:
        assert read == loaded_ + rejected, source
        assert (loaded_, rejected) == (files[source]["loadable"], len(files[source]["rejects"])), source


def test_raw_tables_hold_exactly_the_generated_records(loaded) -> None:
    url, _, manifest, _ = loaded
    for entity, fields in FIELDS.items():
        columns = sql.SQL(", ").join(map(sql.Identifier, fields))
        query = sql.SQL("select {} from {}").format(columns, sql.Identifier("raw", entity))
        with psycopg.connect(url) as conn:
            landed = Counter(conn.execute(query).fetchall())
        generated = Counter(
            tuple(record[f] if record[f] not in ("", None) else None for f in fields)
            for day in iter_days(CONFIG)
            for record in day.records[entity]
        )
        landed = Counter({tuple(v if v != "" else None for v in row): n for row, n in landed.items()})
        assert landed == generated, entity
        assert landed.total() == manifest["totals"]["records"][entity]


def test_a_second_load_finds_nothing_new_and_changes_nothing(loaded) -> None:
    url, landing, manifest, _ = loaded
    before = _rows(url, "select count(*), sum(hashtext(_batch_id::text || _line)) from raw.orders")
    found, again = land(url, landing, progress=False)
    assert again == [] and (found.new, found.seen) == ([], manifest["load"]["files"])  # rejected ones too
    assert _rows(url, "select count(*), sum(hashtext(_batch_id::text || _line)) from raw.orders") == before


def test_the_manifest_is_written_next_to_the_files(loaded) -> None:
    _, landing, manifest, _ = loaded
    assert json.loads((landing / "_manifest.json").read_text()) == manifest
