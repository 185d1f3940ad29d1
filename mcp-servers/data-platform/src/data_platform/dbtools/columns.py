"""Column-level lineage from dbt's compiled SQL, parsed with sqlglot in the adapter's dialect.

Each model's compiled SQL is read once with `sqlglot.lineage` (which qualifies it: `select *`,
CTEs, subqueries and joins resolved) against the columns of its parents: for a parent model, what
this same analysis found; for a seed, its CSV header; for a source, catalog.json or its YAML
columns. A model's analysis is cached by its compiled SQL and its parents' columns, so a warm
answer re-reads nothing. Every edge says how the column got there: `pass-through` (same name),
`renamed`, `transformed` (an expression) or `aggregated` (through an aggregate function), with the
expressions as the model writes them; upstream, the `join`/`filter`/`group-by` keys that decide
which rows feed the column in each model on its path are edges of their own (column_keys.py). What
cannot be resolved (SQL sqlglot cannot parse, `select *` over columns nobody knows) is reported,
never guessed.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_platform.dbtools.column_keys import KEY_KINDS, keys_of, traced, written

KINDS = ("pass-through", "renamed", "transformed", "aggregated")
SQL_NODES = frozenset({"model", "snapshot"})
MAX_EXPRESSION = 160


@dataclass(frozen=True)
class Source:
    """Where one output column reads from: a parent relation's column, and how."""

    parent: str | None  # unique_id, None when the relation is not a node of the project
    relation: str
    column: str
    kind: str
    expression: str


@dataclass
class ModelColumns:
    columns: list[str]
    sources: dict[str, list[Source]] = field(default_factory=dict)
    keys: dict[str, list[Source]] = field(default_factory=dict)  # join/filter/group-by columns
    problem: str | None = None  # why this model's columns could not be resolved


@dataclass(frozen=True)
class Edge:
    parent: str  # `node.column` labels (unique_id.column)
    parent_column: str
    child: str
    child_column: str
    kind: str
    expression: str


@dataclass
class _Step:
    """One model's qualified SQL: its scopes by SELECT, and each scope's keys traced (once)."""

    sql: str
    scopes: dict[int, Any]
    schema: Any
    dialect: str | None
    _keys: dict[int, list[tuple[str, tuple[str, str, str], str, str]]] = field(default_factory=dict)

    def keys(self, scope: Any) -> list[tuple[str, tuple[str, str, str], str, str]]:
        """(kind, parent relation, parent column, clause as written) of a SELECT's keys."""
        if id(scope) not in self._keys:
            out: list[tuple[str, tuple[str, str, str], str, str]] = []
            texts: dict[int, str] = {}
            for kind, column, clause in keys_of(scope.expression):
                if id(clause) not in texts:
                    texts[id(clause)] = written(self.sql, clause, self.dialect)
                for table, col in traced(column, scope, self.dialect, self.schema):
                    out.append((kind, _rel_key(table.catalog, table.db, table.name), col, texts[id(clause)]))
            self._keys[id(scope)] = out
        return self._keys[id(scope)]


