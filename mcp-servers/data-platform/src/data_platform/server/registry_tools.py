"""Registry tools: list_data and drop_data."""

from __future__ import annotations

from datetime import datetime

from mcp.server.mcpserver import Context
from pydantic import BaseModel

from data_platform.render import format_cell, human_bytes, markdown_table
from data_platform.server.boundary import ToolResult, run_sync, state_of
from data_platform.server.declare import ToolList

RefName = str  # a data_ref, as every tool takes it


class RefSummary(BaseModel):
    name: str
    rows: int
    columns: int
    size_bytes: int
    source: str
    created: datetime


class Damaged(BaseModel):
    name: str
    problem: str


LIST_TABLE_REFS = 20  # refs listed in full; the rest by name, newest first
LIST_NAMES_CHARS = 4_800


def _newest_first(refs: list[RefSummary]) -> list[RefSummary]:
    return sorted(refs, key=lambda r: (r.created, r.name), reverse=True)


class ListDataResult(ToolResult):
    refs: list[RefSummary]
    damaged: list[Damaged] = []
    folder: str

    def render(self) -> str:
        if not self.refs and not self.damaged:
            return (
                f"No data_refs yet (folder {self.folder}). "
                "Load one with read_csv, read_parquet, read_json or pg_query."
            )
        shown = self.refs
        if len(shown) > LIST_TABLE_REFS:  # every ref named within the answer's bound: the newest in full
            shown = _newest_first(self.refs)[:LIST_TABLE_REFS]
        rows = [
            [
                f"`{r.name}`",
                f"{r.rows:,}",
                str(r.columns),
                human_bytes(r.size_bytes),
                format_cell(r.source, 60),
                r.created.strftime("%Y-%m-%d %H:%M"),
            ]
            for r in shown
        ]
        text = f"{len(self.refs)} data_ref(s) in {self.folder}\n" + markdown_table(
            ["data_ref", "rows", "cols", "size", "source", "created (UTC)"], rows
        )
        older = _newest_first(self.refs)[len(shown) :]
        if older:
            names, used = [], 0
            for r in older:
                item = f"`{r.name}` ({r.rows:,})"
                if used + len(item) > LIST_NAMES_CHARS:
                    break
                names.append(item)
                used += len(item) + 2
            rest = len(older) - len(names)
            text += (
                f"\nThe {LIST_TABLE_REFS} newest above; the {len(older)} older (name, rows), newest first: "
                + ", ".join(names)
                + (f", and {rest} more (drop_data removes refs no longer needed)." if rest else ".")
            )
        for d in self.damaged:
            text += f"\nDamaged: `{d.name}`: {d.problem} Drop it with drop_data."
        return text


class DropDataResult(ToolResult):
    dropped: str
    rows: int | None
    size_bytes: int | None

    def render(self) -> str:
        if self.rows is None:
            return f"Dropped damaged data_ref `{self.dropped}`."
        return f"Dropped data_ref `{self.dropped}` ({self.rows:,} rows, {human_bytes(self.size_bytes or 0)})."


TOOLS = ToolList("registry", toolsets=("analyst", "frames", "postgres", "dbt"))


@TOOLS.declare(read_only=True, idempotent=True)
async def list_data(ctx: Context) -> ListDataResult:
    """List stored data_refs (name, rows, columns, size, source). Refs persist across restarts."""
    registry = state_of(ctx).registry
    good, bad = await run_sync(registry.list)
    return ListDataResult(
        refs=[
            RefSummary(
                name=i.name,
                rows=i.rows,
                columns=i.columns,
                size_bytes=i.size_bytes,
                source=i.source,
                created=i.created,
            )
            for i in good
        ],
        damaged=[Damaged(name=n, problem=p) for n, p in bad],
        folder=str(registry.root),
    )


@TOOLS.declare(read_only=False, destructive=True)
async def drop_data(data_ref: RefName, ctx: Context) -> DropDataResult:
    """Delete a stored data_ref for good (its file is removed)."""
    registry = state_of(ctx).registry
    info = await run_sync(registry.drop, data_ref)
    if info is None:
        return DropDataResult(dropped=data_ref, rows=None, size_bytes=None)
    return DropDataResult(dropped=info.name, rows=info.rows, size_bytes=info.size_bytes)
