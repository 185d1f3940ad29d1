"""Top queries: the statements that cost the most, from `pg_stat_statements`, into a ref."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
import pyarrow as pa

from data_platform.config import Settings
from data_platform.errors import NotConfiguredError
from data_platform.postgres.connection import session
from data_platform.postgres.doctor.common import PGSS_HOWTO, Unavailable, extension, mask_passwords, savepoint
from data_platform.registry import Ingested, Registry, Target, ingest

By = Literal["total", "mean", "calls", "rows", "reads"]
ORDER: dict[str, str] = {
    "total": "total_exec_time",
    "mean": "mean_exec_time",
    "calls": "calls",
    "rows": "rows",
    "reads": "shared_blks_read",
}
MAX_STATEMENTS = 20_000  # pg_stat_statements keeps 5,000 by default: all of them, in one small ref

# Transaction control and session settings: every client sends them, none is worth tuning.
_NOISE = (
    r"^\s*(begin|start transaction|commit|end|rollback|savepoint|release|set|reset|show|discard|deallocate)\b"
)

_SQL = f"""
select s.query, s.calls, s.total_exec_time, s.mean_exec_time, s.rows,
       s.shared_blks_read, s.shared_blks_hit, r.rolname, s.queryid
from pg_stat_statements s left join pg_roles r on r.oid = s.userid
where s.dbid = (select oid from pg_database where datname = current_database())
  and s.query !~* '{_NOISE}'
  and s.query !~* 'pg_stat_statements'  -- the doctor's own reads (and other monitoring): not the workload
order by {{order}} desc nulls last
limit %s
"""

SCHEMA = pa.schema(
    [
        ("query", pa.string()),
        ("calls", pa.int64()),
        ("total_ms", pa.float64()),
        ("mean_ms", pa.float64()),
        ("rows", pa.int64()),
        ("shared_blks_read", pa.int64()),
        ("shared_blks_hit", pa.int64()),
        ("user", pa.string()),
        ("queryid", pa.int64()),
    ]
)


@dataclass
class Statement:
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    shared_blks_read: int
    shared_blks_hit: int
    user: str | None
    queryid: int | None

    @property
    def visible(self) -> bool:
        return not self.query.startswith("<insufficient privilege>")


@dataclass
class TopQueries:
    statements: list[Statement]
    since: str | None = None  # when the statistics were last reset
    notes: list[str] = field(default_factory=list)


def require_pgss(conn: psycopg.Connection[Any]) -> None:
    """NotConfiguredError saying exactly how to enable pg_stat_statements, unless it works here."""
    if extension(conn, "pg_stat_statements") is None:
        raise NotConfiguredError("pg_stat_statements is not installed in this database.", hint=PGSS_HOWTO)
    try:
        with savepoint(conn):
            conn.execute("select 1 from pg_stat_statements limit 1").fetchall()
    except Unavailable as exc:
        raise NotConfiguredError(
            f"pg_stat_statements cannot be read by this role: {exc}.",
            hint="Grant it the pg_read_all_stats role (GRANT pg_read_all_stats TO <role>).",
        ) from None
    except psycopg.errors.ObjectNotInPrerequisiteState:
        raise NotConfiguredError(
            "pg_stat_statements is installed but not preloaded, so it records nothing.", hint=PGSS_HOWTO
        ) from None


def read(conn: psycopg.Connection[Any], by: By = "total", limit: int = MAX_STATEMENTS) -> TopQueries:
    """The statements of this database, costliest first by `by` (pg_stat_statements checked first)."""
    require_pgss(conn)
    rows = conn.execute(_SQL.format(order=ORDER[by]), (limit,)).fetchall()
    out = TopQueries(
        [Statement(mask_passwords(r[0] or ""), r[1], round(r[2], 3), round(r[3], 3), *r[4:]) for r in rows]
    )
    hidden = sum(not s.visible for s in out.statements)
    if hidden:
        out.notes.append(
            f"{hidden} statement(s) of other users show no text: grant this role pg_read_all_stats "
            "to see them"
        )
    try:
        with savepoint(conn):
            row = conn.execute("select stats_reset::text from pg_stat_statements_info").fetchone()
            out.since = row[0] if row else None
    except (Unavailable, psycopg.Error):
        pass  # before PostgreSQL 14 there is no pg_stat_statements_info
    return out


def top_queries(
    settings: Settings,
    registry: Registry,
    by: By = "total",
    name: str | None = None,
    overwrite: bool = False,
) -> tuple[Ingested, TopQueries]:
    """Every recorded statement of this database into a new ref `top_queries`, costliest first by `by`
    (the ref has every measure: sort it by another)."""
    with session(settings, read_only=True) as conn:
        found = read(conn, by)
    table = pa.table(
        {col: [getattr(s, col) for s in found.statements] for col in SCHEMA.names},
        schema=SCHEMA,
    )
    target = Target(registry, name, overwrite, f"pg_stat_statements by {by}", "top_queries")
    return ingest([table], SCHEMA, target), found
