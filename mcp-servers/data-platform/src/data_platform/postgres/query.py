"""`pg_query`: a read-only query streamed as Arrow from the driver into a data_ref.

Columnar end to end: the ADBC PostgreSQL driver runs a plain query as
`COPY (query) TO STDOUT (FORMAT binary)` and decodes it in C into Arrow record
batches; no Python object per row is ever made. Types PostgreSQL knows but
Arrow does not are converted on the server inside the same query (geometry to
WKT/GeoJSON, inet/enum/... to text), numeric becomes an exact decimal.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from data_platform import work
from data_platform.config import Settings
from data_platform.errors import GuardError, InputError
from data_platform.frames.columns import unique_names
from data_platform.postgres import safety, units
from data_platform.postgres.connection import adbc_connection, classify, session, unknown_types
from data_platform.postgres.sqlerror import explained
from data_platform.postgres.sqltext import quote_ident
from data_platform.registry import Guard, RefInfo, Registry, Target, ingest

GeoFormat = Literal["wkt", "geojson"]
ParamValue = str | int | float | bool | None | list[Any] | dict[str, Any]

_SPATIAL = ("geometry", "geography")
_SRID_PREFIX = "__dp_srid_"


@dataclass
class QueryOutcome:
    info: RefInfo
    table: pa.Table
    notes: list[str] = field(default_factory=list)


def _pg_type(f: pa.Field) -> str:
    meta = f.metadata or {}
    return meta.get(b"POSTGRESQL:type", b"").decode() or meta.get(b"ADBC:postgresql:typname", b"").decode()


def _typmod(f: pa.Field) -> int:
    meta = f.metadata or {}
    try:
        return int(meta.get(b"POSTGRESQL:typmod", b"-1"))
    except ValueError:
        return -1


def _is_opaque(t: pa.DataType) -> bool:
    return isinstance(t, pa.BaseExtensionType) and t.extension_name == "arrow.opaque"


def _needs_text(f: pa.Field) -> bool:
    """Types the driver would hand over as opaque bytes: send them as text instead."""
    t = f.type
    if _pg_type(f) == "numeric":
        return False
    if _is_opaque(t) or (isinstance(t, pa.BaseExtensionType) and t.extension_name == "arrow.uuid"):
        return True
    if pa.types.is_struct(t) or _pg_type(f) == "record":
        return True  # composite values: the driver cannot always decode them
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        value = t.value_field
        extension = isinstance(value.type, pa.BaseExtensionType)
        return extension or _needs_text(value) or _pg_type(value) == "numeric"
    return False


@dataclass
class Plan:
    sql: str
    spatial: dict[str, str] = field(default_factory=dict)  # output column -> hidden srid column
    pg_types: dict[str, str] = field(default_factory=dict)  # output column -> PostgreSQL type


def plan(sql: str, schema: pa.Schema, geo: GeoFormat) -> Plan:
    """Wrap the query so every column arrives as a useful Arrow type, or keep it as is."""
    names = list(schema.names)
    unique = unique_names(names)
    exprs: list[str] = []
    spatial: dict[str, str] = {}
    pg_types = {out: _pg_type(f) for f, out in zip(schema, unique, strict=True)}
    changed = unique != names
    for i, (f, out) in enumerate(zip(schema, unique, strict=True)):
        ref = f"_q.{quote_ident(f'c{i}')}"
        pg_type = _pg_type(f)
        if pg_type in _SPATIAL:
            fn = "ST_AsGeoJSON" if geo == "geojson" else "ST_AsText"
            hidden = f"{_SRID_PREFIX}{i}"
            exprs.append(f"{fn}({ref}) AS {quote_ident(out)}")
            exprs.append(f"ST_SRID({ref}) AS {quote_ident(hidden)}")
            spatial[out] = hidden
            changed = True
        elif pg_type == "money":  # the driver gives cents as int64; numeric keeps the value
            exprs.append(f"{ref}::numeric AS {quote_ident(out)}")
            changed = True
        elif _needs_text(f):
            exprs.append(f"{ref}::text AS {quote_ident(out)}")
            changed = True
        else:
            exprs.append(f"{ref} AS {quote_ident(out)}")
    if not changed:
        return Plan(sql=sql)
    aliases = ", ".join(quote_ident(f"c{i}") for i in range(len(names)))
    # Newlines around the user's SQL so a trailing `-- comment` cannot swallow the bracket.
    wrapped = f"SELECT {', '.join(exprs)} FROM (\n{sql}\n) AS _q({aliases})"
    return Plan(sql=wrapped, spatial=spatial, pg_types=pg_types)


def _decimal_type(precision: int, scale: int) -> pa.DataType | None:
    if precision <= 38:
        return pa.decimal128(precision, scale)
    if precision <= 76:
        return pa.decimal256(precision, scale)
    return None


def _numeric_column(col: pa.ChunkedArray, typmod: int) -> tuple[pa.ChunkedArray, str | None]:
    """Opaque numeric strings to an exact decimal; text only if no decimal can hold them."""
    import pyarrow.compute as pc  # not at the server's start

    storage = (
        pa.chunked_array([c.storage for c in col.chunks], type=pa.string())
        if col.num_chunks
        else (pa.chunked_array([], type=pa.string()))
    )
    if typmod >= 4:
        precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    else:
        if storage.null_count == len(storage):
            return storage, None
        dot = pc.find_substring(storage, ".")
        length = pc.utf8_length(storage)
        frac = pc.if_else(pc.greater_equal(dot, 0), pc.subtract(pc.subtract(length, dot), 1), 0)
        whole = pc.if_else(pc.greater_equal(dot, 0), dot, length)
        scale = int(pc.max(frac).as_py() or 0)
        digits = int(pc.max(whole).as_py() or 1)
        precision = max(digits + scale, 1)
        if precision <= 38:
            precision = 38 if scale <= 38 - max(digits, 1) else precision
    target = _decimal_type(precision, scale)
    if target is None:
        return storage, f"numeric with precision {precision} kept as text (wider than Arrow decimals)"
    try:
        return pc.cast(storage, target), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return storage, "numeric kept as text (NaN/Infinity or too many digits for a decimal)"


def convert(table: pa.Table, p: Plan, fmt: str = "WKT") -> tuple[pa.Table, list[str]]:
    """Finish the Arrow types: decimals, JSON as text, SRIDs noted and hidden columns dropped."""
    import pyarrow.compute as pc

    notes: list[str] = []
    fields: list[pa.Field] = []
    columns: list[pa.ChunkedArray] = []
    srids: dict[str, list[int]] = {}
    for hidden_of, hidden in p.spatial.items():
        idx = table.schema.get_field_index(hidden)
        values = pc.unique(table.column(idx).combine_chunks()).drop_null().to_pylist()
        srids[hidden_of] = sorted(values)
    hidden_names = set(p.spatial.values())
    for f, col in zip(table.schema, table.columns, strict=True):
        if f.name in hidden_names:
            continue
        pg_type = p.pg_types.get(f.name) or _pg_type(f)
        meta: dict[str, str] = {"pg_type": pg_type} if pg_type else {}
        t = f.type
        if "numeric" in (pg_type, _pg_type(f)) and _is_opaque(t):
            col, note = _numeric_column(col, _typmod(f))
            if note:
                notes.append(f"{f.name}: {note}")
        elif isinstance(t, pa.BaseExtensionType):
            col = pa.chunked_array([c.storage for c in col.chunks], type=t.storage_type)
        if f.name in p.spatial:
            found = srids.get(f.name, [])
            meta["encoding"] = fmt
            meta["srid"] = ",".join(str(s) for s in found)
            desc = "SRID " + ", ".join(str(s) for s in found) if found else "no geometries"
            notes.append(f"{f.name}: {fmt}, {desc}")
        fields.append(pa.field(f.name, col.type, nullable=True, metadata=meta or None))
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields)), notes


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
    undeclared = any("numeric" in (p.pg_types.get(f.name), _pg_type(f)) and _typmod(f) < 4 for f in schema)
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
        return QueryOutcome(info=done.info, table=done.head, notes=notes)

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
        return QueryOutcome(info=done.info, table=done.head, notes=notes)
