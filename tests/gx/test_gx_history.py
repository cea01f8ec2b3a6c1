"""A bounded result history (gx/history.py): after more runs of a checkpoint than it keeps, the store holds
the newest runs of it for each suite, the data docs index links exactly those, and their pages exist.

On a GX project of the module's own (the committed great_expectations.yml, empty stores in a temporary
folder), so a small bound never touches the results of gx/uncommitted/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import unquote

import pytest

import gx.checkpoints
from extract.contract import ENTITY_ORDER
from extract.load import load_folder
from gx.checkpoints import DOCS_SITE, build_site, run_checkpoint
from gx.history import DEFAULT_KEEP, KEEP_VARIABLE, runs_kept
from gx.suites import RAW_SUITES
from simshop.generator import GeneratorConfig
from simshop.writers import write_landing

KEEP = 3
RUNS = KEEP + 2
LINK = re.compile(r"validations/[^'\"\s]+?\.html")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Iterator[Path]:
    """The module's GX project: its folder holds great_expectations.yml, as gx/ does."""
    root = tmp_path_factory.mktemp("gx-project")
    (root / "gx").mkdir()
    shutil.copy(gx.checkpoints.CONTEXT_DIR / "great_expectations.yml", root / "gx")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gx.checkpoints, "PROJECT_ROOT", root)
        patch.setattr(gx.checkpoints, "CONTEXT_DIR", root / "gx")
        yield root / "gx"


@pytest.fixture(scope="module")
def runs(warehouse_url: str, project: Path, tmp_path_factory) -> dict[str, list[str]]:
    """One `raw_history` run, then `RUNS` runs of `raw_landed` keeping `KEEP`; each checkpoint's run times
    (the store's folder names), oldest first."""
    landing = tmp_path_factory.mktemp("landing")
    write_landing(GeneratorConfig(seed=7, start=date(2026, 3, 2), days=1, orders_per_day=30), landing,
                  progress=False)  # fmt: skip
    for entity in ENTITY_ORDER:
        load_folder(warehouse_url, entity, landing / entity / "2026-03-02")
    times: dict[str, list[str]] = {"raw_history": [], "raw_landed": []}
    for name in ["raw_history"] + ["raw_landed"] * RUNS:
        run_checkpoint(name, warehouse_url, keep=KEEP)
        times[name].append(max(_run_folders(project, RAW_SUITES[0], name)))
    return times


def _store(project: Path) -> Path:
    return project / "uncommitted" / "validations"


def _site(project: Path) -> Path:
    return project / "uncommitted" / "data_docs" / DOCS_SITE


def _run_folders(project: Path, suite: str, checkpoint: str) -> list[str]:
    return sorted(p.name for p in (_store(project) / suite / checkpoint).iterdir())


def _stored_pages(project: Path) -> set[str]:
    """The site page of each result stored: validations/<suite>/<checkpoint>/<run time>/<batch>.html."""
    store = _store(project)
    found = store.rglob("*.json")
    return {f"validations/{p.relative_to(store).with_suffix('.html').as_posix()}" for p in found}


def _index_links(project: Path) -> set[str]:
    index = (_site(project) / "index.html").read_text(encoding="utf-8")
    return {unquote(link) for link in LINK.findall(index)}


def _empty_folders(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_dir() and not any(p.iterdir())]


def test_each_checkpoint_keeps_its_newest_runs_for_each_suite(
    runs: dict[str, list[str]], project: Path
) -> None:
    assert len(set(runs["raw_landed"])) == RUNS
    for suite in RAW_SUITES:
        assert _run_folders(project, suite, "raw_landed") == runs["raw_landed"][-KEEP:], suite
        # the other checkpoint's results are not pushed out by this one's runs
        assert _run_folders(project, suite, "raw_history") == runs["raw_history"], suite
    assert len(list(_store(project).rglob("*.json"))) == len(RAW_SUITES) * (KEEP + 1)
    assert _empty_folders(_store(project)) == []


def test_the_docs_index_links_only_the_kept_results_and_their_pages_exist(
    runs: dict[str, list[str]], project: Path
) -> None:
    links = _index_links(project)
    assert links == _stored_pages(project)
    assert len(links) == len(RAW_SUITES) * (KEEP + 1)
    assert all((_site(project) / link).is_file() for link in links)
    removed = runs["raw_landed"][:-KEEP]
    assert not [link for link in links if any(f"/{time}/" in link for time in removed)]


def test_no_page_of_a_removed_result_remains(runs: dict[str, list[str]], project: Path) -> None:
    site = _site(project)
    pages = {p.relative_to(site).as_posix() for p in (site / "validations").rglob("*.html")}
    assert pages == _stored_pages(project)
    assert _empty_folders(site / "validations") == []


def test_build_site_keeps_GX_KEEP_RUNS(
    runs: dict[str, list[str]], project: Path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEEP_VARIABLE, "1")
    build_site(warehouse_url)
    for suite in RAW_SUITES:
        assert _run_folders(project, suite, "raw_landed") == runs["raw_landed"][-1:], suite
        assert _run_folders(project, suite, "raw_history") == runs["raw_history"], suite
    assert _index_links(project) == _stored_pages(project)
    assert len(_stored_pages(project)) == len(RAW_SUITES) * 2


def test_runs_kept_reads_the_environment() -> None:
    assert runs_kept({}) == DEFAULT_KEEP == 30
    assert runs_kept({KEEP_VARIABLE: " 5 "}) == 5
    for wrong in ("0", "-1", "2.5", "all"):
        with pytest.raises(ValueError, match=KEEP_VARIABLE):
            runs_kept({KEEP_VARIABLE: wrong})
