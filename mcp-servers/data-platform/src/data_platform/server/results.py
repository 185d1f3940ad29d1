"""Result models shared by several tool families (a ref with its preview)."""

from __future__ import annotations

from typing import Any, Self

import pyarrow as pa
from pydantic import BaseModel

from data_platform.registry import RefInfo
from data_platform.render import first_columns, human_bytes, jsonable, preview, schema_line, type_name
from data_platform.server.boundary import ToolResult


class Column(BaseModel):
    name: str
    type: str


class FrameResult(ToolResult):
    """A data_ref that a tool created or read, with a bounded preview."""

    action: str
    data_ref: str
    rows: int
    columns: list[Column]
    size_bytes: int
    source: str
    preview: list[dict[str, Any]]
    preview_text: str
    note: str | None = None
    next: list[str] = []

    def ref_names(self) -> list[str]:
        return [self.data_ref]

    def render(self) -> str:
        head = (
            f"{self.action} → data_ref `{self.data_ref}` ({self.rows:,} rows x {len(self.columns)} columns, "
            f"{human_bytes(self.size_bytes)}, from {self.source})"
        )
        parts = [head, self.preview_text]
        shown = len(self.preview)
        parts.append(
            f"({shown:,} of {self.rows:,} rows; columns: "
            + schema_line((c.name, c.type) for c in self.columns)
            + ")"
        )
        if self.note:
            parts.append(self.note)
        if self.next:
            parts.append("Next: " + "; ".join(self.next) + ".")
        return "\n".join(parts)

    @classmethod
    def build(
        cls,
        action: str,
        info: RefInfo,
        table: pa.Table,
        *,
        preview_rows: int,
        from_end: bool = False,
        note: str | None = None,
        next_steps: list[str] | None = None,
        scan: object = None,
    ) -> Self:
        """Describe `info` with a preview of `table` (its head, or its tail)."""
        n = min(preview_rows, table.num_rows)
        part = table.slice(table.num_rows - n, n) if from_end else table.slice(0, n)
        text, _ = preview(part, n)
        return cls(
            action=action,
            data_ref=info.name,
            rows=info.rows,
            columns=[Column(name=f.name, type=type_name(f.type)) for f in info.schema],
            size_bytes=info.size_bytes,
            source=info.source,
            preview=[{k: capped(jsonable(v)) for k, v in row.items()} for row in _safe_rows(part)],
            preview_text=text,
            note=note,
            next=next_steps or [],
            **({"scan": {k: v for k, v in vars(scan).items() if v is not None}} if scan is not None else {}),
        )


STRUCTURED_CELL_CHARS = 200
STRUCTURED_CELL_ITEMS = 20


def capped(value: Any) -> Any:
    """A preview cell for structured content, cut like the text preview is (10 KB cells exist)."""
    if isinstance(value, str) and len(value) > STRUCTURED_CELL_CHARS:
        return value[: STRUCTURED_CELL_CHARS - 1] + "…"
    if isinstance(value, list):
        items = [capped(v) for v in value[:STRUCTURED_CELL_ITEMS]]
        return items + (
            [f"… ({len(value) - STRUCTURED_CELL_ITEMS} more)"] if len(value) > STRUCTURED_CELL_ITEMS else []
        )
    if isinstance(value, dict):
        keys = list(value)[:STRUCTURED_CELL_ITEMS]
        return {k: capped(value[k]) for k in keys}
    return value


def _safe_rows(table: pa.Table) -> list[dict[str, Any]]:
    narrow = first_columns(table)  # the structured preview as narrow as the text one
    try:
        return narrow.to_pylist()
    except (pa.ArrowInvalid, ValueError, OverflowError):
        return [
            {n: str(col[i]) for n, col in zip(narrow.column_names, narrow.columns, strict=True)}
            for i in range(narrow.num_rows)
        ]


class ReadResult(FrameResult):
    """A reader's ref, with what a dataset or table read fetched (files, bytes, row groups read
    and in all); None for one local file read whole."""

    scan: dict[str, int] | None = None
