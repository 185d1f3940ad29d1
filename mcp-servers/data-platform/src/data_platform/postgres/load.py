"""`pg_load` and `pg_execute`: the two ways this server writes to PostgreSQL.

`pg_load` streams a ref's Arrow batches into a table with the ADBC driver's
bulk ingest (binary COPY under the hood), in one transaction committed only at
the end. It creates, appends, or replaces, and replace is never implied.
`pg_execute` runs statements with bound parameters in one transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from data_platform import work
from data_platform.config import Settings
from data_platform.errors import AlreadyExistsError, InputError, NotFoundError
from data_platform.postgres import safety
from data_platform.postgres.connection import adbc_connection, require_writable, session
from data_platform.postgres.sqlerror import explained
from data_platform.postgres.sqltext import qualified, quote_ident
from data_platform.registry import Registry

LoadMode = Literal["create", "append", "replace"]


@dataclass
class LoadOutcome:
    schema: str
    table: str
    mode: str
    rows: int
    existed: bool


def _table_exists(settings: Settings, schema: str, table: str) -> bool:
    with session(settings) as conn:
        row = conn.execute(
            """select 1 from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
               where n.nspname = %s and c.relname = %s and c.relkind in ('r','p')""",
            (schema, table),
        ).fetchone()
        if (
            row is None
            and not conn.execute(
                "select 1 from pg_catalog.pg_namespace where nspname = %s", (schema,)
            ).fetchone()
        ):
            raise NotFoundError(f'Schema "{schema}" does not exist.', hint="Create it with pg_execute.")
    return row is not None


def _loadable(schema: pa.Schema) -> pa.Schema:
    """Arrow types the driver cannot write become their nearest writable type."""
    fields = []
    for f in schema:
        t = f.type
        if isinstance(t, pa.BaseExtensionType):
            t = t.storage_type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_large_string(t) or pa.types.is_string_view(t):
            t = pa.string()
        if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
            t = pa.binary()
        fields.append(pa.field(f.name, t, f.nullable))
    return pa.schema(fields)


def load(
    settings: Settings,
    registry: Registry,
    data_ref: str,
    table: str,
    *,
    schema: str = "public",
    mode: LoadMode = "create",
) -> LoadOutcome:
    """Write a ref into a table; `replace` drops and recreates it in the same transaction."""
    require_writable(settings)
    if not table or "\x00" in table:
        raise InputError("A table name is required.")
    info = registry.info(data_ref)
    existed = _table_exists(settings, schema, table)
    if existed and mode == "create":
        raise AlreadyExistsError(
            f'Table "{schema}"."{table}" already exists.',
            hint="Pass mode='append' to add rows, or mode='replace' to drop and recreate it.",
        )
    if not existed and mode == "append":
        raise NotFoundError(
            f'Table "{schema}"."{table}" does not exist, so nothing to append to.',
            hint="Use mode='create'.",
        )
    target = _loadable(info.schema)
    rows = 0

    def batches() -> Any:
        nonlocal rows
        for batch in registry.batches(data_ref):
            work.check()  # cancelled: the driver fails the COPY, the transaction rolls back
            if batch.schema != target:
                batch = pa.RecordBatch.from_arrays(
                    [
                        c.cast(f.type) if c.type != f.type else c
                        for c, f in zip(
                            [
                                a.storage if isinstance(a.type, pa.BaseExtensionType) else a
                                for a in batch.columns
                            ],
                            target,
                            strict=True,
                        )
                    ],
                    schema=target,
                )
            rows += batch.num_rows
            work.progress(rows, info.rows, f"{rows:,} rows")
            yield batch

    reader = pa.RecordBatchReader.from_batches(target, batches())
    restore = restore_types(info.schema)
    if mode == "append" and restore:
        # Only columns the existing table holds as non-text need parsing on the way in.
        kept = _non_text_columns(settings, schema, table)
        restore = [r for r in restore if r[0] in kept]
    with adbc_connection(settings, read_only=False) as conn:
        with conn.cursor() as cur:
            if mode == "append" and restore:
                staging = f"_dp_load_{secrets.token_hex(6)}"
                cur.adbc_ingest(staging, reader, mode="create", temporary=True)
                exprs = {c: e for c, _, e in restore}
                names = [f.name for f in target]
                cols = ", ".join(quote_ident(n) for n in names)
                select = ", ".join(exprs.get(n, quote_ident(n)) for n in names)
                into = qualified(schema, table)
                cur.execute(f"INSERT INTO {into} ({cols}) SELECT {select} FROM {quote_ident(staging)}")
                cur.execute(f"DROP TABLE {quote_ident(staging)}")
            else:
                cur.adbc_ingest(table, reader, mode=mode, db_schema_name=schema)
                for column, pg_type, expr in restore:
                    alter = f"ALTER TABLE {qualified(schema, table)} ALTER COLUMN {quote_ident(column)}"
                    cur.execute(f"{alter} TYPE {pg_type} USING {expr}")
        conn.commit()
    return LoadOutcome(schema=schema, table=table, mode=mode, rows=rows, existed=existed)


_TEXT_TYPES = {"json": "json", "jsonb": "jsonb", "uuid": "uuid", "inet": "inet", "cidr": "cidr"}


def _non_text_columns(settings: Settings, schema: str, table: str) -> set[str]:
    with session(settings) as conn:
        rows = conn.execute(
            """select a.attname from pg_catalog.pg_attribute a
               join pg_catalog.pg_class c on c.oid = a.attrelid
               join pg_catalog.pg_namespace n on n.oid = c.relnamespace
               where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped
                 and a.atttypid not in ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype)""",
            (schema, table),
        ).fetchall()
    return {r[0] for r in rows}


def restore_types(schema: pa.Schema) -> list[tuple[str, str, str]]:
    """(column, type, expression) that give back the PostgreSQL type a pg_query column had.

    A ref read by pg_query carries `pg_type` (and for geometries `srid`/`encoding`) in its
    field metadata; a table made from it gets jsonb, uuid, geometry... again, not text.
    """
    out: list[tuple[str, str, str]] = []
    for f in schema:
        meta = {k.decode(): v.decode() for k, v in (f.metadata or {}).items()}
        pg_type = meta.get("pg_type", "")
        if not pa.types.is_string(f.type) and not pa.types.is_large_string(f.type):
            continue
        col = quote_ident(f.name)
        if pg_type in _TEXT_TYPES:
            out.append((f.name, _TEXT_TYPES[pg_type], f"{col}::{_TEXT_TYPES[pg_type]}"))
        elif pg_type in ("geometry", "geography") and meta.get("encoding") in ("WKT", "GeoJSON"):
            srids = [s for s in meta.get("srid", "").split(",") if s.strip().isdigit()]
            srid = int(srids[0]) if len(srids) == 1 else 0
            parse = (
                f"ST_SetSRID(ST_GeomFromGeoJSON({col}), {srid})"
                if meta["encoding"] == "GeoJSON"
                else f"ST_GeomFromText({col}, {srid})"
            )
            cast = "::geography" if pg_type == "geography" else ""
            declared = f"{pg_type}(Geometry, {srid})" if srid else pg_type  # SRID kept in the catalogue
            out.append((f.name, declared, f"{parse}{cast}"))
    return out


@dataclass
class ExecOutcome:
    statements: list[tuple[str, int]]  # (command tag, rows affected)


def execute(settings: Settings, sql: str, params: list[Any] | None = None) -> ExecOutcome:
    """Run statements in one transaction, committed only if every one succeeds.

    A single statement that PostgreSQL refuses inside a transaction block (VACUUM,
    CREATE INDEX CONCURRENTLY, CREATE DATABASE...) is run on its own instead.
    """
    require_writable(settings)
    tree = safety.parse(sql)
    kinds = [next(iter(s["stmt"])) for s in tree.get("stmts", [])]
    if "TransactionStmt" in kinds:
        raise InputError(
            "pg_execute already runs your statements in one transaction (committed only if all succeed).",
            hint="Leave out BEGIN/COMMIT/ROLLBACK/SAVEPOINT.",
        )
    parts = safety.statements(sql)
    if not parts:
        raise InputError("The SQL is empty.", hint="Pass an INSERT/UPDATE/DELETE or DDL statement.")
    if params and len(parts) > 1:
        raise InputError(
            "Parameters work with a single statement only.",
            hint="Split the SQL into one pg_execute call per parameterised statement.",
        )
    with explained(settings, sql):  # an error shows where, and which relations were meant
        return _execute(settings, parts, params)


def _execute(settings: Settings, parts: list[str], params: list[Any] | None) -> ExecOutcome:
    import psycopg  # not at the server's start

    done: list[tuple[str, int]] = []
    outside_transaction = False
    with session(settings, read_only=False) as conn:
        try:
            with psycopg.RawCursor(conn) as cur:
                for part in parts:
                    # RawCursor: `$1` placeholders, as in pg_query, bound by the server.
                    cur.execute(part, params or None)
                    done.append((cur.statusmessage or "OK", max(cur.rowcount, 0)))
            conn.commit()
        except psycopg.errors.ActiveSqlTransaction:
            if len(parts) > 1:
                raise
            conn.rollback()
            outside_transaction = True
        if outside_transaction:
            conn.autocommit = True
            with psycopg.RawCursor(conn) as cur:
                cur.execute(parts[0], params or None)
                done.append((cur.statusmessage or "OK", max(cur.rowcount, 0)))
    return ExecOutcome(statements=done)
