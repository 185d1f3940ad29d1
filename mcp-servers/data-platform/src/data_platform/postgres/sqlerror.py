"""A failed statement explained: where it failed, and which relations were meant.

PostgreSQL says where an error is (`position`, and a `LINE n:` excerpt with a caret) and, for a
missing relation, only that it is missing. Every pg_ tool that runs caller-written SQL runs it
under `explained(...)`: the error then shows the statement as the server received it (the line
with a caret when there is a position, else the statement's start, bounded), and a missing
relation lists the relations of that name in every schema of the connection, and close names.
The lookup is one read-only, bounded catalogue query; if it fails, the original error stands.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Iterator

from data_platform.config import Settings
from data_platform.errors import ConnectionFailedError, DatabaseError, ExpressionError
from data_platform.postgres.sqltext import qualified

MAX_STATEMENT = 300  # characters of a statement shown when the server gave no position
MAX_LINE = 120  # characters of the failing line shown around the caret
MAX_CANDIDATES = 8
MAX_NAMES = 20_000  # relation names read for close matches

_MISSING = re.compile(r'relation "([^"]+)" does not exist')

_CANDIDATES_SQL = """
select n.nspname, c.relname, coalesce(array_position(pg_catalog.current_schemas(false), n.nspname), 0)
from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r','p','v','m','f')
  and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%%'
  and n.nspname not like 'pg_temp_%%'
  and c.relname = any(%s)
order by 3 = 0, 3, 1, 2
limit 50
"""
_NAMES_SQL = """
select distinct c.relname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r','p','v','m','f')
  and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%%'
limit %s
"""


def caret(sql: str, position: int, limit: int = MAX_LINE) -> str:
    """The line of `sql` holding 1-based character `position`, with a `^` under it (long lines cut
    around the caret)."""
    index = max(0, min(position - 1, len(sql)))
    start = sql.rfind("\n", 0, index) + 1
    end = sql.find("\n", index)
    line = sql[start : end if end >= 0 else len(sql)]
    col = index - start
    number = sql.count("\n", 0, start) + 1
    cut = max(0, col - limit // 2) if len(line) > limit else 0
    shown = line[cut : cut + limit]
    prefix = f"LINE {number}: " + ("..." if cut else "")
    return f"{prefix}{shown}{'...' if cut + limit < len(line) else ''}\n{' ' * (len(prefix) + col - cut)}^"


def statement_start(sql: str, limit: int = MAX_STATEMENT) -> str:
    """The statement as sent, bounded: where quoting went wrong is visible."""
    text = sql.strip()
    more = f"... ({len(text):,} characters)" if len(text) > limit else ""
    return "Statement as received:\n" + text[:limit] + more


def syntax_error(sql: str, message: str, location: int | None) -> ExpressionError:
    """pglast's syntax error (0-based `location`) with the failing line and a caret."""
    where = f"\n{caret(sql, location + 1)}" if location is not None and location >= 0 else ""
    return ExpressionError(f"SQL syntax error: {message}{where}", hint="Fix the SQL and retry.")


@contextlib.contextmanager
def explained(settings: Settings, sql: str) -> Iterator[None]:
    """Run the body; a PostgreSQL error from it gains where it failed and, for a missing relation,
    the relations that exist under that name or close to it."""
    try:
        yield
    except ConnectionFailedError:
        raise
    except DatabaseError as exc:
        if exc.details.get("reason") or exc.details.get("explained"):  # timeout, cancel: not the SQL's text
            raise
        raise explain_error(exc, settings, sql) from None


def explain_error(exc: DatabaseError, settings: Settings, sql: str) -> DatabaseError:
    message = exc.message
    if not exc.details.get("excerpt"):
        message += "\n" + statement_start(sql)
    hint = exc.hint
    missing = _MISSING.search(exc.message)
    if missing and exc.details.get("sqlstate") == "42P01":
        found = _candidates(settings, missing.group(1))
        if found:
            message += "\n" + found
            hint = hint or "Schema-qualify the name (schema.table), or set search_path."
    return DatabaseError(message, hint=hint, details={**exc.details, "explained": True})


def _candidates(settings: Settings, name: str) -> str:
    """`Relations named "x" on this connection: "a"."x" (not on the search_path) ...; close names: ...`"""
    from data_platform.postgres.connection import session

    schema, _, table = name.rpartition(".")
    table = table or name
    try:
        with session(settings, read_only=True) as conn:
            names = [r[0] for r in conn.execute(_NAMES_SQL, (MAX_NAMES,)).fetchall()]
            close = [n for n in difflib.get_close_matches(table, names, n=MAX_CANDIDATES, cutoff=0.75)]
            lowered = [n for n in names if n.lower() == table.lower() and n not in close]
            wanted = sorted({table, *close, *lowered})
            rows = conn.execute(_CANDIDATES_SQL, (wanted,)).fetchall()
    except DatabaseError:
        return ""  # the original error stands
    same = [(nsp, rel, pos) for nsp, rel, pos in rows if rel == table and nsp != schema]
    other = [(nsp, rel, pos) for nsp, rel, pos in rows if rel != table]
    parts = []
    if same:
        shown = ", ".join(
            qualified(nsp, rel) + ("" if pos else " (not on the search_path)") for nsp, rel, pos in same
        )
        parts.append(f'Relations named "{table}" on this connection: {shown}.')
    if other:
        shown = ", ".join(qualified(nsp, rel) for nsp, rel, _ in other[:MAX_CANDIDATES])
        parts.append(f"Close names: {shown}.")
    if not parts:
        return f'No relation named "{table}" or close to it on this connection (pg_tables lists them).'
    return " ".join(parts)
