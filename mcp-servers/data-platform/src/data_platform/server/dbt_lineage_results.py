"""dbt_lineage's answer: nodes up and down, and a column's lineage when one is asked for."""

from __future__ import annotations

from pydantic import BaseModel, PrivateAttr

from data_platform.dbtools.column_keys import KEY_KINDS
from data_platform.dbtools.lineage import MERMAID_MAX_NODES, Lineage, LineageNode
from data_platform.dbtools.service import ColumnLineage, Validation
from data_platform.server.boundary import ToolResult
from data_platform.server.dbt_results import MAX_NODES_SHOWN, MAX_NODES_STRUCTURED, _shorten


class ColumnEdgeModel(BaseModel):
    from_node: str
    from_column: str
    to_node: str
    to_column: str
    kind: str  # pass-through, renamed, transformed, aggregated; keys: join, filter, group-by
    expression: str

    @property
    def is_key(self) -> bool:
        return self.kind in KEY_KINDS

    def line(self) -> str:
        expr = "" if self.kind in ("pass-through", "renamed") else f"  `{_shorten(self.expression, 100)}`"
        return f"  {self.from_node}.{self.from_column} -> {self.to_node}.{self.to_column}: {self.kind}{expr}"


class ColumnLineageModel(BaseModel):
    node: str
    column: str
    dialect: str | None
    upstream: list[ColumnEdgeModel]
    downstream: list[ColumnEdgeModel]
    unresolved: list[str]
    mermaid: str

    @classmethod
    def of(cls, lin: ColumnLineage) -> ColumnLineageModel:
        def conv(edges: list) -> list[ColumnEdgeModel]:
            return [
                ColumnEdgeModel(
                    from_node=lin.labels.get(e.parent, e.parent),
                    from_column=e.parent_column,
                    to_node=lin.labels.get(e.child, e.child),
                    to_column=e.child_column,
                    kind=e.kind,
                    expression=e.expression,
                )
                for e in edges[:MAX_NODES_STRUCTURED]
            ]

        return cls(
            node=lin.node,
            column=lin.column,
            dialect=lin.dialect,
            upstream=conv(lin.upstream),
            downstream=conv(lin.downstream),
            unresolved=lin.unresolved[:50],
            mermaid=lin.mermaid,
        )

    def render(self) -> str:
        def listing(edges: list[ColumnEdgeModel]) -> str:
            if not edges:
                return "  (none)"
            shown = "\n".join(e.line() for e in edges[:MAX_NODES_SHOWN])
            return shown + (
                f"\n  ... {len(edges) - MAX_NODES_SHOWN} more" if len(edges) > MAX_NODES_SHOWN else ""
            )

        values = [e for e in self.upstream if not e.is_key]
        parts = [
            f"Column lineage of {self.node}.{self.column} "
            f"(compiled SQL read as {self.dialect or 'generic SQL'}):",
            f"Upstream ({len(values)}):\n{listing(values)}",
        ]
        if keys := _keys_listing([e for e in self.upstream if e.is_key]):
            parts.append(keys)
        parts.append(f"Downstream ({len(self.downstream)}):\n{listing(self.downstream)}")
        if self.unresolved:
            parts.append(
                "Not resolved (said, not guessed):\n" + "\n".join(f"  {u}" for u in self.unresolved[:10])
            )
        lines = self.mermaid.count("\n")
        if lines <= 2 * MERMAID_MAX_NODES:
            parts.append(f"```mermaid\n{self.mermaid}\n```")
        else:
            parts.append("(Diagram too large for the answer: it is in the structured content's `mermaid`.)")
        return "\n".join(parts)


def _keys_listing(keys: list[ColumnEdgeModel]) -> str:
    """Key edges grouped per model and clause: `customer_orders, join `o.order_id = p.order_id`:
    stg_orders.order_id, stg_payments.order_id`."""
    if not keys:
        return ""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for e in keys:
        groups.setdefault((e.to_node, e.kind, e.expression), []).append(f"{e.from_node}.{e.from_column}")
    lines = [
        f"  {node}, {kind} `{_shorten(expression, 100)}`: {', '.join(columns)}"
        for (node, kind, expression), columns in list(groups.items())[:MAX_NODES_SHOWN]
    ]
    if len(groups) > MAX_NODES_SHOWN:
        lines.append(f"  ... {len(groups) - MAX_NODES_SHOWN} more")
    return f"Keys that decide which rows feed it ({len(keys)}, per model on the path):\n" + "\n".join(lines)


class DbtLineageResult(ToolResult):
    focus: LineageNode
    upstream: list[LineageNode]
    downstream: list[LineageNode]
    mermaid: str
    refreshed_in_s: float
    column_lineage: ColumnLineageModel | None = None
    # Said in the text only: a new structured field would change the tool's output schema.
    _mermaid_cut: bool = PrivateAttr(False)

    @classmethod
    def of(cls, lin: Lineage, validation: Validation) -> DbtLineageResult:
        out = cls(
            focus=lin.focus,
            upstream=lin.upstream,
            downstream=lin.downstream,
            mermaid=lin.mermaid,
            refreshed_in_s=round(validation.seconds, 3),
        )
        out._mermaid_cut = lin.mermaid_cut
        return out

    def render(self) -> str:
        if self.column_lineage is not None:
            return self.column_lineage.render()

        def listing(nodes: list[LineageNode]) -> str:
            if not nodes:
                return "  (none)"
            return "\n".join(
                f"  {'  ' * (abs(n.distance) - 1)}{n.resource_type} {n.name} ({abs(n.distance)})"
                for n in nodes[:60]
            ) + (f"\n  ... {len(nodes) - 60} more" if len(nodes) > 60 else "")

        f = self.focus
        text = (
            f"Lineage of {f.resource_type} {f.name} (manifest re-parsed: {self.refreshed_in_s:.2f} s)\n"
            f"Upstream ({len(self.upstream)}):\n{listing(self.upstream)}\n"
            f"Downstream ({len(self.downstream)}):\n{listing(self.downstream)}\n"
            f"```mermaid\n{self.mermaid}\n```"
        )
        if self._mermaid_cut:
            total = 1 + len(self.upstream) + len(self.downstream)
            text += (
                f"\n(Diagram cut: it draws the {MERMAID_MAX_NODES} of {total} nodes nearest to {f.name}. "
                'For a whole diagram, pass a smaller depth (e.g. depth=2) or direction="up" or "down".)'
            )
        return text
