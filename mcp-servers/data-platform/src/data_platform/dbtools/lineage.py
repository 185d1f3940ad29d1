"""Upstream and downstream of a node from manifest.json, as a list and a Mermaid diagram."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Literal

from data_platform.errors import NotFoundError, did_you_mean, list_for_message

Direction = Literal["up", "down", "both"]
# Which resource wins when a bare name matches several (a model and a seed both named x).
TYPE_ORDER = ("model", "seed", "snapshot", "source", "exposure", "metric", "semantic_model", "test")
SECTIONS = ("nodes", "sources", "exposures", "metrics", "semantic_models", "saved_queries", "unit_tests")
MERMAID_MAX_NODES = 80


@dataclass(frozen=True)
class LineageNode:
    unique_id: str
    name: str
    resource_type: str
    distance: int  # negative upstream, positive downstream
    path: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Lineage:
    focus: LineageNode
    upstream: list[LineageNode]
    downstream: list[LineageNode]
    edges: list[tuple[str, str]]
    mermaid: str
    mermaid_cut: bool


def _display_name(uid: str, item: dict[str, Any]) -> str:
    if item.get("resource_type") == "source":
        return f"{item.get('source_name')}.{item.get('name')}"
    return str(item.get("name") or uid.split(".")[-1])


class Graph:
    """The manifest's parent/child maps plus names, built once per manifest."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        for section in SECTIONS:
            for uid, item in (manifest.get(section) or {}).items():
                self.items[uid] = item
        self.parents: dict[str, list[str]] = {
            k: list(v) for k, v in (manifest.get("parent_map") or {}).items()
        }
        self.children: dict[str, list[str]] = {
            k: list(v) for k, v in (manifest.get("child_map") or {}).items()
        }
        self.by_name: dict[str, list[str]] = {}
        for uid, item in self.items.items():
            for key in {_display_name(uid, item), uid.split(".")[-1]}:
                self.by_name.setdefault(key.lower(), []).append(uid)

    def resolve(self, name: str) -> str:
        """A unique_id from a unique_id, a name, or `source_name.table`."""
        if name in self.items:
            return name
        matches = self.by_name.get(name.lower(), [])
        if not matches:
            names = sorted(
                {_display_name(u, i) for u, i in self.items.items() if i.get("resource_type") != "test"}
            )
            raise NotFoundError(
                f"No dbt node named `{name}`.{did_you_mean(name, names)}",
                hint=f"Known: {list_for_message(names, 15)}. Use dbt_ls to list nodes.",
            )

        def rank(uid: str) -> int:
            kind = self.items[uid].get("resource_type", "")
            return TYPE_ORDER.index(kind) if kind in TYPE_ORDER else len(TYPE_ORDER)

        return sorted(matches, key=rank)[0]

    def node(self, uid: str, distance: int) -> LineageNode:
        item = self.items.get(uid, {})
        return LineageNode(
            unique_id=uid,
            name=_display_name(uid, item) if item else uid.split(".")[-1],
            resource_type=str(item.get("resource_type") or uid.split(".")[0]),
            distance=distance,
            path=item.get("original_file_path"),
        )

    def walk(
        self, start: str, edges: dict[str, list[str]], depth: int | None, sign: int
    ) -> list[LineageNode]:
        seen = {start}
        out: list[LineageNode] = []
        queue: deque[tuple[str, int]] = deque([(start, 0)])
        while queue:
            uid, d = queue.popleft()
            if depth is not None and d >= depth:
                continue
            for nxt in sorted(edges.get(uid, [])):
                if nxt in seen:
                    continue
                seen.add(nxt)
                out.append(self.node(nxt, sign * (d + 1)))
                queue.append((nxt, d + 1))
        return out


def lineage(
    manifest: dict[str, Any],
    name: str,
    direction: Direction = "both",
    depth: int | None = None,
    include_tests: bool = True,
) -> Lineage:
    graph = Graph(manifest)
    focus_id = graph.resolve(name)
    up = graph.walk(focus_id, graph.parents, depth, -1) if direction in ("up", "both") else []
    down = graph.walk(focus_id, graph.children, depth, 1) if direction in ("down", "both") else []
    if not include_tests:
        up = [n for n in up if n.resource_type not in ("test", "unit_test")]
        down = [n for n in down if n.resource_type not in ("test", "unit_test")]
    focus = graph.node(focus_id, 0)
    members = {focus_id, *(n.unique_id for n in up), *(n.unique_id for n in down)}
    edges = sorted(
        (parent, child) for child in members for parent in graph.parents.get(child, []) if parent in members
    )
    mermaid, cut = to_mermaid(focus, up, down, edges)
    return Lineage(focus=focus, upstream=up, downstream=down, edges=edges, mermaid=mermaid, mermaid_cut=cut)


SHAPES = {
    "source": ("[(", ")]"),
    "seed": ("[/", "/]"),
    "snapshot": ("[[", "]]"),
    "test": ("{{", "}}"),
    "unit_test": ("{{", "}}"),
    "exposure": (">", "]"),
}


def _label(text: str) -> str:
    return '"' + re.sub(r'["\[\](){}<>|]', "_", text) + '"'


def to_mermaid(
    focus: LineageNode, up: list[LineageNode], down: list[LineageNode], edges: list[tuple[str, str]]
) -> tuple[str, bool]:
    """A left-to-right Mermaid flowchart; nearest nodes first when there are too many."""
    ordered = sorted([*up, *down], key=lambda n: (abs(n.distance), n.distance, n.name))
    shown = [focus, *ordered[: MERMAID_MAX_NODES - 1]]
    ids = {n.unique_id: f"n{i}" for i, n in enumerate(shown)}
    lines = ["graph LR"]
    for n in shown:
        left, right = SHAPES.get(n.resource_type, ("[", "]"))
        lines.append(f"  {ids[n.unique_id]}{left}{_label(n.name)}{right}")
    lines.extend(f"  {ids[a]} --> {ids[b]}" for a, b in edges if a in ids and b in ids)
    lines.append(f"  style {ids[focus.unique_id]} stroke-width:3px")
    return "\n".join(lines), len(shown) < 1 + len(ordered)
