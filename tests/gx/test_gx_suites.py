"""The GX project without a database: suites, the committed config, URL handling, result mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from extract.contract import FIELDS
from gx import suites, suites_raw
from gx.checkpoints import (
    CHECKPOINTS,
    CONTEXT_DIR,
    PENDING_ONLY,
    SEARCH_PATH,
    get_context,
    sqlalchemy_url,
    with_search_path,
)
from gx.results import libpq_url, outcome_from_result
from publish import BUILD_SCHEMA

SEVERITIES, DIMENSIONS = {"blocking", "warning"}, {"completeness", "consistency", "freshness"}


@pytest.mark.parametrize("name", sorted(suites.RELATIONS))
def test_every_expectation_is_tagged(name: str) -> None:
    suite = suites.build_suite(name)
    assert suite.name == name
    assert suite.expectations
    for expectation in suite.expectations:
        assert expectation.meta["severity"] in SEVERITIES
        assert expectation.meta["dimension"] in DIMENSIONS
        assert expectation.severity.value == (
            "critical" if expectation.meta["severity"] == "blocking" else "warning"
        )


def test_every_checkpoint_validates_known_suites() -> None:
    assert set(CHECKPOINTS) == {"raw_landed", "raw_history", "marts_publish", "marts_published"}
    assert {s for names in CHECKPOINTS.values() for s in names} == set(suites.RELATIONS)
    assert set(CHECKPOINTS["raw_landed"]) == {f"raw__{entity}" for entity in FIELDS}
    assert CHECKPOINTS["raw_history"] == CHECKPOINTS["raw_landed"]
    assert {"raw_landed"} == PENDING_ONLY
    assert SEARCH_PATH == {"marts_publish": "marts_build", "marts_published": "marts"}


def test_email_pattern_is_dbts_and_written_once() -> None:
    """The suites check e-mails with dbt's own var, read from dbt_project.yml: no second copy anywhere."""
    project = yaml.safe_load((CONTEXT_DIR.parent / "dbt_project" / "dbt_project.yml").read_text())
    assert project["vars"]["email_pattern"] == suites_raw.EMAIL_PATTERN
    assert project["models"]["shop"]["marts"]["+schema"] == BUILD_SCHEMA
    pattern = project["vars"]["email_pattern"]
    copies = [
        path
        for folder in ("extract", "gx", "orchestration", "monitoring", "publish", "dags")
        for path in (CONTEXT_DIR.parent / folder).rglob("*.py")
        if pattern in path.read_text() or pattern.replace("\\", "\\\\") in path.read_text()
    ]
    assert copies == []


def test_a_scoped_raw_suite_reads_only_the_pending_batches() -> None:
    """Every rule of a scoped suite names the watermark, as a row condition or in its SQL, except
    freshness (the newest batch, from the ledger); unscoped, none does."""
    scope = {entity: 41 for entity in FIELDS}
    for entity in FIELDS:
        scoped = suites.build_suite(f"raw__{entity}", scope=scope).expectations
        whole = suites.build_suite(f"raw__{entity}").expectations
        assert len(scoped) == len(whole)
        for rule in scoped:
            text = str(rule.configuration.to_json_dict())
            if rule.meta["dimension"] == "freshness":
                assert "41" not in text and "raw.load_ledger" in text
            else:
                assert "'parameter': 41" in text or "_batch_id > 41" in text, text
        assert not any("41" in str(rule.configuration.to_json_dict()) for rule in whole)


def test_the_known_id_rules_read_the_parents_staging_model_once_it_exists() -> None:
    scope = {entity: 7 for entity in FIELDS}
    known = [
        r.unexpected_rows_query
        for r in suites.build_suite("raw__order_items", scope=scope).expectations
        if "names" in (r.description or "")
    ]
    assert len(known) == 2
    assert all("staging.stg_shop__" in q and "where _batch_id > 7)" in q for q in known)
    first_run = {**scope, "orders": None, "products": None}
    known = [
        r.unexpected_rows_query
        for r in suites.build_suite("raw__order_items", scope=first_run).expectations
        if "names" in (r.description or "")
    ]
    assert all("staging." not in q and "b._batch_id > 7" in q for q in known)


def test_search_path_rides_on_the_url() -> None:
    url = with_search_path("postgresql+psycopg2://u:p@h:5/db?sslmode=require", "marts_build")
    assert url == "postgresql+psycopg2://u:p@h:5/db?sslmode=require&options=-csearch_path%3Dmarts_build"
    assert with_search_path("postgresql://u@h/db", None) == "postgresql://u@h/db"


def test_freshness_threshold_is_a_positive_number() -> None:
    query = suites.build_suite("fct_orders", freshness_hours=2).expectations[-1].unexpected_rows_query
    assert "interval '1 hour' * 2.0" in query and "now()" in query
    with pytest.raises(ValueError, match="positive"):
        suites.build_suite("raw__orders", freshness_hours=0)


