"""Candidate indexes read from a plan: what its sequential scans filter, join and sort on.

A plan says where PostgreSQL reads a whole table (`Seq Scan`) and why: the scan's
`Filter`, the `Hash Cond` of the join above it, the `Sort Key` of a top-N sort over it.
Those expressions are parsed with PostgreSQL's own parser (pglast), never pattern-matched,
and become candidates: equality columns first, then one range or sort column, as a
b-tree wants them. Scans already served by an index produce no candidate.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_EQ = {"="}
_RANGE = {"<", ">", "<=", ">="}


@dataclass(frozen=True)
class Candidate:
    """An index to try: a table and its key columns (each `"name"` or `"name" DESC`)."""

    schema: str
    table: str
    columns: tuple[str, ...]
    why: str  # "filter", "join", "sort"
    rows: float | None = field(default=None, compare=False)  # a filter's estimated rows kept
    # When the filter has conjuncts the index would not serve: a query of the ones it would,
    # whose estimated rows are this index's share (`rows` would understate it).
    own: str | None = field(default=None, compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.removesuffix(" DESC")[1:-1].replace('""', '"') for c in self.columns)


@dataclass
class Scan:
    schema: str
    table: str
    alias: str
    eq: list[str]
    ranges: list[str]


def nodes(plan: dict[str, Any], parents: tuple[dict[str, Any], ...] = ()) -> Iterator[tuple[dict, tuple]]:
    yield plan, parents
    for child in plan.get("Plans", []):
        yield from nodes(child, (*parents, plan))


def _expr_tree(text: str) -> Any:
    """An EXPLAIN expression (`((a = $1) AND (b > 5))`) as a pglast JSON tree, or None."""
    from pglast.parser import ParseError, parse_sql_json

    try:
        tree = json.loads(parse_sql_json(f"select 1 where {text}"))
    except ParseError:
        return None
    return tree["stmts"][0]["stmt"]["SelectStmt"].get("whereClause")


def _column(node: Any) -> tuple[str | None, str] | None:
    """(qualifier, column) of a ColumnRef, looking through casts; None for anything else."""
    while isinstance(node, dict) and "TypeCast" in node:
        node = node["TypeCast"]["arg"]
    if not isinstance(node, dict) or "ColumnRef" not in node:
        return None
    parts = [f["String"]["sval"] for f in node["ColumnRef"]["fields"] if "String" in f]
    if not parts:
        return None
    return (parts[-2] if len(parts) > 1 else None, parts[-1])


def _is_value(node: Any) -> bool:
    """A constant or a parameter (possibly cast): what an index lookup can use."""
    while isinstance(node, dict) and "TypeCast" in node:
        node = node["TypeCast"]["arg"]
    return isinstance(node, dict) and bool({"A_Const", "ParamRef", "A_ArrayExpr"} & node.keys())


def _conjuncts(node: Any) -> Iterator[Any]:
    if isinstance(node, dict) and "BoolExpr" in node and node["BoolExpr"]["boolop"] == "AND_EXPR":
        for arg in node["BoolExpr"]["args"]:
            yield from _conjuncts(arg)
    elif node is not None:
        yield node


def predicates(text: str) -> tuple[list[str], list[str]]:
    """Columns compared with a value in a filter, or tested for NULL: (equality columns, range columns)."""
    eq: list[str] = []
    ranges: list[str] = []
    for node in _conjuncts(_expr_tree(text)):
        null = node.get("NullTest") if isinstance(node, dict) else None
        col = _column(null["arg"]) if null else None
        if null and col:  # a b-tree searches `IS NULL` as an equality, `IS NOT NULL` as a range
            (eq if null.get("nulltesttype") == "IS_NULL" else ranges).append(col[1])
            continue
        expr = node.get("A_Expr") if isinstance(node, dict) else None
        if not expr:
            continue
        ops = [n["String"]["sval"] for n in expr.get("name", []) if "String" in n]
        op = ops[-1] if ops else ""
        kind = expr.get("kind")
        left, right = expr.get("lexpr"), expr.get("rexpr")
        col = _column(left) if _is_value(right) else _column(right) if _is_value(left) else None
        if col is None:
            continue
        if (kind == "AEXPR_OP" and op in _EQ) or (kind in ("AEXPR_OP_ANY", "AEXPR_IN") and op == "="):
            eq.append(col[1])
        elif kind == "AEXPR_OP" and op in _RANGE:
            ranges.append(col[1])
    return list(dict.fromkeys(eq)), [c for c in dict.fromkeys(ranges) if c not in eq]


def join_columns(text: str) -> list[tuple[str | None, str]]:
    """Both sides of each `a.x = b.y` in a join condition."""
    out: list[tuple[str | None, str]] = []
    for node in _conjuncts(_expr_tree(text)):
        expr = node.get("A_Expr") if isinstance(node, dict) else None
        if not expr or expr.get("kind") != "AEXPR_OP":
            continue
        left, right = _column(expr.get("lexpr")), _column(expr.get("rexpr"))
        if left and right:
            out += [left, right]
    return out


def _sort_key(key: str) -> tuple[str | None, str] | None:
    """`o.created_at DESC` → (qualifier, `"created_at" DESC`); expressions are skipped."""
    words = key.split()
    desc = len(words) > 1 and words[1].upper() == "DESC"
    col = _column(_expr_tree(words[0])) if words else None
    if col is None:
        return None
    return col[0], ident_col(col[1]) + (" DESC" if desc else "")


def ident_col(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rows(node: dict[str, Any], parents: tuple[dict[str, Any], ...]) -> float:
    """The rows a scan's filter keeps in the whole table: a parallel scan's estimate is per process."""
    rows = float(node.get("Plan Rows", 0))
    if node.get("Parallel Aware"):
        w = next((int(p["Workers Planned"]) for p in reversed(parents) if "Workers Planned" in p), 0)
        rows *= w + max(0.0, 1.0 - 0.3 * w)  # PostgreSQL's parallel divisor (leader participating)
    return rows


def _columns(text: str) -> set[str]:
    eq, ranges = predicates(text)
    return {*eq, *ranges}


def own_filter(node: dict[str, Any], names: tuple[str, ...]) -> str | None:
    """`select 1 from <table> where <the conjuncts on names>`, or None when they are the whole filter."""
    from pglast import ast, enums, parse_sql
    from pglast.parser import ParseError
    from pglast.stream import RawStream

    try:  # EXPLAIN prints some filters no parser reads back ("(hashed SubPlan 1)")
        where: Any = parse_sql(f"select 1 where {node['Filter']}")[0].stmt.whereClause  # type: ignore[union-attr]
    except ParseError:
        return None
    conj: tuple[Any, ...] = (
        tuple(where.args or ())
        if isinstance(where, ast.BoolExpr) and where.boolop == enums.BoolExprType.AND_EXPR
        else (where,)
    )
    texts = [RawStream()(c) for c in conj]
    mine = [t for t in texts if (cols := _columns(t)) and cols <= set(names)]
    if len(mine) == len(texts) or not mine:
        return None
    table = ident_col(node.get("Schema", "public")) + "." + ident_col(node["Relation Name"])
    alias = ident_col(node.get("Alias", node["Relation Name"]))
    return f"select 1 from {table} as {alias} where " + " and ".join(f"({t})" for t in mine)


def _filter(
    node: dict[str, Any], parents: tuple, schema: str, table: str, cols: tuple[str, ...]
) -> Candidate:
    c = Candidate(schema, table, cols, "filter", _rows(node, parents))
    return Candidate(schema, table, cols, "filter", c.rows, own_filter(node, c.names))


def _scan(node: dict[str, Any]) -> Scan | None:
    if node.get("Node Type") != "Seq Scan" or "Relation Name" not in node:
        return None
    eq, ranges = predicates(node["Filter"]) if node.get("Filter") else ([], [])
    return Scan(node.get("Schema", "public"), node["Relation Name"], node.get("Alias", ""), eq, ranges)


def candidates(plan: dict[str, Any]) -> list[Candidate]:
    """Every index worth trying for this plan (the JSON of EXPLAIN (FORMAT JSON, VERBOSE))."""
    out: list[Candidate] = []
    for node, parents in nodes(plan):
        scan = _scan(node)
        if scan is None:
            continue
        eq = [ident_col(c) for c in scan.eq]
        if eq or scan.ranges:
            first = tuple(eq + [ident_col(c) for c in scan.ranges[:1]])
            out.append(_filter(node, parents, scan.schema, scan.table, first))
            for col in scan.ranges[1:]:
                out.append(_filter(node, parents, scan.schema, scan.table, (*eq, ident_col(col))))
        for parent in reversed(parents):
            cond = parent.get("Hash Cond") or parent.get("Merge Cond") or parent.get("Join Filter")
            if cond:
                for qual, col in join_columns(cond):
                    if qual in (scan.alias, scan.table) or qual is None:
                        out.append(Candidate(scan.schema, scan.table, (*eq, ident_col(col)), "join"))
            keys = parent.get("Sort Key")
            if keys and parent.get("Node Type") in ("Sort", "Incremental Sort"):
                cols = [_sort_key(k) for k in keys]
                if all(c is not None and c[0] in (scan.alias, scan.table, None) for c in cols):
                    out.append(Candidate(scan.schema, scan.table, (*eq, *(c[1] for c in cols if c)), "sort"))
                break  # a sort above the nearest one is not this scan's order
    unique: dict[tuple[str, str, tuple[str, ...]], Candidate] = {}
    for c in out:
        key = (c.schema, c.table, tuple(dict.fromkeys(c.columns)))
        unique.setdefault(key, Candidate(c.schema, c.table, key[2], c.why, c.rows, c.own))
    return list(unique.values())
