"""Checkpoints, named after the gate they hold.

- `raw_landed`: the raw suites on the pending batches (what the next dbt build reads; gx/scope.py),
  after the load and before dbt: the day's gate, whose cost follows the day's rows;
- `raw_history`: the raw suites on every batch ever landed (the deep check: the data_quality DAG,
  weekly and on demand);
- `marts_publish`: the mart suites on the unpublished build (`marts_build`), before publishing, over
  the rows the build wrote that no audit has passed (gx/scope.py): the day's audit;
- `marts_published`: the same suites on every row of the published `marts` (the data_quality DAG's
  deep check).

The mart suites name their tables unqualified; the checkpoint's connection sets `search_path` to
the schema it audits.

`run_checkpoint` rebuilds from code, on every run, everything GX keeps in its stores (suite,
validation definition, checkpoint; `add_or_update`, so reruns are idempotent), runs the checkpoint,
keeps the newest `GX_KEEP_RUNS` runs of it in the validation results store (gx/history.py), updates
the data docs site (gx/uncommitted/data_docs/local_site) once, and returns one
`ExpectationOutcome` per expectation. All of it lands in gx/uncommitted/ (git-ignored); the committed
gx/great_expectations.yml declares the `warehouse` datasource and its table assets and is never
rewritten (adding an asset from code would make GX rewrite it with random ids).

Driver: psycopg2 (`postgresql+psycopg2://`). It is the driver GX's Postgres datasource documents and
is tested with, and naming it keeps the choice independent of SQLAlchemy's default for a bare
`postgresql://` (psycopg2 up to SQLAlchemy 2.0, psycopg 3 from 2.1, the version installed here).
psycopg2-binary comes with dbt-postgres and the Airflow Postgres provider. A bare `postgresql://`
or `postgres://` URL is rewritten to it; a URL naming another driver is left alone (GX 1.24.1 also
runs these suites on psycopg 3, `postgresql+psycopg://`).

The URL reaches GX as the `GX_WAREHOUSE_URL` config variable of the context's runtime environment
(it overrides an environment variable of that name), so it is never written to disk or to os.environ.
GX contexts are not thread-safe: one validation per process. A file lock also serialises runs of
several processes, which share and rewrite the same store files.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import great_expectations
from great_expectations import Checkpoint, RunIdentifier, ValidationDefinition
from great_expectations.checkpoint import CheckpointResult
from great_expectations.data_context import FileDataContext
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)

from gx import suites_marts, suites_raw
from gx.docs import localize_site
from gx.expectations import DEFAULT_FRESHNESS_HOURS
from gx.history import prune_results, remove_empty_folders, runs_kept
from gx.results import ExpectationOutcome, libpq_url, outcomes_from_validation
from gx.scope import staged_through, unaudited_since
from gx.suites import MART_SUITES, RAW_SUITES, RELATIONS, build_suite
from publish import BUILD_SCHEMA, PUBLISHED_SCHEMA

log = logging.getLogger(__name__)

CONTEXT_DIR = Path(__file__).resolve().parent  # holds great_expectations.yml
PROJECT_ROOT = CONTEXT_DIR.parent
URL_VARIABLE = "GX_WAREHOUSE_URL"
DATASOURCE = "warehouse"
BATCH_DEFINITION = "whole_table"
DOCS_SITE = "local_site"
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 20}

# checkpoint -> the suites it validates (each against the asset of the same name)
CHECKPOINTS: dict[str, tuple[str, ...]] = {
    "raw_landed": RAW_SUITES,
    "raw_history": RAW_SUITES,
    "marts_publish": MART_SUITES,
    "marts_published": MART_SUITES,
}
# checkpoints that validate the pending raw batches only, and the unaudited mart rows only (gx/scope.py)
PENDING_ONLY = frozenset({"raw_landed"})
UNAUDITED_ONLY = frozenset({"marts_publish"})
# checkpoint -> the schema its unqualified (mart) relations resolve to
SEARCH_PATH: dict[str, str] = {"marts_publish": BUILD_SCHEMA, "marts_published": PUBLISHED_SCHEMA}


def sqlalchemy_url(url: str) -> str:
    """The SQLAlchemy URL GX connects with: a driverless PostgreSQL URL gets `+psycopg2`."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith("postgres"):
        raise ValueError("expected a PostgreSQL URL (postgresql://... or postgresql+psycopg2://...)")
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg2://{rest}"
    return url


def with_search_path(url: str, schema: str | None) -> str:
    """`url` whose sessions resolve unqualified names in `schema` (libpq `options`); as is for None."""
    if schema is None:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def get_context(connection_url: str, search_path: str | None = None) -> FileDataContext:
    """The File Data Context in gx/, with `${GX_WAREHOUSE_URL}` resolving to `connection_url`."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    url = with_search_path(sqlalchemy_url(connection_url), search_path)
    return great_expectations.get_context(
        mode="file", project_root_dir=PROJECT_ROOT, runtime_environment={URL_VARIABLE: url}
    )


def _batch_definition(context: FileDataContext, suite_name: str):
    """The whole-table batch of the asset named after the suite, checked against the suite's relation."""
    asset = context.data_sources.get(DATASOURCE).get_asset(suite_name)
    relation = RELATIONS[suite_name]
    schema = asset.schema_name if isinstance(asset.schema_name, str) else None  # unset: GX's `Missing`
    if (schema, asset.table_name) != (relation.schema, relation.table):
        raise RuntimeError(
            f"asset {suite_name!r} in gx/great_expectations.yml points at "
            f"{asset.schema_name}.{asset.table_name}, suite expects {relation}"
        )
    return asset.get_batch_definition(BATCH_DEFINITION)


