"""Compiled SQL run read-only on a dbt target's warehouse: pg_query's guarantees for `dbt_show`.

dbt only compiles (under its lock, service.inproc); the query then runs outside dbt, on a
connection of the server's own made from the target's credentials, so a slow query never holds
dbt's lock and the same guards as every other SQL tool apply:

- postgres: `pg_query`'s own path (postgres/query.py, postgres/safety.py): exactly one query
  (PostgreSQL's parser), the function checks against `pg_proc`, a read-only transaction on a
  read-only session, the statement timeout; rows as Arrow through ADBC.
- duckdb: the target's database file opened read-only in a locked-down DuckDB (frames/engine.py):
  no file, network or extension access, the configuration locked; exactly one SELECT; the
  statement timeout interrupts the query.
- any other adapter: refused; nothing here can promise that its SQL only reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from data_platform import work
from data_platform.config import PostgresSettings, Settings
from data_platform.errors import DbtError, ExpressionError
from data_platform.frames import engine
from data_platform.registry import Guard, Ingested, Registry, Target, ingest

SUPPORTED = ("postgres", "duckdb")
BATCH_ROWS = 10_000
# dbt-duckdb profile keys that reach beyond the database file: refused, not half-applied.
_DUCKDB_REACH = ("attach", "plugins", "filesystems", "secrets", "remote")


@dataclass
class Where:
    """Where a target's SQL runs (read under dbt's lock from the adapter dbt registered)."""

    adapter_type: str
    target: str
    database: str
    schema: str
    postgres: PostgresSettings | None = None
    duckdb_path: str | None = None
    problem: str | None = None  # why this target cannot run SQL read-only here

    def label(self) -> str:
        return f"target {self.target} ({self.adapter_type}, database {self.database}, schema {self.schema})"


def where_of(adapter: Any) -> Where:
    """The registered adapter's target and credentials (no connection is opened)."""
    config = adapter.config
    creds = config.credentials
    kind = str(adapter.type())
    out = Where(kind, str(config.target_name), str(creds.database), str(creds.schema))
    if kind == "postgres":
        if creds.role or creds.search_path:
            out.problem = (
                "its profile sets role or search_path, which dbt_show's read-only connection "
                "does not apply (it would run with other privileges or resolve names elsewhere)"
            )
        options = {
            k: str(v)
            for k in ("sslmode", "sslcert", "sslkey", "sslrootcert")
            if (v := getattr(creds, k, None))
        }
        out.postgres = PostgresSettings(
            host=creds.host,
            port=int(creds.port),
            user=creds.user,
            password=creds.password or None,
            dbname=creds.database,
            options=options,
            source=f"the dbt profile's target {config.target_name}",
            name=f"dbt:{config.target_name}",
            read_only=True,
        )
    elif kind == "duckdb":
        path = str(creds.path)
        reach = [k for k in _DUCKDB_REACH if getattr(creds, k, None)]
        if path == ":memory:" or path.startswith("md:") or "://" in path:
            out.problem = f"its DuckDB path is {path!r}, not a database file"
        elif reach:
            out.problem = f"its profile uses {', '.join(reach)} (reach beyond the database file)"
        out.duckdb_path = path
    else:
        out.problem = f"dbt_show runs SQL read-only on {' and '.join(SUPPORTED)} targets only"
    return out


@dataclass
class Shown:
    info: Any  # RefInfo
    head: pa.Table
    notes: list[str] = field(default_factory=list)


def run(
    where: Where,
    settings: Settings,
    registry: Registry,
    sql: str,
    dest: Target,
    guard: Guard,
) -> Shown:
    """Run `sql` (one query, already wrapped with its limit) read-only where the target points."""
    if where.problem:
        raise DbtError(
            f"dbt_show cannot run SQL on {where.label()} read-only: {where.problem}; refused.",
            hint="Use a postgres or duckdb target (target=...), or run `dbt show` yourself.",
        )
    if where.postgres is not None:
        from data_platform.postgres import query

        out = query.run_query(
            settings.model_copy(update={"postgres": where.postgres}),
            registry,
            sql,
            name=dest.name,
            overwrite=dest.overwrite,
            max_rows=guard.max_rows,
            source=dest.source,
            default_name=dest.default_name,
            guard=guard,
        )
        return Shown(out.info, out.table, out.notes)
    assert where.duckdb_path is not None
    with _duckdb(where.duckdb_path, settings) as con:
        try:
            statements = con.extract_statements(sql)
        except Exception as exc:  # duckdb.Error
            raise ExpressionError(f"SQL syntax error: {engine.first_line(exc)}") from None
        if len(statements) != 1 or statements[0].type.name != "SELECT":
            raise ExpressionError("This tool runs read-only queries only; refused: not exactly one SELECT.")
        with engine.interrupt_after(con, settings.statement_timeout_s) as timed_out:
            try:
                reader = con.sql(sql).to_arrow_reader(BATCH_ROWS)
                done: Ingested = ingest(iter(reader), reader.schema, dest, guard=guard)
            except Exception as exc:
                work.check()
                if timed_out:
                    raise DbtError(
                        f"The statement ran longer than {settings.statement_timeout_s:g} s and was stopped.",
                        hint="Narrow the query (WHERE, LIMIT) or raise DATA_PLATFORM_STATEMENT_TIMEOUT.",
                    ) from None
                if type(exc).__module__.split(".")[0] not in ("duckdb", "_duckdb"):
                    raise
                if "Permission" in type(exc).__name__:
                    raise ExpressionError(
                        f"Not allowed: {engine.first_line(exc)}",
                        hint="dbt_show reads the target's database only: no files, network, "
                        "extensions or settings.",
                    ) from None
                raise ExpressionError(
                    f"DuckDB refused the query: {engine.first_line(exc)}",
                    hint="Check the SQL (dbt_compile shows what ran), then retry.",
                ) from None
    return Shown(done.info, done.head, done.notes)


@contextmanager
def _duckdb(path: str, settings: Settings) -> Iterator[Any]:
    import duckdb

    try:
        con = engine.locked_file_connection(path)
    except duckdb.Error as exc:
        raise DbtError(
            f"Cannot open the DuckDB file {path} read-only: {engine.first_line(exc)}",
            hint="Another process may hold it for writing (a dbt run); retry when it ends.",
        ) from None
    try:
        with work.on_cancel(con.interrupt):
            yield con
    finally:
        con.close()
