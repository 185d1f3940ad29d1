"""dbt_lineage's answer: nodes up and down, and a column's lineage when one is asked for."""

from __future__ import annotations

from dataclasses import replace

from pydantic import PrivateAttr

from data_platform.dbtools.column_lineage import ColumnEdge, ColumnLineage
from data_platform.dbtools.lineage import MERMAID_MAX_NODES, Lineage, LineageNode
from data_platform.dbtools.service import Validation
from data_platform.server.boundary import ToolResult
from data_platform.server.dbt_results import MAX_NODES_SHOWN, MAX_NODES_STRUCTURED, _shorten


def edge_line(e: ColumnEdge) -> str:
    expr = "" if e.kind in ("pass-through", "renamed") else f"  `{_shorten(e.expression, 100)}`"
    return f"  {e.from_node}.{e.from_column} -> {e.to_node}.{e.to_column}: {e.kind}{expr}"


def bounded(lin: ColumnLineage) -> ColumnLineage:
    """The lineage as the structured content carries it: at most MAX_NODES_STRUCTURED edges per side."""
    cap = MAX_NODES_STRUCTURED
    return replace(
        lin, upstream=lin.upstream[:cap], downstream=lin.downstream[:cap], unresolved=lin.unresolved[:50]
    )


def column_lineage_text(lin: ColumnLineage) -> str:
    def listing(edges: list[ColumnEdge]) -> str:
        if not edges:
            return "  (none)"
        shown = "\n".join(edge_line(e) for e in edges[:MAX_NODES_SHOWN])
        more = len(edges) - MAX_NODES_SHOWN
        return shown + (f"\n  ... {more} more" if more > 0 else "")

    values = [e for e in lin.upstream if not e.is_key]
    parts = [
        f"Column lineage of {lin.node}.{lin.column} (compiled SQL read as {lin.dialect or 'generic SQL'}):",
        f"Upstream ({len(values)}):\n{listing(values)}",
    ]
    if keys := _keys_listing([e for e in lin.upstream if e.is_key]):
        parts.append(keys)
    parts.append(f"Downstream ({len(lin.downstream)}):\n{listing(lin.downstream)}")
    if lin.unresolved:
        parts.append("Not resolved (said, not guessed):\n" + "\n".join(f"  {u}" for u in lin.unresolved[:10]))
    lines = lin.mermaid.count("\n")
    if lines <= 2 * MERMAID_MAX_NODES:
        parts.append(f"```mermaid\n{lin.mermaid}\n```")
    else:
        parts.append("(Diagram too large for the answer: it is in the structured content's `mermaid`.)")
    return "\n".join(parts)


def _keys_listing(keys: list[ColumnEdge]) -> str:
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
    column_lineage: ColumnLineage | None = None
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
            return column_lineage_text(self.column_lineage)

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
