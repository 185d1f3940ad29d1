"""SQL run through the project's own dbt adapter, as Arrow batches: any warehouse dbt reaches.

dbt registers the profile's adapter during an in-process invocation and keeps it registered
after it (only its connections are closed), so right after a `dbt compile` (runner.py's `after`
hook, still under dbt's lock) the same adapter opens a connection named for us and runs the
compiled SQL. Rows come as Arrow: natively where the driver speaks it (DuckDB), else from the
DB-API cursor (psycopg2, Snowflake, BigQuery...), never through dbt's agate tables.

What runs is always wrapped as `select * from (<sql>) as _dp_show [limit N]`: a query with its
own LIMIT keeps it (dbt 1.11's `--limit` appends a second LIMIT and fails), and a statement that
is not a query cannot run inside a subquery. The connection is rolled back, never committed.
"""

from __future__ import annotations

import contextlib
import decimal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from data_platform import work
from data_platform.errors import DbtError
from data_platform.registry.names import unique_names

# `dbt compile` arguments that compile none of the project: dbt only registers the adapter.
ADAPTER_ONLY = ("--inline", "select 1 as ok")

BATCH_ROWS = 10_000
CONNECTION_NAME = "data_platform"

# dbt adapter type -> sqlglot dialect (lineage parses compiled SQL in the warehouse's dialect).
DIALECTS = {
    "postgres": "postgres",
    "duckdb": "duckdb",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "redshift": "redshift",
    "databricks": "databricks",
    "spark": "spark",
    "trino": "trino",
    "athena": "athena",
    "sqlserver": "tsql",
    "fabric": "tsql",
    "synapse": "tsql",
    "clickhouse": "clickhouse",
    "oracle": "oracle",
    "mysql": "mysql",
    "sqlite": "sqlite",
    "teradata": "teradata",
    "materialize": "postgres",
}
TOP_DIALECTS = frozenset({"sqlserver", "fabric", "synapse"})  # T-SQL: TOP, not LIMIT


def dialect_of(adapter_type: str) -> str | None:
    return DIALECTS.get(adapter_type)


def wrap(sql: str, limit: int | None, adapter_type: str) -> str:
    """The query as a subquery, cut at `limit` rows (None: all). Newlines guard `-- comments`."""
    body = sql.strip()
    while body.endswith(";"):
        body = body[:-1].rstrip()
    if limit is not None and adapter_type in TOP_DIALECTS:
        return f"select top ({int(limit)}) * from (\n{body}\n) as _dp_show"
    tail = f"\nlimit {int(limit)}" if limit is not None else ""
    return f"select * from (\n{body}\n) as _dp_show{tail}"


def current_adapter() -> Any:
    """The adapter dbt registered for the profile in the invocation just done."""
    from dbt.adapters.factory import FACTORY

    adapters = list(FACTORY.adapters.values())
    if not adapters:
        raise DbtError("dbt registered no adapter for this profile.", hint="Run dbt_parse to check it.")
    return adapters[-1]


def open_once(adapter: Any) -> None:
    """Open the adapter's connection and let it go: what dbt's relation cache did on the way
    (dbt-duckdb makes a missing database file then)."""
    with adapter.connection_named(CONNECTION_NAME):
        adapter.connections.get_thread_connection().handle  # noqa: B018  (opened on first access)


