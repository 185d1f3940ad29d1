"""A column's lineage as dbt_lineage answers it: each edge names its nodes by their labels
(`stg_orders`, `raw.payments`), not by unique_id; the key edges (join, filter, group-by) are
among the upstream ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from data_platform.dbtools.column_keys import KEY_KINDS
from data_platform.dbtools.columns import Edge


@dataclass(frozen=True)
class ColumnEdge:
    from_node: str
    from_column: str
    to_node: str
    to_column: str
    kind: str  # pass-through, renamed, transformed, aggregated; keys: join, filter, group-by
    expression: str

    @property
    def is_key(self) -> bool:
        return self.kind in KEY_KINDS


@dataclass
class ColumnLineage:
    node: str
    unique_id: str
    column: str
    dialect: str | None
    upstream: list[ColumnEdge]
    downstream: list[ColumnEdge]
    unresolved: list[str]
    mermaid: str


def labelled(edges: list[Edge], label: Callable[[str], str]) -> list[ColumnEdge]:
    """The analyser's edges (between unique_ids) with their nodes named as a person reads them."""
    return [
        ColumnEdge(label(e.parent), e.parent_column, label(e.child), e.child_column, e.kind, e.expression)
        for e in edges
    ]