def _key(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _rel_key(database: Any, schema: Any, name: Any) -> tuple[str, str, str]:
    return (str(database or "").lower(), str(schema or "").lower(), str(name or "").lower())


class Analyzer:
    """The project's column lineage for one manifest + compiled SQL (kept by the service)."""

    def __init__(
        self,
        manifest: dict[str, Any],
        compiled: dict[str, str],
        dialect: str | None,
        root: Path,
        catalog: dict[str, Any] | None = None,
        cache: dict[str, tuple[str, ModelColumns]] | None = None,
    ) -> None:
        self.nodes: dict[str, dict[str, Any]] = {
            **(manifest.get("nodes") or {}),
            **(manifest.get("sources") or {}),
        }
        self.children = manifest.get("child_map") or {}
        self.parents = manifest.get("parent_map") or {}
        self.compiled = compiled
        self.dialect = dialect
        self.root = root
        self.catalog = {**((catalog or {}).get("nodes") or {}), **((catalog or {}).get("sources") or {})}
        self.cache = cache if cache is not None else {}
        # A relation may be two nodes (a seed read through a source): the model's own parent wins.
        self.relations: dict[tuple[str, str, str], list[str]] = {}
        for uid, node in self.nodes.items():
            kind = node.get("resource_type")
            if kind in ("model", "seed", "snapshot", "source"):
                name = node.get("identifier") if kind == "source" else node.get("alias") or node.get("name")
                key = _rel_key(node.get("database"), node.get("schema"), name)
                self.relations.setdefault(key, []).append(uid)
        self._done: dict[str, ModelColumns] = {}

    # -- one model ------------------------------------------------------------------------------
    def columns_of(self, uid: str) -> list[str] | None:
        """A relation's columns: analysed (models), catalog.json, a seed's header; None: unknown."""
        node = self.nodes.get(uid) or {}
        kind = node.get("resource_type")
        if kind in SQL_NODES and uid in self.compiled:
            found = self.analyse(uid)
            if found.problem is None:
                return found.columns
        cat = self.catalog.get(uid)
        if cat and cat.get("columns"):
            ordered = sorted(cat["columns"].values(), key=lambda c: c.get("index", 0))
            return [str(c["name"]) for c in ordered]
        if kind == "seed":
            header = self._seed_header(node)
            if header:
                return header
        return None  # YAML may document some columns only: expanding `*` from it would be a guess

    def _seed_header(self, node: dict[str, Any]) -> list[str] | None:
        path = self.root / str(node.get("original_file_path") or "")
        try:
            with path.open(newline="", encoding="utf-8") as f:
                return next(csv.reader(f), None)
        except OSError:
            return None

    def analyse(self, uid: str) -> ModelColumns:
        """A model's columns and where each reads from; its SQL ancestors are analysed first, in
        order and without recursion (a DAG hundreds of models deep stays within Python's stack)."""
        if uid in self._done:
            return self._done[uid]
        for ancestor in self._ancestors_first(uid):
            self._analyse_one(ancestor)
        return self._analyse_one(uid)

    def _ancestors_first(self, uid: str) -> list[str]:
        """SQL ancestors of `uid` not analysed yet, every node after its own parents."""
        order: list[str] = []
        visited = {uid}
        stack = [(uid, iter(self.parents.get(uid, [])))]
        while stack:
            node, parents = stack[-1]
            parent = next(parents, None)
            if parent is None:
                stack.pop()
                if node != uid:
                    order.append(node)
                continue
            kind = (self.nodes.get(parent) or {}).get("resource_type")
            if parent in visited or parent in self._done or kind not in SQL_NODES:
                continue
            visited.add(parent)
            stack.append((parent, iter(self.parents.get(parent, []))))
        return order

    def _analyse_one(self, uid: str) -> ModelColumns:
        if uid in self._done:
            return self._done[uid]
        sql = self.compiled.get(uid)
        if sql is None:
            return ModelColumns([], problem="dbt compiled no SQL for it")
        schema, unknown = self.schema_for(uid)
        key = _key(sql, schema, self.dialect)
        cached = self.cache.get(uid)
        if cached is not None and cached[0] == key:
            self._done[uid] = cached[1]
            return cached[1]
        result = self.parse(sql, schema, unknown, set(self.parents.get(uid, [])))
        self.cache[uid] = (key, result)
        self._done[uid] = result
        return result

    def schema_for(
        self, uid: str, extra: dict[str, list[str]] | None = None
    ) -> tuple[dict[str, Any], list[str]]:
        """sqlglot's schema of a model's parents (plus `extra` columns per parent), and the parents
        whose columns are unknown."""
        schema: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
        unknown: list[str] = []
        for parent in self.parents.get(uid, []):
            node = self.nodes.get(parent)
            if node is None:
                continue
            cols = self.columns_of(parent)
            if cols is None:
                unknown.append(self.label(parent))
                continue
            cols = cols + (extra or {}).get(parent, [])
            name = node.get("identifier") if node.get("resource_type") == "source" else node.get("alias")
            db, sch = str(node.get("database") or ""), str(node.get("schema") or "")
            table = str(name or node.get("name"))
            schema.setdefault(db, {}).setdefault(sch, {})[table] = {c: "TEXT" for c in cols}
        return schema, unknown

    def parse(self, sql: str, schema: dict[str, Any], unknown: list[str], parents: set[str]) -> ModelColumns:
        from sqlglot import exp, maybe_parse
        from sqlglot.errors import SqlglotError
        from sqlglot.lineage import lineage
        from sqlglot.optimizer.qualify import qualify
        from sqlglot.optimizer.scope import build_scope
        from sqlglot.schema import ensure_schema

        try:
            known = ensure_schema(schema, dialect=self.dialect)
            tree: exp.Expr = qualify(  # sqlglot's maybe_parse(str) leaves its TypeVar unsolved
                maybe_parse(sql, dialect=self.dialect),
                dialect=self.dialect,
                schema=known,
                validate_qualify_columns=False,
                identify=False,
            )
            scope = build_scope(tree)
            if scope is None:
                raise SqlglotError("it is not a query")
            # Untrimmed: each step's projection stays in its own SELECT, whose keys are read.
            roots = lineage(None, tree, schema=known, dialect=self.dialect, scope=scope, trim_selects=False)
        except (SqlglotError, ValueError, KeyError, RecursionError) as exc:
            return ModelColumns([], problem=f"sqlglot could not read its compiled SQL: {str(exc)[:200]}")
        if any(name == "*" for name in roots):
            why = f"columns of {', '.join(unknown)} are unknown" if unknown else "a `*` stays unresolved"
            return ModelColumns(
                [], problem=f"`select *` cannot be resolved: {why} (dbt_docs_generate writes catalog.json)"
            )
        out = ModelColumns(list(roots))
        step = _Step(sql, {id(s.expression): s for s in scope.traverse()}, known, self.dialect)
        for name, root in roots.items():
            out.sources[name] = self._sources(name, root, parents, step)
            out.keys[name] = self._keys(root, parents, step)
        return out

    def _sources(self, name: str, root: Any, parents: set[str], step: _Step) -> list[Source]:
        from sqlglot import exp

        best: dict[tuple[str, str], Source] = {}

        def walk(node: Any, rank: int, texts: tuple[str, ...]) -> None:
            if isinstance(node.expression, exp.Table):
                table = node.expression
                rel = _rel_key(table.catalog, table.db, table.name)
                parent = self._node_of(rel, parents)
                column = node.name.rsplit(".", 1)[-1]
                kind = KINDS[rank] if rank >= 2 else ("pass-through" if column == name else "renamed")
                # Transformed: each expression on the way, outermost first, as the model writes it.
                shown = " <- ".join(texts) if rank >= 2 else root.expression.sql(dialect=self.dialect)
                found = Source(parent, ".".join(p for p in rel if p), column, kind, shown[:MAX_EXPRESSION])
                key = (found.relation, column)
                if key not in best or KINDS.index(best[key].kind) < KINDS.index(kind):
                    best[key] = found
                return
            here = _rank(node.expression)
            if here >= 2:
                text = written(step.sql, node.expression, self.dialect)
                texts = (*texts, text if node is root else f"{node.name} = {text}")
            for child in node.downstream:
                walk(child, max(rank, here), texts)

        walk(root, 0, ())
        return list(best.values())

    def _keys(self, root: Any, parents: set[str], step: _Step) -> list[Source]:
        """The key columns of every SELECT the column's value passes through, traced to parents."""
        found: dict[tuple[str, str, str], Source] = {}
        for node in root.walk():
            scope = step.scopes.get(id(node.expression.parent))
            if scope is None:
                continue
            for kind, rel, col, text in step.keys(scope):
                relation = ".".join(p for p in rel if p)
                if (relation, col, kind) not in found:
                    parent = self._node_of(rel, parents)
                    found[(relation, col, kind)] = Source(parent, relation, col, kind, text)
        return list(found.values())

    def _node_of(self, rel: tuple[str, str, str], parents: set[str]) -> str | None:
        """The node a relation in the SQL is (no database named: matched on schema and name)."""
        found = self.relations.get(rel) or [
            uid for key, uids in self.relations.items() if not rel[0] and key[1:] == rel[1:] for uid in uids
        ]
        mine = [uid for uid in found if uid in parents]
        if len(mine) > 1:  # a seed and the source over it: the source is what the SQL names
            mine = [uid for uid in mine if uid.startswith("source.")] or mine
        return next(iter(mine or found), None)

    # -- walking the DAG ------------------------------------------------------------------------
    def label(self, uid: str) -> str:
        node = self.nodes.get(uid) or {}
        if node.get("resource_type") == "source":
            return f"{node.get('source_name')}.{node.get('name')}"
        return str(node.get("name") or uid)

    def upstream(self, uid: str, column: str) -> tuple[list[Edge], list[str]]:
        edges: list[Edge] = []
        problems: list[str] = []
        todo, seen = [(uid, column)], {(uid, column)}
        while todo:
            at, col = todo.pop(0)
            if (self.nodes.get(at) or {}).get("resource_type") not in SQL_NODES:
                continue
            found = self.analyse(at)
            if found.problem:
                problems.append(f"{self.label(at)}: {found.problem}")
                continue
            for s in found.sources.get(col, []):
                if s.parent is None:
                    problems.append(f"{self.label(at)}.{col} reads {s.relation}.{s.column}, not a dbt node")
                    continue
                edges.append(Edge(s.parent, s.column, at, col, s.kind, s.expression))
                if (s.parent, s.column) not in seen:
                    seen.add((s.parent, s.column))
                    todo.append((s.parent, s.column))
            # Keys decide which rows feed the column here: listed, not followed further up.
            edges.extend(
                Edge(s.parent, s.column, at, col, s.kind, s.expression)
                for s in found.keys.get(col, [])
                if s.parent is not None
            )
        return edges, problems

    def downstream(self, uid: str, column: str) -> tuple[list[Edge], list[str]]:
        edges: list[Edge] = []
        problems: list[str] = []
        todo, seen = [(uid, column)], {(uid, column)}
        while todo:
            at, col = todo.pop(0)
            for child in self.children.get(at, []):
                if (self.nodes.get(child) or {}).get("resource_type") not in SQL_NODES:
                    continue
                found = self.analyse(child)
                if found.problem:
                    problems.append(f"{self.label(child)}: {found.problem}")
                    continue
                for out_col, sources in found.sources.items():
                    for s in sources:
                        if s.parent == at and s.column == col:
                            edges.append(Edge(at, col, child, out_col, s.kind, s.expression))
                            if (child, out_col) not in seen:
                                seen.add((child, out_col))
                                todo.append((child, out_col))
        return edges, sorted(set(problems))


def _rank(expression: Any) -> int:
    """0: a plain column, 2: an expression, 3: through an aggregate (not a window)."""
    from sqlglot import exp

    inner = expression.this if isinstance(expression, exp.Alias) else expression
    if isinstance(inner, exp.Column | exp.Star):
        return 0
    for agg in inner.find_all(exp.AggFunc):
        if agg.find_ancestor(exp.Window) is None:
            return 3
    return 2


def mermaid(edges: Iterable[Edge], focus: tuple[str, str], label: Any) -> str:
    """One diagram for the column: `model.column` boxes, edges labelled with their kind."""
    ids: dict[tuple[str, str], str] = {}

    def box(uid: str, col: str) -> str:
        if (uid, col) not in ids:
            ids[(uid, col)] = f"c{len(ids)}"
        return ids[(uid, col)]

    box(*focus)
    lines = ["graph LR"]
    body = [
        f"  {box(e.parent, e.parent_column)} {'-.->' if e.kind in KEY_KINDS else '-->'}|{e.kind}| "
        f"{box(e.child, e.child_column)}"
        for e in edges
    ]
    for (uid, col), key in ids.items():
        text = f"{label(uid)}.{col}".replace('"', "'")
        shape = f'[["{text}"]]' if (uid, col) == focus else f'["{text}"]'
        lines.append(f"  {key}{shape}")
    return "\n".join(lines + body)