def ensure_checkpoint(
    context: FileDataContext,
    name: str,
    freshness_hours: float = DEFAULT_FRESHNESS_HOURS,
    scope: suites_raw.Scope | suites_marts.Scope | None = None,
) -> Checkpoint:
    """Add or update the checkpoint `name`, its validation definitions and suites (narrowed to `scope`
    when given: gx/scope.py)."""
    validation_definitions = []
    for suite_name in CHECKPOINTS[name]:
        suite = context.suites.add_or_update(
            build_suite(suite_name, freshness_hours=freshness_hours, scope=scope)
        )
        validation_definitions.append(
            context.validation_definitions.add_or_update(
                ValidationDefinition(
                    name=suite_name, data=_batch_definition(context, suite_name), suite=suite
                )
            )
        )
    # no UpdateDataDocsAction: it builds the docs index once per suite, each build reading every stored
    # result; run_checkpoint builds the docs once, after pruning (_update_docs)
    checkpoint = Checkpoint(
        name=name, validation_definitions=validation_definitions, actions=[], result_format=RESULT_FORMAT
    )
    return context.checkpoints.add_or_update(checkpoint)


@contextmanager
def _exclusive() -> Iterator[None]:
    lock_path = CONTEXT_DIR / "uncommitted" / ".run.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _site() -> Path:
    return CONTEXT_DIR / "uncommitted" / "data_docs" / DOCS_SITE


def _update_docs(
    context: FileDataContext, result: CheckpointResult, removed: list[ValidationResultIdentifier]
) -> None:
    """Render the run's result and suite pages, then the index once, over the results kept; the index
    build deletes the pages of results the store no longer holds (GX's `skip_and_clean_missing`)."""
    docs_from = time.time() - 1  # a second of slack for coarse file times
    suites = {validation.suite_name for validation in result.run_results.values()}
    built = [*result.run_results, *(ExpectationSuiteIdentifier(name=suite) for suite in sorted(suites))]
    context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=built)
    remove_empty_folders(_site() / "validations", removed)
    localize_site(_site(), since=docs_from)


def build_site(connection_url: str, *, keep: int | None = None) -> Path:
    """Build the data docs site (the suites, and the validations kept: `keep` runs of each checkpoint,
    by default `GX_KEEP_RUNS`) without validating; `make up` shows it before the first checkpoint runs.
    Returns the site's folder."""
    keep = runs_kept() if keep is None else keep
    with _exclusive():
        context = get_context(connection_url)
        for name in CHECKPOINTS:
            ensure_checkpoint(context, name)
        removed = prune_results(context, keep)
        context.build_data_docs(site_names=[DOCS_SITE])
        remove_empty_folders(_site() / "validations", removed)
        localize_site(_site())
    return _site()


def _scope(name: str, conninfo: str) -> suites_raw.Scope | suites_marts.Scope | None:
    """What checkpoint `name` narrows its suites to (gx/scope.py); None: every row."""
    if name in PENDING_ONLY:
        return staged_through(conninfo)
    if name in UNAUDITED_ONLY:
        return unaudited_since(conninfo, suites_marts.WATERMARKS, BUILD_SCHEMA, PUBLISHED_SCHEMA)
    return None


def run_checkpoint(
    name: str,
    connection_url: str,
    *,
    freshness_hours: float = DEFAULT_FRESHNESS_HOURS,
    keep: int | None = None,
) -> list[ExpectationOutcome]:
    """Run checkpoint `name` against the warehouse at `connection_url`; one outcome per expectation.

    `connection_url` is a SQLAlchemy or libpq PostgreSQL URL. Failing expectations do not raise
    (deciding what blocks is the caller's job, see gx/gate.py); an expectation that raised comes
    back with `errored=True`. Unknown checkpoint names raise KeyError. GX reports a connection lost
    or refused as errored expectations whose details say so (`gx.results.is_connection_lost`); what
    raises otherwise (e.g. while the context reads its stores) propagates. The store keeps the newest
    `keep` runs of each checkpoint (default: `GX_KEEP_RUNS`, gx/history.py).
    """
    if name not in CHECKPOINTS:
        raise KeyError(f"unknown checkpoint {name!r}; known: {', '.join(CHECKPOINTS)}")
    started = time.perf_counter()
    keep = runs_kept() if keep is None else keep
    search_path = SEARCH_PATH.get(name)
    scope = _scope(name, libpq_url(connection_url))
    with _exclusive():
        context = get_context(connection_url, search_path)
        checkpoint = ensure_checkpoint(context, name, freshness_hours=freshness_hours, scope=scope)
        order = {
            vd.suite.name: [expectation.id for expectation in vd.suite.expectations]
            for vd in checkpoint.validation_definitions
        }
        result = checkpoint.run(run_id=RunIdentifier(run_name=name))
        _update_docs(context, result, prune_results(context, keep))
    outcomes: list[ExpectationOutcome] = []
    for validation in result.run_results.values():
        suite = validation.suite_name
        relation = RELATIONS[suite]
        label = f"{relation.schema or search_path}.{relation.table}"
        found = validation.to_json_dict()
        outcomes += outcomes_from_validation(suite, label, found, order.get(suite))
    log.info(
        "checkpoint %s: %d expectation(s), %d failed, %d errored in %.1fs",
        name,
        len(outcomes),
        sum(1 for o in outcomes if not o.success and not o.errored),
        sum(1 for o in outcomes if o.errored),
        time.perf_counter() - started,
    )
    return outcomes
