"""The read-only layers of `pg_query`, each failing closed on its own.

1. Parse (pglast, PostgreSQL's own parser): exactly one statement, and it must
   be a query: SELECT/VALUES/TABLE (no `INTO`, no `FOR UPDATE`, no data-changing
   CTE anywhere), `EXPLAIN` of such a query, or `SHOW`. Anything the parser
   cannot read is refused, not guessed at.
2. Functions (checked against `pg_proc` in the target database): a function
   that is declared VOLATILE may change state, so it is refused unless it is on
   a short allowlist of pure generators (random(), gen_random_uuid()...);
   functions that read files, signal backends, change settings or run SQL from
   a string are refused by name whatever their declared volatility.
3. The session: `default_transaction_read_only=on` from connection start-up,
   `SET TRANSACTION READ ONLY`, a `statement_timeout`, and a rollback and close at the
   end. The ADBC driver also sends the query as `COPY (query) TO STDOUT` or a
   prepared statement, neither of which accepts a second statement.

Valid analytics SQL (CTEs, window functions, PostGIS, EXPLAIN) passes: nothing
here is a list of forbidden words matched against text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from data_platform.errors import ExpressionError
from data_platform.postgres.sqlerror import syntax_error

# Volatile functions that only compute a value.
VOLATILE_OK = frozenset(
    {
        "random",
        "random_normal",
        "clock_timestamp",
        "timeofday",
        "gen_random_uuid",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "uuidv4",
        "uuidv7",
        "st_generatepoints",
        "st_clusterkmeans",
        "st_symmetricdifference",
    }
)

# Refused by name, whatever pg_proc says: escapes from the database or the session.
_DENY_PREFIXES = (
    "pg_read_",
    "pg_ls_",
    "pg_stat_file",
    "pg_file_",
    "pg_logdir",
    "lo_",
    "dblink",
    "query_to_xml",
    "cursor_to_xml",
    "pg_create_",
    "pg_drop_replication",
    "pg_replication_",
    "pg_advisory",
    "pg_try_advisory",
    "pg_logical_",
    "pg_import_",
)
_DENY_NAMES = frozenset(
    {
        "set_config",
        "nextval",
        "setval",
        "pg_notify",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_promote",
        "pg_switch_wal",
        "pg_sleep",
        "pg_sleep_for",
        "pg_sleep_until",
        "ts_stat",
        "loread",
        "lowrite",
        "pg_stat_reset",
        "pg_stat_reset_shared",
        "pg_stat_reset_single_table_counters",
        "pg_stat_reset_single_function_counters",
        "pg_stat_reset_slru",
        "pg_wal_replay_pause",
        "pg_wal_replay_resume",
        "pg_backup_start",
        "pg_backup_stop",
        "txid_current",
        "pg_current_xact_id",
    }
)

# Statements that may appear inside an allowed one (e.g. in a CTE) only if they are queries.
_QUERY_NODES = frozenset({"SelectStmt"})


@dataclass
class CheckedSQL:
    """One statement that passed the parse layer, with what the next layers need."""

    sql: str
    kind: str  # "select" | "explain" | "show"
    functions: set[str] = field(default_factory=set)
    params: list[tuple[int, int]] = field(default_factory=list)  # (number, byte location)


def parse(sql: str) -> dict[str, Any]:
    """PostgreSQL's parse tree as JSON, or ExpressionError with the parser's message."""
    from pglast.parser import ParseError, parse_sql_json

    try:
        return json.loads(parse_sql_json(sql))
    except ParseError as exc:
        message, location = [*exc.args, None, None][:2]
        at = location if isinstance(location, int) else None
        raise syntax_error(sql, str(message or exc), at) from None


def statements(sql: str) -> list[str]:
    """Split SQL into its statements (exact source text), using the real parser."""
    tree = parse(sql)
    raw = sql.encode("utf-8")
    out: list[str] = []
    for stmt in tree.get("stmts", []):
        start = stmt.get("stmt_location", 0)
        length = stmt.get("stmt_len", 0) or len(raw) - start
        text = raw[start : start + length].decode("utf-8").strip()
        if text:
            out.append(text)
    return out


def _walk(node: Any, key: str | None = None) -> Iterator[tuple[str | None, Any]]:
    yield key, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v, key)


def _refuse(what: str, hint: str | None = None) -> ExpressionError:
    return ExpressionError(
        f"This tool runs read-only queries only; refused: {what}.",
        hint=hint or "Use pg_execute for statements that change data or settings.",
    )


def check_query(sql: str) -> CheckedSQL:
    """Layer 1: one statement, a query, nothing that writes. Raises ExpressionError."""
    if not sql or not sql.strip():
        raise ExpressionError("The SQL is empty.", hint="Pass a SELECT query.")
    if "\x00" in sql:
        raise _refuse("a NUL character in the SQL", hint="Remove the NUL (\\x00) character from the SQL.")
    tree = parse(sql)
    stmts = tree.get("stmts", [])
    if len(stmts) != 1:
        raise _refuse(
            f"{len(stmts)} statements" if stmts else "no statement (only comments?)",
            hint="Send exactly one query per call.",
        )
    (only,) = stmts
    top = only["stmt"]
    (top_type,) = top.keys()
    body = top[top_type]
    kind: str
    if top_type == "SelectStmt":
        kind = "select"
    elif top_type == "ExplainStmt":
        kind = "explain"
        inner = body.get("query", {})
        if set(inner) != {"SelectStmt"}:
            raise _refuse(
                f"EXPLAIN of {next(iter(inner), 'nothing')}", hint="pg_explain plans any statement."
            )
    elif top_type == "VariableShowStmt":
        kind = "show"
    else:
        raise _refuse(_describe(top_type))
    out = CheckedSQL(sql=_single_text(sql, only), kind=kind)
    offset = int(only.get("stmt_location", 0))
    for _key, node in _walk(top):
        if not isinstance(node, dict):
            continue
        for name, value in node.items():
            if (
                name.endswith("Stmt")
                and name not in _QUERY_NODES
                and not (name == top_type and value is body)
            ):
                raise _refuse(f"a {_describe(name)} inside the query (e.g. a data-changing CTE)")
            if name == "intoClause":
                raise _refuse("SELECT ... INTO (it creates a table)")
            if name == "lockingClause":
                raise _refuse("SELECT ... FOR UPDATE/SHARE (it locks rows)")
            if name == "FuncCall":
                parts = [p["String"]["sval"] for p in value.get("funcname", []) if "String" in p]
                if parts:
                    out.functions.add(parts[-1].lower())
            if name == "ParamRef":
                loc = int(value.get("location", -1))
                out.params.append((int(value.get("number", 0)), loc - offset if loc >= 0 else -1))
    for fn in out.functions:
        if is_denied(fn):
            raise _refuse(f"function {fn}() (it can act outside the query)")
    return out


def _single_text(sql: str, stmt: dict[str, Any]) -> str:
    """The statement's own text: no trailing semicolon or comment to break wrapping."""
    raw = sql.encode("utf-8")
    start = stmt.get("stmt_location", 0)
    length = stmt.get("stmt_len", 0) or len(raw) - start
    # A newline ends any trailing `-- comment`, so the driver's `COPY (...)` wrapper stays intact.
    return raw[start : start + length].decode("utf-8") + "\n"


