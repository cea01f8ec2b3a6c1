"""Publishing the audited marts: a swap of two schemas, in one transaction.

Consumers read `marts`. Publishing swaps the two schemas by renaming them in one transaction
(Postgres DDL is transactional): readers see the old marts until the commit and the new ones after,
never a mix, and no table is copied. The roles that could read the published marts (the reader role
of stack/databases.py) read the new ones, in the same transaction, and not the old ones.

The schema that was published becomes the next build schema, so dbt's incremental models there are
one publication behind; they catch up, because every incremental model selects what changed after
its own watermark (dbt_project/macros/incremental.sql), and `tests/dbt/test_correctness.py` checks
that such increments equal a full refresh.

A failed audit publishes nothing: `marts` stays as it was and the failed build stays in
`marts_build` for inspection, until the next build replaces it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg
from psycopg import sql

from publish import BUILD_SCHEMA, PUBLISHED_SCHEMA

log = logging.getLogger(__name__)

_SWAP_SCHEMA = "marts_swap"
LOCK_TIMEOUT = "60s"  # a long report query holding a mart delays the swap; it never blocks it forever

_LOG_DDL = """
create table if not exists monitoring.publications (
    run_id        text        not null,
    published_at  timestamptz not null default now(),
    relations     text[]      not null,
    previous_kept_in text     not null
)
"""


@dataclass(frozen=True)
class Publication:
    run_id: str
    relations: tuple[str, ...]


def _exists(conn: psycopg.Connection, schema: str) -> bool:
    return conn.execute("select to_regnamespace(%s) is not null", [schema]).fetchone()[0]


def _relations(conn: psycopg.Connection, schema: str) -> tuple[str, ...]:
    found = conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relkind in ('r', 'v', 'm', 'p') order by 1",
        [schema],
    ).fetchall()
    return tuple(name for (name,) in found)


def _rename(conn: psycopg.Connection, old: str, new: str) -> None:
    conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(old), sql.Identifier(new)))


def _readers(conn: psycopg.Connection, schema: str) -> list[sql.Composable]:
    """Roles other than the owner that may use `schema` (PUBLIC too, if granted)."""
    found = conn.execute(
        "select coalesce(r.rolname, 'public') from pg_namespace n cross join aclexplode(n.nspacl) a"
        " left join pg_roles r on r.oid = a.grantee"
        " where n.nspname = %s and a.privilege_type = 'USAGE' and a.grantee <> n.nspowner",
        [schema],
    ).fetchall()
    return [sql.SQL("public") if name == "public" else sql.Identifier(name) for (name,) in found]


def _hand_over(conn: psycopg.Connection, readers: list[sql.Composable]) -> None:
    """The readers of the published marts read the new ones, and not the schema that became the build."""
    for role in readers:
        published, build = sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(BUILD_SCHEMA)
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(published, role))
        conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(published, role))
        conn.execute(sql.SQL("revoke all on schema {} from {}").format(build, role))


def publish_marts(conninfo: str, run_id: str) -> Publication:
    """Make the audited build the published marts, atomically; the old marts become the build schema.

    Raises when there is no build to publish. Records the publication in monitoring.publications;
    publishing again for the run that published last does nothing (a retried task must not swap back).
    """
    with psycopg.connect(conninfo) as conn:  # one transaction: all of it, or nothing
        conn.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
        conn.execute("select pg_advisory_xact_lock(hashtext('publish.marts'))")
        conn.execute("create schema if not exists monitoring")
        conn.execute(_LOG_DDL)
        latest = conn.execute(
            "select run_id, relations from monitoring.publications order by published_at desc limit 1"
        ).fetchone()
        if latest and latest[0] == run_id:  # a retry of a publish that committed: swapping back would undo it
            log.info("run %s already published its marts", run_id)
            return Publication(run_id, tuple(latest[1]))
        if not _exists(conn, BUILD_SCHEMA) or not (relations := _relations(conn, BUILD_SCHEMA)):
            raise RuntimeError(f"nothing to publish: schema {BUILD_SCHEMA!r} is missing or empty")
        readers = _readers(conn, PUBLISHED_SCHEMA)
        if _exists(conn, PUBLISHED_SCHEMA):
            _rename(conn, PUBLISHED_SCHEMA, _SWAP_SCHEMA)
            _rename(conn, BUILD_SCHEMA, PUBLISHED_SCHEMA)
            _rename(conn, _SWAP_SCHEMA, BUILD_SCHEMA)
        else:
            _rename(conn, BUILD_SCHEMA, PUBLISHED_SCHEMA)
            conn.execute(sql.SQL("create schema {}").format(sql.Identifier(BUILD_SCHEMA)))
        _hand_over(conn, readers)
        conn.execute(
            "insert into monitoring.publications (run_id, relations, previous_kept_in) values (%s, %s, %s)",
            [run_id, list(relations), BUILD_SCHEMA],
        )
    log.info("published %d relation(s) of %s as %s", len(relations), BUILD_SCHEMA, PUBLISHED_SCHEMA)
    return Publication(run_id, relations)
