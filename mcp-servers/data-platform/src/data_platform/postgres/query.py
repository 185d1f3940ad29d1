"""`pg_query`: a read-only query streamed as Arrow from the driver into a data_ref.

Columnar end to end: the ADBC PostgreSQL driver runs a plain query as
`COPY (query) TO STDOUT (FORMAT binary)` and decodes it in C into Arrow record
batches; no Python object per row is ever made. Types PostgreSQL knows but
Arrow does not are converted on the server inside the same query (geometry to
WKT/GeoJSON, inet/enum/... to text); numeric comes as the server's text (cheaper than the
driver's decoding) and becomes an exact decimal.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from data_platform import work
from data_platform.config import Settings
from data_platform.errors import GuardError, InputError
from data_platform.postgres import safety, units
from data_platform.postgres.arrow_types import GeoFormat, Plan, convert, plan
from data_platform.postgres.connection import adbc_connection, classify, session, unknown_types
from data_platform.postgres.sqlerror import explained
from data_platform.registry import Guard, RefInfo, Registry, Target, ingest

ParamValue = str | int | float | bool | None | list[Any] | dict[str, Any]


@dataclass
class QueryOutcome:
    info: RefInfo
    table: pa.Table
    notes: list[str] = field(default_factory=list)


def _text_param(value: ParamValue, target: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and target.endswith("[]"):
        parts = []
        for v in value:
            if v is None:
                parts.append("NULL")
            else:
                text = _text_param(v, target[:-2]) or ""
                parts.append('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
        return "{" + ",".join(parts) + "}"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


# could not determine a parameter's type; an operator or function with no match for it
_PARAM_TYPE_STATES = frozenset({"42P18", "42883", "42725"})


def bind_params(
    conn: Any, checked: safety.CheckedSQL, params: Sequence[ParamValue] | None, settings: Settings
) -> tuple[str, tuple]:
    """Infer each `$n`'s type on the server, then bind every value as text cast to it."""
    numbers = sorted({n for n, _ in checked.params})
    params = list(params or [])
    if numbers != list(range(1, len(params) + 1)):
        if not numbers:
            raise InputError(
                f"The SQL has no $1, $2, ... placeholders but {len(params)} parameter(s) were given.",
                hint="Leave params out, or write $1, $2, ... where the values go.",
            )
        want = max(numbers)
        raise InputError(
            f"The SQL uses {want} placeholder(s) ($1..${want}) but {len(params)} parameter(s) were given.",
            hint="Pass one value per placeholder, in order: params=[v1, v2, ...].",
        )
    if not params:
        return checked.sql, ()
    import psycopg  # not at the server's start

    pgconn = conn.pgconn
    res = pgconn.prepare(b"", checked.sql.encode("utf-8"), None)
    if res.error_message:
        error = classify(psycopg.errors.error_from_result(res, encoding=conn.info.encoding), settings)
        state, text = error.details.get("sqlstate"), error.message
        if state == "42P18" or (state in _PARAM_TYPE_STATES and "unknown" in text):  # only where it applies
            error.hint = "Add a cast where a placeholder's type is ambiguous, e.g. $1::date."
        raise error
    desc = pgconn.describe_prepared(b"")
    oids = [desc.param_type(i) for i in range(desc.nparams)]
    names = dict(
        conn.execute("select o, format_type(o, null) from unnest(%s::oid[]) as o", (oids,)).fetchall()
    )
    types = {i + 1: names[o] for i, o in enumerate(oids)}
    sql = safety.substitute_params(checked.sql, checked.params, types)
    values = tuple(_text_param(v, types[i + 1]) for i, v in enumerate(params))
    return sql, values


class _AdbcExec:
    """Just enough of a connection's `execute(...).fetchall()` for the function check, over ADBC."""

    def __init__(self, cur: Any):
        self.cur = cur

    def execute(self, sql: str, args: tuple) -> _AdbcExec:
        (names,) = args
        array = _text_param(list(names), "text[]")
        self.cur.execute(sql.replace("%s", "$1::text[]"), (array,))
        return self

    def fetchall(self) -> list[tuple]:
        return [tuple(r.values()) for r in self.cur.fetch_arrow_table().to_pylist()]


def run_query(
    settings: Settings,
    registry: Registry,
    sql: str,
    params: Sequence[ParamValue] | None = None,
    *,
    name: str | None = None,
    overwrite: bool = False,
    max_rows: int | None = None,
    geometry: GeoFormat = "wkt",
    source: str | None = None,
    default_name: str = "query",
    guard: Guard | None = None,
) -> QueryOutcome:
    """Run one read-only query and store its result as a data_ref (no name: a free one from
    `default_name`, chosen as the ref is published). pg_query, and dbt_show's compiled SQL on a
    postgres target: one guarded path for both."""
    checked = safety.check_query(sql)
    source = source or "pg_query: " + " ".join(sql.split())[:120]
    target = Target(registry, name or None, overwrite, source, default_name)
    target.check()  # before the query runs
    guard = guard or query_guard(max_rows or settings.max_rows)
    with explained(settings, checked.sql):  # an error shows where, and which relations were meant
        outcome = _execute(settings, checked, params, target, guard, geometry)
    outcome.notes.extend(units.notes_for(settings, checked.sql, checked.functions))
    return outcome


