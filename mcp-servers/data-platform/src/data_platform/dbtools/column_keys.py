"""What column lineage shows besides where values come from: the keys that decide which rows
feed a column, and each expression as written in the model's SQL.

A column's value depends on more than its own inputs: `sum(p.amount)` grouped by
`c.customer_id` over `orders join payments on p.order_id = o.order_id` counts a payment for a
customer through `order_id` and `customer_id`. For every SELECT on a column's path (the model's
outer query, and each CTE or subquery its value passes through), the columns of JOIN ... ON/USING,
WHERE, GROUP BY and HAVING are keys, traced to the parent relation's column they read. Texts come
from the SQL dbt compiled (macros expanded), cut at the parser's token positions, so a
transformed column shows `round((amount_cents / 100.0)::numeric, 2)`, not sqlglot's rewrite.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

KEY_KINDS = ("join", "filter", "group-by")
MAX_TEXT = 160

_CAST_TAIL = re.compile(r"(?:\s*::\s*[A-Za-z_]\w*(?:\s*\(\s*\d+(?:\s*,\s*\d+)?\s*\))?)+")


def written(sql: str, node: Any, dialect: str | None, limit: int = MAX_TEXT) -> str:
    """`node` (a projection's expression, its alias left out) as the SQL spells it, or sqlglot's
    text when the positions do not give a balanced piece of SQL."""
    from sqlglot import exp

    inner = node.this if isinstance(node, exp.Alias) else node
    fallback = inner.sql(dialect=dialect)[:limit]
    spans = [
        (meta["start"], meta["end"])
        for n in inner.walk()
        if (meta := getattr(n, "_meta", None)) and "start" in meta and "end" in meta
    ]
    if not spans:
        return fallback
    start = min(s for s, _ in spans)
    end = max(e for _, e in spans) + 1
    if start < 0 or end > len(sql):
        return fallback
    depth = sql[start:end].count("(") - sql[start:end].count(")")
    while depth < 0 and start > 0:  # `(a + b) * 2`: the first token is inside a bracket
        start -= 1
        depth += sql[start] == "("
        depth -= sql[start] == ")"
    while depth > 0 and end < len(sql):  # `round(x, 2)`: the closing bracket has no position
        depth -= sql[end] == ")"
        depth += sql[end] == "("
        end += 1
    if depth:
        return fallback
    tail = _CAST_TAIL.match(sql, end)
    text = sql[start : tail.end() if tail else end]
    return " ".join(text.split())[:limit]


def keys_of(select: Any) -> Iterator[tuple[str, Any, Any]]:
    """(kind, column, clause) for each column of a qualified SELECT's joins, filters and grouping
    (not of its subqueries: they are scopes of their own)."""
    from sqlglot import exp

    def columns(clause: Any) -> Iterator[Any]:
        for col in clause.find_all(exp.Column):
            if col.find_ancestor(exp.Select) is select:
                yield col

    for join in select.args.get("joins") or []:
        on = join.args.get("on")
        if on is not None:  # qualify has turned USING into ON
            yield from (("join", c, on) for c in columns(on))
    where = select.args.get("where")
    if where is not None:
        yield from (("filter", c, where.this) for c in columns(where.this))
    group = select.args.get("group")
    if group is not None:
        for item in group.expressions:
            yield from (("group-by", c, item) for c in columns(item))
    having = select.args.get("having")
    if having is not None:
        yield from (("filter", c, having.this) for c in columns(having.this))


def traced(column: Any, scope: Any, dialect: str | None, schema: Any) -> Iterator[tuple[Any, str]]:
    """(table expression, column name) of the parent relation(s) a key column reads."""
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.lineage import to_node
    from sqlglot.optimizer.scope import Scope

    source = scope.sources.get(column.table)
    if isinstance(source, exp.Table):
        yield source, column.name
    elif isinstance(source, Scope):
        try:
            node = to_node(column.name, source, dialect, schema, trim_selects=False)
        except (SqlglotError, ValueError, KeyError):
            return
        for n in node.walk():
            if isinstance(n.expression, exp.Table):
                yield n.expression, n.name.rsplit(".", 1)[-1]
