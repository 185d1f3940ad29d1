"""`pg_explain`: a statement's plan, never its effects.

Plain EXPLAIN plans any single statement without running it (in a read-only
transaction). ANALYZE runs the statement, so it is allowed for queries that
pass the read-only check, inside a read-only transaction that is rolled back.
"""

from __future__ import annotations

import json
from typing import Any

from data_platform.config import Settings
from data_platform.errors import ExpressionError
from data_platform.postgres import safety
from data_platform.postgres.connection import session
from data_platform.postgres.sqlerror import explained

_PLANNABLE = {"SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"}


def explain(settings: Settings, sql: str, *, analyze: bool = False, as_json: bool = False) -> str:
    """The plan as text (or JSON text)."""
    tree = safety.parse(sql)
    stmts = tree.get("stmts", [])
    if len(stmts) != 1:
        raise ExpressionError("pg_explain plans exactly one statement.", hint="Pass a single statement.")
    kind = next(iter(stmts[0]["stmt"]))
    if kind not in _PLANNABLE:
        raise ExpressionError(
            f"Only SELECT/INSERT/UPDATE/DELETE/MERGE can be explained, not {kind.removesuffix('Stmt')}."
        )
    text = safety.statements(sql)[0]
    options = ["FORMAT JSON" if as_json else "FORMAT TEXT"]
    if analyze:
        if kind != "SelectStmt":
            raise ExpressionError(
                "ANALYZE would run this data-changing statement; only queries are analyzed.",
                hint="Use analyze=false for its plan, or pg_execute to run it.",
            )
        checked = safety.check_query(text)
        options = ["ANALYZE", "BUFFERS", *options]
    with explained(settings, text), session(settings, read_only=True) as conn:
        if analyze:
            safety.check_functions(conn, checked.functions)
        rows: list[Any] = conn.execute(f"EXPLAIN ({', '.join(options)}) {text}").fetchall()
    if as_json:
        return json.dumps(rows[0][0], indent=1)
    return "\n".join(r[0] for r in rows)