def _describe(node_type: str) -> str:
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", node_type.removesuffix("Stmt")).upper()
    return f"{words.strip()} statement"


def is_denied(name: str) -> bool:
    low = name.lower()
    return low in _DENY_NAMES or low.startswith(_DENY_PREFIXES)


FUNCTION_SQL = """
select p.proname, bool_or(p.provolatile = 'v') as volatile
from pg_catalog.pg_proc p
where p.proname = any(%s)
group by p.proname
"""


def check_functions(conn: Any, functions: set[str]) -> None:
    """Layer 2: refuse any function that some same-named pg_proc entry declares VOLATILE.

    Conservative by design: an overloaded name is refused if any overload is volatile
    (unless allowlisted), since which overload runs is decided later by the planner.
    """
    if not functions:
        return
    rows = conn.execute(FUNCTION_SQL, (sorted(functions),)).fetchall()
    for name, volatile in rows:
        if volatile and name not in VOLATILE_OK:
            raise _refuse(
                f"function {name}() is VOLATILE (it may change state)",
                hint="Use pg_execute if the side effect is intended.",
            )


def substitute_params(sql: str, params: list[tuple[int, int]], types: dict[int, str]) -> str:
    """Rewrite `$n` as `($n::text)::<type>` at the parser's byte locations.

    The driver binds every value as text; PostgreSQL parses it with the type it
    inferred for that placeholder, as it would for an untyped literal. Values are
    still bound, never pasted into the SQL.
    """
    raw = sql.encode("utf-8")
    for number, loc in sorted(params, key=lambda p: p[1], reverse=True):
        token = f"${number}".encode()
        target = types.get(number)
        if loc < 0 or raw[loc : loc + len(token)] != token or not target or target == "text":
            continue
        cast = f"(${number}::text)::{target}".encode()
        raw = raw[:loc] + cast + raw[loc + len(token) :]
    return raw.decode("utf-8")
