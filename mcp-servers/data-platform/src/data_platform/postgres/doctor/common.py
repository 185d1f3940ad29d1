"""What the doctor's parts share: probing the catalogue without aborting the transaction,
the extensions it leans on, and how to enable them."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import psycopg

PGSS_HOWTO = (
    "pg_stat_statements is needed: add shared_preload_libraries = 'pg_stat_statements' to "
    "postgresql.conf (or ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'), restart "
    "PostgreSQL, then run CREATE EXTENSION pg_stat_statements in this database (pg_execute on a "
    "writable connection). Managed services enable it in their parameter settings."
)


class Unavailable(Exception):
    """A check or an input the role may not read: `str()` says what is missing."""


def extension(conn: psycopg.Connection[Any], name: str) -> str | None:
    """The installed version of an extension in this database, or None."""
    row = conn.execute("select extversion from pg_extension where extname = %s", (name,)).fetchone()
    return row[0] if row else None


def hypopg_howto(conn: psycopg.Connection[Any]) -> str:
    """How to get hypopg here: the package may be on the server already, only not created."""
    row = conn.execute("select default_version from pg_available_extensions where name = 'hypopg'").fetchone()
    if row:
        return (
            f"hypopg {row[0]} is available on this server but not created in this database: run "
            "CREATE EXTENSION hypopg (pg_execute on a writable connection; needs a superuser, or the "
            "admin role of a managed service). No restart is needed."
        )
    return (
        "hypopg is not installed on this server: install the package (Debian/Ubuntu: apt install "
        "postgresql-<major>-hypopg; RDS, Cloud SQL and Azure ship it), then CREATE EXTENSION hypopg "
        "in this database. No restart is needed."
    )


@contextlib.contextmanager
def savepoint(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Run a probe that may fail (permissions, a missing view) without losing the transaction.

    Savepoints are allowed in read-only transactions. A privilege error becomes `Unavailable`.
    """
    conn.execute("savepoint dp_doctor")
    try:
        yield
    except psycopg.errors.InsufficientPrivilege as exc:
        conn.execute("rollback to savepoint dp_doctor")
        raise Unavailable(_first_line(exc)) from None
    except psycopg.errors.QueryCanceled:
        raise  # the statement timeout or a cancelled call: the caller's error, not a probe's
    except psycopg.Error:
        conn.execute("rollback to savepoint dp_doctor")
        raise
    else:
        conn.execute("release savepoint dp_doctor")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def ident(*parts: str) -> str:
    """A quoted, dotted identifier: `"schema"."table"`."""
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


_PASSWORD = re.compile(r"(\bpassword\s+)('(?:[^']|'')*'|\$\w*\$.*?\$\w*\$)", re.IGNORECASE | re.DOTALL)


def mask_passwords(sql: str) -> str:
    """`CREATE/ALTER ROLE ... PASSWORD '...'` is kept verbatim by pg_stat_statements: never show it."""
    return _PASSWORD.sub(r"\1'***'", sql)