def test_committed_config_keeps_secrets_and_generated_files_out() -> None:
    config = yaml.safe_load((CONTEXT_DIR / "great_expectations.yml").read_text(encoding="utf-8"))
    warehouse = config["fluent_datasources"]["warehouse"]
    assert warehouse["connection_string"] == "${GX_WAREHOUSE_URL}"
    for store in config["stores"].values():
        assert store["store_backend"]["base_directory"].startswith("uncommitted/")
    site = config["data_docs_sites"]["local_site"]["store_backend"]["base_directory"]
    assert site.rstrip("/") == "uncommitted/data_docs/local_site"
    assert "data_context_id" not in config  # a generated id would churn in review
    assert "id" not in warehouse and all("id" not in a for a in warehouse["assets"].values())


def test_assets_in_config_match_the_suites(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GX_WAREHOUSE_URL", raising=False)  # loading needs no connection
    yml = CONTEXT_DIR / "great_expectations.yml"
    before = yml.read_bytes()
    context = get_context("postgresql://nobody@127.0.0.1:1/none")
    assert Path(context.root_directory).resolve() == CONTEXT_DIR
    assets = {a.name: a for a in context.data_sources.get("warehouse").assets}
    assert set(assets) == set(suites.RELATIONS)
    for name, relation in suites.RELATIONS.items():
        schema = assets[name].schema_name if isinstance(assets[name].schema_name, str) else None
        assert (schema, assets[name].table_name) == (relation.schema, relation.table)
        assert [b.name for b in assets[name].batch_definitions] == ["whole_table"]
    assert yml.read_bytes() == before


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h:5/db", "postgresql+psycopg2://u:p@h:5/db"),
        ("postgres://u@h/db?sslmode=require", "postgresql+psycopg2://u@h/db?sslmode=require"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg2://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_sqlalchemy_url(url: str, expected: str) -> None:
    assert sqlalchemy_url(url) == expected
    assert libpq_url(expected).startswith("postgresql://")


def test_sqlalchemy_url_rejects_other_databases() -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        sqlalchemy_url("sqlite:///x.db")


def _evr(success: bool, result: dict, exception_info: dict, **config) -> dict:
    config = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "order_id"}} | config
    config["meta"] = {"severity": "blocking", "dimension": "completeness"}
    return {
        "success": success,
        "expectation_config": config,
        "result": result,
        "exception_info": exception_info,
    }


NO_EXCEPTION = {"raised_exception": False, "exception_message": None, "exception_traceback": None}


def test_a_failure_is_not_an_error() -> None:
    result = {
        "element_count": 3,
        "unexpected_count": 2,
        "unexpected_percent": 66.7,
        "partial_unexpected_list": [None, None],
        "partial_unexpected_counts": [{"value": None, "count": 2}],
    }
    outcome = outcome_from_result("fct_orders", "marts.fct_orders", _evr(False, result, NO_EXCEPTION))
    assert (outcome.success, outcome.errored, outcome.unexpected_count) == (False, False, 2)
    assert outcome.column == "order_id" and outcome.details == "e.g. None ×2"
    assert outcome.observed_value == {"element_count": 3, "unexpected_percent": 66.7}


@pytest.mark.parametrize(
    "exception_info",
    [
        # one flat ExceptionInfo: the expectation itself raised
        {"raised_exception": True, "exception_message": 'column "x" does not exist\nLINE 1: ...',
         "exception_traceback": "Traceback ..."},
        # keyed by metric id: a metric the expectation depends on failed
        {"MetricConfigurationID(metric_name='table.column_types', ...)": {
            "raised_exception": True, "exception_message": 'column "x" does not exist\nLINE 1: ...',
            "exception_traceback": "Traceback ..."}},
    ],
)  # fmt: skip
def test_an_error_is_not_a_failure(exception_info: dict) -> None:
    evr = _evr(False, {}, exception_info, type="unexpected_rows_expectation", kwargs={}, description="d")
    outcome = outcome_from_result("raw__orders", "raw.orders", evr)
    assert (outcome.success, outcome.errored) == (False, True)
    assert outcome.details == 'column "x" does not exist'
    assert outcome.observed_value is None and outcome.unexpected_count is None and outcome.column is None


def test_unexpected_rows_count_as_unexpected() -> None:
    evr = _evr(False, {"observed_value": 4}, NO_EXCEPTION, type="unexpected_rows_expectation", kwargs={},
               description="newest _loaded_at within 26 hours")  # fmt: skip
    outcome = outcome_from_result("raw__orders", "raw.orders", evr)
    assert (outcome.observed_value, outcome.unexpected_count) == (4, 4)
    assert outcome.details == "4 unexpected row(s); expected: newest _loaded_at within 26 hours"
