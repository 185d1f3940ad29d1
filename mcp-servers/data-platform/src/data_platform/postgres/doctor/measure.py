"""Measured, not estimated: a query's execution time before and after a change (pg_execute's `measure`).

The query passes the same read-only checks as `pg_explain analyze=true` and runs as
`EXPLAIN (ANALYZE, BUFFERS)` in a read-only transaction that is rolled back; the best of
RUNS is kept (the first run warms the cache for the others, before as after).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from data_platform.config import Settings
from data_platform.errors import ExpressionError
from data_platform.postgres import safety
from data_platform.postgres.connection import session
from data_platform.postgres.doctor import plans

RUNS = 3


@dataclass
class Timing:
    ms: float  # the best execution time of RUNS
    scans: str  # how the plan reads its tables, e.g. "Index Scan on orders"
    buffers: int  # shared blocks hit + read in the best run


def query_only(sql: str, what: str) -> safety.CheckedSQL:
    """One read-only query (SELECT/WITH), or ExpressionError naming `what` takes it."""
    try:
        checked = safety.check_query(sql)
    except ExpressionError as exc:
        reason = exc.message.split("refused: ", 1)[-1]
        raise ExpressionError(
            f"{what} takes one read-only query (SELECT/WITH); refused: {reason}", hint=exc.hint
        ) from None
    if checked.kind != "select":
        raise ExpressionError(
            f"{what} takes one query (SELECT/WITH), not {checked.kind.upper()}.",
            hint="Pass the query itself.",
        )
    return checked


def timed(settings: Settings, sql: str) -> Timing:
    """The best of RUNS executions of a checked query, read-only and rolled back."""
    checked = query_only(sql, "measure")
    best: Timing | None = None
    with session(settings, read_only=True) as conn:
        safety.check_functions(conn, checked.functions)
        for _ in range(RUNS):
            row = conn.execute(f"explain (analyze, buffers, format json) {checked.sql}").fetchone()
            assert row is not None
            doc = row[0] if not isinstance(row[0], str) else json.loads(row[0])
            t = Timing(float(doc[0]["Execution Time"]), _scans(doc[0]["Plan"]), _buffers(doc[0]["Plan"]))
            best = t if best is None or t.ms < best.ms else best
    assert best is not None
    return best


def _scans(plan: dict[str, Any]) -> str:
    found = [
        n["Node Type"]
        + (f" on {n['Relation Name']}" if "Relation Name" in n else "")
        + (f" using {n['Index Name']}" if "Index Name" in n else "")
        for n, _ in plans.nodes(plan)
        if "Relation Name" in n or "Index Name" in n
    ]
    return ", ".join(dict.fromkeys(found)) or plan.get("Node Type", "?")


def _buffers(plan: dict[str, Any]) -> int:
    return int(plan.get("Shared Hit Blocks", 0)) + int(plan.get("Shared Read Blocks", 0))