@dataclass
class Fetched:
    """An open query's rows: the schema, then the batches (read while the connection is open)."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]


@contextlib.contextmanager
def query(
    adapter: Any, sql: str, batch_rows: int = BATCH_ROWS, *, read_only_timeout_s: float | None = None
) -> Iterator[Fetched]:
    """Run `sql` on a connection of `adapter`; cancelling the call cancels it in the warehouse.

    `read_only_timeout_s`: on PostgreSQL, in a read-only transaction with that statement timeout
    (dbt_compare's generated SQL; SQL a caller wrote goes through guarded.py instead)."""
    with adapter.connection_named(CONNECTION_NAME):
        handle = adapter.connections.get_thread_connection().handle
        cursor = handle.cursor()
        stop = getattr(cursor, "interrupt", None) or getattr(handle, "cancel", None)
        try:
            with work.on_cancel(stop) if stop is not None else contextlib.nullcontext():
                if read_only_timeout_s is not None and adapter.type() == "postgres":
                    _read_only(cursor, handle, read_only_timeout_s)
                try:
                    fetched = _arrow(cursor, sql, batch_rows)
                except Exception as exc:
                    work.check()  # a cancelled query reports the cancel, not the driver's error
                    raise DbtError(
                        f"The warehouse refused the query ({adapter.type()}): {_first_line(exc)}",
                        hint="Check the SQL (dbt_compile shows what ran), then retry.",
                    ) from None
                yield fetched
        finally:
            with contextlib.suppress(Exception):
                handle.rollback()


def _read_only(cursor: Any, handle: Any, timeout_s: float) -> None:
    """psycopg2 (dbt-postgres): the transaction the first statement opens is read-only and timed."""
    if getattr(handle, "autocommit", False):
        cursor.execute("begin")
    cursor.execute("set transaction read only")
    cursor.execute(f"set local statement_timeout = {max(1, int(timeout_s * 1000))}")


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:600]


def _arrow(cursor: Any, sql: str, batch_rows: int) -> Fetched:
    if _is_duckdb(cursor):  # Arrow straight from the engine, batch by batch
        relation = cursor.sql(sql)
        reader = (
            relation.to_arrow_reader(batch_rows)
            if hasattr(relation, "to_arrow_reader")
            else relation.record_batch(batch_rows)  # DuckDB 1.x
        )
        return Fetched(reader.schema, iter(reader))
    cursor.execute(sql)
    # DB-API rows are Python objects already (a client-side cursor holds them all, bounded by the
    # LIMIT the caller wrapped around the query): types are inferred over every row at once, so a
    # later batch with wider decimals cannot contradict the first one's.
    names, _ = unique_names([str(d[0]) for d in (cursor.description or [])])  # made unique here, unsaid
    rows: list[Any] = []
    while True:
        work.check()
        part = cursor.fetchmany(batch_rows)
        if not part:
            break
        rows.extend(part)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = [_array(list(values)) for values in columns]
    if type(cursor).__module__.startswith("psycopg2"):  # dbt-postgres: a column of nulls, or none
        codes = [d[1] for d in cursor.description or []]  # at all, keeps the type PostgreSQL gave it
        arrays = [_typed_nulls(a, code) for a, code in zip(arrays, codes, strict=True)]
    table = pa.Table.from_arrays(arrays, names=names)
    return Fetched(table.schema, iter(table.to_batches(max_chunksize=batch_rows)))


# PostgreSQL type OIDs (pg_type.oid) to the Arrow type their values get here (Python ints are int64,
# floats float64), so a column of nulls reads as one with values would; numeric's precision is unknown.
_PG_TYPES = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int64(),
    23: pa.int64(),
    700: pa.float64(),
    701: pa.float64(),
    18: pa.string(),
    19: pa.string(),
    25: pa.string(),
    1042: pa.string(),
    1043: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", "UTC"),
}


def _typed_nulls(array: pa.Array, code: Any) -> pa.Array:
    """Values give a column its type; one holding only nulls (a failing not_null test's rows, an
    empty result) takes PostgreSQL's instead of Arrow's `null`, which reads as no type at all."""
    known = _PG_TYPES.get(code) if isinstance(code, int) else None
    return array.cast(known) if known is not None and pa.types.is_null(array.type) else array


def _is_duckdb(cursor: Any) -> bool:
    inner = getattr(cursor, "_cursor", cursor)  # dbt-duckdb wraps DuckDB's connection
    return type(inner).__module__.split(".")[0] in ("duckdb", "_duckdb")


def _array(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([_text(v) for v in values], type=pa.string())


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return str(value)
