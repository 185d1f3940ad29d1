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

_KEYWORD_BEFORE = re.compile(r"(?i)\b(?:select|distinct)\s$")
_CAST_TAIL = re.compile(r"(?:\s*::\s*[A-Za-z_]\w*(?:\s*\(\s*\d+(?:\s*,\s*\d+)?\s*\))?)+")


def written(sql: str, node: Any, dialect: str | None, limit: int = MAX_TEXT) -> str:
    """`node` (a projection's expression, its alias left out) as the SQL spells it, or sqlglot's
    text when the positions do not give a balanced piece of SQL."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    inner = node.this if isinstance(node, exp.Alias) else node
    fallback = inner.sql(dialect=dialect)[:limit]
    spans = [span for n in inner.walk() if (span := _span(sql, n)) is not None]
    if not spans:
        return fallback
    start = min(s for s, _ in spans)
    end = max(e for _, e in spans) + 1
    alias = _span(sql, node.args["alias"]) if isinstance(node, exp.Alias) and node.args.get("alias") else None
    if alias is not None:  # a projection: from the comma or SELECT before it to its `AS alias`
        start, end = _item_start(sql, start), alias[0]
        end = start + len(re.sub(r"(?i)\s+as\s*$", "", sql[start:end].rstrip()))
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
    text = " ".join(sql[start : tail.end() if tail else end].split())
    try:  # keywords have no positions (`case when ... end`): the piece must be the same expression
        same = type(sqlglot.parse_one(text, dialect=dialect)) is type(inner)
    except (SqlglotError, ValueError):
        same = False
    return text[:limit] if same else fallback


def _item_start(sql: str, at: int) -> int:
    """Where the select-list item holding position `at` starts: after the comma or SELECT before
    it, outside brackets (keywords such as CASE, and a leading `(`, have no position of their own)."""
    depth, i = 0, at - 1
    while i >= 0:
        c = sql[i]
        if c == ")":
            depth += 1
        elif c == "(":
            depth -= 1
        elif depth <= 0 and (c == "," or _KEYWORD_BEFORE.search(sql, max(0, i - 9), i + 1)):
            break
        i -= 1
    start = i + 1
    return start + len(sql[start:at]) - len(sql[start:at].lstrip())


def _span(sql: str, node: Any) -> tuple[int, int] | None:
    """A node's (start, end) in `sql`, only if the text there is the node's own (nodes a dialect
    or the qualifier made, such as DuckDB's DECIMAL(18, 3) for `::numeric`, carry stray ones)."""
    meta = getattr(node, "_meta", None)
    if not meta or "start" not in meta or "end" not in meta:
        return None
    start, end = meta["start"], meta["end"]
    text = sql[start : end + 1].strip("\"'`[]").lower()
    if not text or start < 0 or end >= len(sql):
        return None
    own = str(node.name or node.this or "").lower() if node.key in ("identifier", "literal") else None
    if own is None:  # a function: its name's token
        own = node.sql().split("(", 1)[0].strip().lower()
    return (start, end) if text == own else None


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