def _execute(
    settings: Settings,
    checked: safety.CheckedSQL,
    params: Sequence[ParamValue] | None,
    target: Target,
    guard: Guard,
    geometry: GeoFormat,
) -> QueryOutcome:
    values: tuple = ()
    final_sql = checked.sql
    if params or checked.params:
        # Placeholders: the server infers their types (psycopg's describe), then we bind as text.
        with session(settings, read_only=True) as conn:
            safety.check_functions(conn, checked.functions)
            final_sql, values = bind_params(conn, checked, params, settings)
    try:
        return _on_adbc(settings, checked, params, final_sql, values, target, guard, geometry, False)
    except _OldTypes:  # a type made after the driver read the server's types: read them again
        return _on_adbc(settings, checked, params, final_sql, values, target, guard, geometry, True)


class _OldTypes(Exception):
    """The result has a type the driver's kept catalogue does not know."""


def _on_adbc(
    settings: Settings,
    checked: safety.CheckedSQL,
    params: Sequence[ParamValue] | None,
    final_sql: str,
    values: tuple,
    target: Target,
    guard: Guard,
    geometry: GeoFormat,
    refresh: bool,
) -> QueryOutcome:
    with adbc_connection(settings, read_only=True, refresh=refresh) as aconn:
        cur = aconn.cursor()
        try:
            if not (params or checked.params):
                safety.check_functions(_AdbcExec(cur), checked.functions)
            if checked.kind == "select":
                schema = cur.adbc_execute_schema(final_sql, values or None)
                if not refresh and unknown_types(schema):
                    raise _OldTypes
                p = plan(final_sql, schema, geometry)
            else:
                cur.adbc_statement.set_options(**{"adbc.postgresql.use_copy": "false"})
                p = Plan(sql=final_sql)
            work.check()  # cancelled while planning: a cancel request now would find nothing to stop
            cur.execute(p.sql, values or None)
            reader = cur.fetch_record_batch()
            store = _Store(target, guard)
            fmt = "GeoJSON" if geometry == "geojson" else "WKT"
            if _streamable(p, reader.schema):
                try:
                    return store.stream(_fetch(cur, reader, guard.max_rows), reader.schema, p, fmt)
                except GuardError:
                    _stop(cur, reader)
                    raise
                except _TypesChanged:
                    _stop(cur, reader)  # a later batch needs another type (numeric NaN): read it whole
                cur.execute(p.sql, values or None)
                reader = cur.fetch_record_batch()
            raw = pa.Table.from_batches(list(_fetch(cur, reader, guard.max_rows)), schema=reader.schema)
        finally:
            cur.close()
    table, notes = convert(raw, p, fmt)
    return store.whole(table, notes)


def _fetch(cur: Any, reader: pa.RecordBatchReader, limit: int) -> Iterator[pa.RecordBatch]:
    """The result's batches; one past the row guard, then the server is told to stop."""
    rows = 0
    for batch in reader:
        work.check()  # the server was cancelled too; stop before storing what came before
        yield batch
        rows += batch.num_rows
        work.progress(rows, None, f"{rows:,} rows")
        if rows > limit:
            _stop(cur, reader)
            return


def _stop(cur: Any, reader: pa.RecordBatchReader) -> None:
    """Stop the server too: closing a half-read COPY would otherwise drain it all."""
    with contextlib.suppress(Exception):
        cur.adbc_cancel()
    with contextlib.suppress(Exception):
        reader.close()


def _streamable(p: Plan, schema: pa.Schema) -> bool:
    """Batches can be converted one by one unless a column's type depends on all rows.

    That is numeric without a declared precision (scale taken from the data) and
    geometry (the SRIDs found go in the column's metadata, written first).
    """
    undeclared = any(numeric and typmod < 4 for numeric, typmod in map(p.numeric, schema))
    return not p.spatial and not undeclared


class _TypesChanged(Exception):
    """A later batch converted to other types than the first: start again, whole."""


def query_guard(max_rows: int) -> Guard:
    """The row guard on a query's result: the server stops at it, so the count is "more than"."""
    return Guard(
        max_rows,
        "The query result",
        exact=False,
        chunk_size=False,
        narrow="aggregate or filter in SQL, or page with LIMIT/OFFSET",
    )


@dataclass
class _Store:
    """Where pg_query's result goes (through the registry's one ingest path), under the row guard."""

    target: Target
    guard: Guard

    def whole(self, table: pa.Table, notes: list[str]) -> QueryOutcome:
        done = ingest([table], table.schema, self.target, guard=self.guard)
        return QueryOutcome(info=done.info, table=done.head, notes=[*notes, *done.notes])

    def stream(self, batches: Iterator[pa.RecordBatch], schema: pa.Schema, p: Plan, fmt: str) -> QueryOutcome:
        """Convert and write batch by batch: the writer stores one while the driver decodes the next."""
        notes: list[str] = []
        first: list[pa.Schema] = []

        def fix(raw: pa.Table) -> pa.Table:
            table, more = convert(raw, p, fmt)
            if first and table.schema != first[0]:
                raise _TypesChanged
            first.append(table.schema)
            notes.extend(n for n in more if n not in notes)
            return table

        done = ingest(batches, schema, self.target, guard=self.guard, fix=fix)
        return QueryOutcome(info=done.info, table=done.head, notes=[*notes, *done.notes])
