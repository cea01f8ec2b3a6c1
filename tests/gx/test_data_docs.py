"""The GX data docs, opened in headless Chromium with the network off, list the suites and the latest
results: every CSS/JS file the pages need is served from the site itself (gx/docs.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from extract.contract import ENTITY_ORDER
from extract.load import load_folder
from gx.checkpoints import CONTEXT_DIR, DOCS_SITE, run_checkpoint
from gx.docs import URLS
from gx.suites import RAW_SUITES
from simshop.generator import GeneratorConfig
from simshop.writers import write_landing
from tests.ui import guarded

SITE = CONTEXT_DIR / "uncommitted" / "data_docs" / DOCS_SITE


@pytest.fixture(scope="module")
def site(warehouse_url: str, tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("landing")
    config = GeneratorConfig(seed=5, start=date(2026, 3, 2), days=1, orders_per_day=40)
    write_landing(config, landing, progress=False)
    for entity in ENTITY_ORDER:
        load_folder(warehouse_url, entity, landing / entity / "2026-03-02")
    run_checkpoint("raw_landed", warehouse_url)
    return SITE


def test_no_page_links_a_cdn(site: Path) -> None:
    pages = list(site.rglob("*.html"))
    assert pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert not [url for url in URLS if url in html], page
        assert "integrity=" not in html
    assert (site / "static" / "vendor" / "jquery@3.7.1" / "dist" / "jquery.min.js").is_file()


def test_offline_docs_list_the_suites_and_the_latest_results(site: Path, browser) -> None:
    ui = guarded(browser, ("file://",), offline=True)
    page = ui.page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((site / "index.html").as_uri())

    # the index tables are drawn by bootstrap-table (JS): offline with CDN links they stay empty
    results = page.locator("table.ge-index-page-validation-results-table tbody tr")
    results.first.wait_for()
    latest = results.first.inner_text()
    assert "raw_landed" in latest and any(suite in latest for suite in RAW_SUITES)
    assert results.count() >= len(RAW_SUITES)
    ui.screenshot("gx_data_docs_results.png", full_page=True)

    page.get_by_text("Expectation Suites", exact=True).first.click()
    suites = page.locator("table.ge-index-page-expectation_suites-table tbody tr")
    suites.first.wait_for()
    listed = page.locator("table.ge-index-page-expectation_suites-table").inner_text()
    assert all(suite in listed for suite in RAW_SUITES)
    ui.screenshot("gx_data_docs_suites.png", full_page=True)

    # a validation result page renders its expectations, styled by the local Bootstrap
    result_page = max((site / "validations" / "raw__orders").rglob("*.html"), key=lambda p: p.stat().st_mtime)
    page.goto(result_page.as_uri())
    assert "order_id" in page.inner_text("body")
    padding = page.evaluate("getComputedStyle(document.querySelector('.container-fluid')).paddingLeft")
    assert padding == "48px"  # Bootstrap's pl-5: the stylesheet loaded from static/vendor
    ui.screenshot("gx_data_docs_raw__orders.png", full_page=True)
    assert ui.close() == []  # nothing but the site's own files was asked for
    assert errors == []
