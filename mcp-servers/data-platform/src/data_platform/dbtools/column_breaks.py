"""Columns a changed model no longer has that its children still read: they will fail at run.

A child that reads a missing column cannot be qualified by sqlglot (`Unknown column`), and one
reading it unqualified from a single table is qualified to it silently; so each child is read
again with the parent's schema widened by the names the child's SQL refers to and no parent has,
and the child's columns (and join/filter keys) traced to one of those names are the breaks.
"""

from __future__ import annotations

from dataclasses import dataclass

from data_platform.dbtools.columns import SQL_NODES, Analyzer

READ_KEYS = ("join", "filter")  # a group-by name may be the SELECT's own alias


@dataclass(frozen=True)
class Break:
    model: str  # the changed model
    column: str  # the column it no longer has
    reader: str  # the child that reads it

    def text(self) -> str:
        return (
            f"{self.reader} reads {self.model}.{self.column}, which {self.model} no longer has: "
            "it will fail at run"
        )


def breaks(analyzer: Analyzer, changed: list[str]) -> list[Break]:
    """The reads by the changed models' children of columns those models do not have."""
    have = {uid: analyzer.columns_of(uid) for uid in changed}
    out: list[Break] = []
    children = dict.fromkeys(c for uid in changed for c in analyzer.children.get(uid, []))
    for child in children:
        sql = analyzer.compiled.get(child)
        if (analyzer.nodes.get(child) or {}).get("resource_type") not in SQL_NODES or sql is None:
            continue
        parents = analyzer.parents.get(child, [])
        qualified, bare, tables = _referenced(sql, analyzer.dialect)
        widen: dict[str, list[str]] = {}
        for uid in parents:
            cols = have.get(uid)
            if cols is None:
                continue  # not changed, or its columns are unknown
            # An unqualified name another parent has is that parent's (else the SQL is ambiguous).
            others = {c.lower() for p in parents if p != uid for c in analyzer.columns_of(p) or []}
            # A name qualified by another table's alias (`c.name`) is that table's.
            node = analyzer.nodes.get(uid) or {}
            mine = str(node.get("alias") or node.get("name") or "").lower()
            names = {n for q, n in qualified if tables.get(q, mine) == mine} | (bare - others)
            widen[uid] = sorted(names - {c.lower() for c in cols})
        if not any(widen.values()):
            continue
        schema, unknown = analyzer.schema_for(child, widen)
        found = analyzer.parse(sql, schema, unknown, set(parents))
        reads = [s for srcs in found.sources.values() for s in srcs]
        reads += [s for srcs in found.keys.values() for s in srcs if s.kind in READ_KEYS]
        gone = {
            (s.parent, s.column) for s in reads if s.parent in widen and s.column.lower() in widen[s.parent]
        }
        out += [Break(analyzer.label(uid), c, analyzer.label(child)) for uid, c in sorted(gone)]
    return out


def _referenced(sql: str, dialect: str | None) -> tuple[set[tuple[str, str]], set[str], dict[str, str]]:
    """The column names the SQL writes (lower case): qualified (`o.amount`: (qualifier, name)),
    unqualified, and the tables it reads by alias."""
    from sqlglot import exp, maybe_parse
    from sqlglot.errors import SqlglotError

    try:
        tree: exp.Expr = maybe_parse(sql, dialect=dialect)  # its TypeVar is unsolved for a str
    except SqlglotError:
        return set(), set(), {}
    columns = [c for c in tree.find_all(exp.Column) if c.name and not isinstance(c.this, exp.Star)]
    ctes = {c.alias.lower() for c in tree.find_all(exp.CTE)}
    tables = {
        t.alias_or_name.lower(): t.name.lower()
        for t in tree.find_all(exp.Table)
        if t.name.lower() not in ctes
    }
    return (
        {(c.table.lower(), c.name.lower()) for c in columns if c.table},
        {c.name.lower() for c in columns if not c.table},
        tables,
    )
