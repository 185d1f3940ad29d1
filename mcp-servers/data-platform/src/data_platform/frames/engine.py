"""A locked-down DuckDB connection over Arrow tables, for expressions a model wrote.

The sandbox is the connection itself, so it holds whatever the SQL says:
no file or network access (`enable_external_access=false` also disables
`read_csv`, `COPY`, `ATTACH`, `glob`...), no extension install or load, and
the configuration locked so `SET` cannot undo any of it. On top of that,
`check_select` allows exactly one SELECT statement (layer two), and filter
expressions are first parsed by `expr.py` into a whitelisted AST (layer three).
The tables are registered zero-copy from memory-mapped refs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from data_platform.errors import ExpressionError, InputError

MEMORY_LIMIT = "4GB"
_shared: duckdb.DuckDBPyConnection | None = None
_shared_lock = threading.Lock()


def configure(memory_limit: str) -> None:
    """Set the sandbox's memory limit (settings.duckdb_memory) before its first use in this process."""
    global MEMORY_LIMIT
    with _shared_lock:
        if _shared is None:
            MEMORY_LIMIT = memory_limit


def locked_connection(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB that can see only the tables registered on it."""
    config: dict[str, str | bool | int] = {
        "enable_external_access": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "memory_limit": MEMORY_LIMIT,
        "threads": threads or max(1, os.cpu_count() or 1),
        "lock_configuration": True,
    }
    return duckdb.connect(":memory:", config=config)


def _database() -> duckdb.DuckDBPyConnection:
    """One locked in-memory database per process (opening one costs ~60 ms; a cursor ~1 ms)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = locked_connection()
        return _shared


@contextmanager
def over(tables: Mapping[str, pa.Table]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on the locked database with each table visible under its name, to this cursor only."""
    con = _database().cursor()
    try:
        for name, table in tables.items():
            con.register(name, table)
        yield con
    finally:
        con.close()


def check_select(sql: str) -> str:
    """Exactly one SELECT (or WITH ... SELECT) statement, else ExpressionError."""
    text = sql.strip().rstrip(";").strip() if isinstance(sql, str) else ""
    if not text:
        raise ExpressionError(
            "The SQL is empty.", hint="Write one SELECT over refs, e.g. SELECT * FROM sales."
        )
    if "\x00" in text:
        raise ExpressionError("The SQL contains a NUL byte.")
    con = _database().cursor()  # parsing only: nothing is executed here
    try:
        statements = con.extract_statements(text)
    except duckdb.Error as exc:
        raise ExpressionError(f"SQL syntax error: {first_line(exc)}", hint=SQL_HINT) from None
    finally:
        con.close()
    if len(statements) != 1:
        raise ExpressionError(
            f"Only one statement is allowed; got {len(statements)}.",
            hint="Send a single SELECT (no ';' between statements).",
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise ExpressionError(
            f"Only SELECT is allowed here; got a {kind.name} statement.",
            hint="Read refs with SELECT; create files with to_csv/to_parquet.",
        )
    return text


SQL_HINT = "Write one SELECT over refs by name, e.g. SELECT region, sum(amount) FROM sales GROUP BY region."


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def run(con: duckdb.DuckDBPyConnection, sql: str, hint: str = SQL_HINT) -> pa.Table:
    """Execute on a locked connection; DuckDB errors become ExpressionError with its reason."""
    try:
        return con.sql(sql).to_arrow_table()
    except duckdb.PermissionException as exc:
        raise ExpressionError(
            f"Not allowed: {first_line(exc)}",
            hint="Queries may only read data_refs: no files, network, extensions or settings.",
        ) from None
    except duckdb.OutOfMemoryException as exc:
        raise InputError(
            f"The query ran out of memory ({MEMORY_LIMIT}): {first_line(exc)}",
            hint="Filter or select fewer columns first, or aggregate before joining.",
        ) from None
    except duckdb.Error as exc:
        raise ExpressionError(f"The query failed: {first_line(exc)}", hint=hint) from None


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
