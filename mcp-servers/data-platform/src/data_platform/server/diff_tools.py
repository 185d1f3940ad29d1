"""The `diff` tool: a thin adapter over `data_platform.diffing`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context

from data_platform.diffing.sql import ColumnChange  # light: the diff core's dataclasses
from data_platform.server.boundary import ToolResult, run_sync, state_of
from data_platform.server.declare import ToolList
from data_platform.server.state import connections_of

if TYPE_CHECKING:
    from data_platform.diffing.service import Outcome


class DiffAnswer(ToolResult):
    summary: str
    left: str
    right: str
    computed: str
    key: list[str]
    left_rows: int
    right_rows: int
    only_left: int
    only_right: int
    changed: int | None = None
    same: int
    columns: list[ColumnChange] = []
    duplicate_keys: dict[str, int] = {}
    duplicate_rows: dict[str, int] = {}
    columns_only_left: list[str] = []
    columns_only_right: list[str] = []
    types_changed: list[list[str]] = []
    columns_compared: int = 0  # in both, same names; all of them when nothing is only on one side
    examples: dict[str, str] = {}
    example_rows: dict[str, int] = {}

    def ref_names(self) -> list[str]:
        return list(self.examples.values())

    def render(self) -> str:
        lines = [self.summary]
        lines.append(
            f"{self.left}: {self.left_rows:,} rows; {self.right}: {self.right_rows:,} rows; "
            + (f"key {', '.join(self.key)}" if self.key else "no key")
            + f"; computed {self.computed}."
        )
        lines += self._schema_lines()
        if self.examples:
            lines.append(
                "Examples: "
                + "; ".join(
                    f"`{ref}` ({self.example_rows.get(kind, 0):,} {kind.replace('_', ' ')})"
                    for kind, ref in self.examples.items()
                )
                + (
                    " (changed: key, then <column>_left/<column>_right)."
                    if "changed" in self.examples
                    else "."
                )
            )
        if self.examples:
            first = self.examples.get("changed") or next(iter(self.examples.values()))
            lines.append(f"Next: head `{first}`.")
        return "\n".join(lines)

    def _schema_lines(self) -> list[str]:
        from data_platform.diffing import text
        from data_platform.diffing.compare import SchemaDiff

        changed = [(n, a, b) for n, a, b in self.types_changed]
        common = [str(i) for i in range(self.columns_compared)]  # only the count is said
        schema = SchemaDiff(self.columns_only_left, self.columns_only_right, changed, common)
        return text.schema_said(schema, self.left, self.right)


def _answer(out: Outcome) -> DiffAnswer:
    from data_platform.diffing import text

    r = out.result
    left, right = out.left.label, out.right.label
    if left == right:  # the same table on two connections: name them by connection
        left, right = (out.left.connection or "default"), (out.right.connection or "default")
    common: dict[str, Any] = {  # the fields both kinds of answer share
        "summary": text.headline(r, left, right),
        "left": left,
        "right": right,
        "computed": out.where,
        "key": r.key,
        "left_rows": r.left_rows,
        "right_rows": r.right_rows,
        "duplicate_keys": {s: k for s, (k, _) in r.duplicates.items()},
        "duplicate_rows": {s: n for s, (_, n) in r.duplicates.items()},
        "columns_only_left": r.schema.only_left,
        "columns_only_right": r.schema.only_right,
        "types_changed": [list(t) for t in r.schema.type_changed],
        "columns_compared": len(r.schema.common),
        "examples": out.examples,
        "example_rows": out.example_rows,
    }
    if r.keyed is not None:
        s = r.keyed
        return DiffAnswer(
            **common,
            only_left=s.only_left,
            only_right=s.only_right,
            changed=s.changed,
            same=s.same,
            columns=s.columns,
        )
    m = r.multiset
    assert m is not None
    return DiffAnswer(**common, only_left=m.only_left, only_right=m.only_right, same=m.same)


TOOLS = ToolList("frames", toolsets=("analyst",))


@TOOLS.declare(read_only=True, open_world=True, toolsets=("frames", "postgres"))
async def diff(
    left: str,
    right: str,
    ctx: Context,
    key: list[str] | None = None,
    tolerance: float | None = None,
    connection: str | None = None,
    right_connection: str | None = None,
) -> DiffAnswer:
    """Compare two tables (data_ref, schema.table or SELECT): schema, rows only left/right, changed
    per column, duplicate keys; examples as refs."""
    from data_platform.diffing import service  # the diff core: imported by the first diff

    state = state_of(ctx)
    conns = connections_of(ctx)
    left_side = service.resolve_side(left, connection, connection is not None, state.registry)
    right_conn = right_connection or connection
    right_side = service.resolve_side(right, right_conn, right_conn is not None, state.registry)
    out = await run_sync(
        service.run_diff,
        left_side,
        right_side,
        key,
        tolerance=tolerance,
        settings_for=conns.settings,
        registry=state.registry,
        engine=state.sandbox,
    )
    return _answer(out)
