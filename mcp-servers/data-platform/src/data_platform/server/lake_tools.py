"""Lake tools: what is in a folder, prefix or catalog; refs into Iceberg/Delta tables (read_parquet
reads them).
Thin adapters over `data_platform.lakes` (docs/lakes.md)."""

from __future__ import annotations

from mcp.server.mcpserver import Context

from data_platform.lakes.listed import Listing  # light: the listing's result type
from data_platform.render import human_bytes, markdown_table
from data_platform.server.boundary import ToolResult, run_sync, state_of
from data_platform.server.declare import ToolList


class ListResult(ToolResult, Listing):
    """The core's Listing, with the text the model reads."""

    def render(self) -> str:
        parts = [f"{self.path}: {self.kind}"]
        if self.kind in ("iceberg catalog", "iceberg namespace"):
            if self.kind == "iceberg catalog" or self.namespaces:
                parts[0] += f", namespaces: {', '.join(self.namespaces) or 'none'}"
            parts.append("tables: " + (", ".join(self.tables[:60]) or "none"))
        else:
            kinds = ", ".join(f"{n:,} {k}" for k, n in self.formats.items())
            parts[0] += f", {self.files_total:,} files, {human_bytes(self.bytes_total)}" + (
                f" ({kinds})" if kinds else ""
            )
            for key, values in self.partitions.items():
                more = self.partition_values[key] - len(values)
                parts.append(
                    f"partition {key}: {', '.join(values)}" + (f" (+{more} more)" if more > 0 else "")
                )
            if self.columns:
                parts.append("columns: " + ", ".join(f"{n} {t}" for n, t in list(self.columns.items())[:40]))
            if self.snapshots:
                what = "version" if self.kind == "delta table" else "snapshot"
                shots = [
                    [str(s["id"]), s["time"], s["operation"], "" if s["rows"] is None else f"{s['rows']:,}"]
                    for s in self.snapshots
                ]
                parts.append(markdown_table([what, "time (UTC)", "operation", "rows"], shots))
            if self.files:
                rows = [[f.path, human_bytes(f.size_bytes)] for f in self.files]
                parts.append(markdown_table(["file", "size"], rows))
                if self.files_total > len(self.files):
                    parts.append(f"({len(self.files)} of {self.files_total:,} files shown)")
        if self.next:
            parts.append("Next: " + "; ".join(self.next) + ".")
        return "\n".join(parts)


class TableWrite(ToolResult):
    data_ref: str
    table: str
    format: str
    done: str
    rows: int
    version: str

    def render(self) -> str:
        return (
            f"{self.done.capitalize()} {self.format} table {self.table}: {self.rows:,} rows from "
            f"`{self.data_ref}`; now at {self.version}."
        )


TOOLS = ToolList("frames", toolsets=("analyst",))


@TOOLS.declare(read_only=True, idempotent=True, open_world=True)
async def list_files(path: str, ctx: Context) -> ListResult:
    """Files, partitions, schema under a folder or s3:// prefix; or a catalog's tables."""
    state = state_of(ctx)
    from data_platform.lakes import listing  # pyarrow.dataset: imported by the first call

    found = await run_sync(listing.list_path, path, state.settings, state.storage)
    return ListResult(**dict(found))


@TOOLS.declare(read_only=False, destructive=True, open_world=True)
async def write_table(
    data_ref: str, table: str, ctx: Context, overwrite: bool = False, merge_schema: bool = False,
    partition_by: list[str] | None = None,
) -> TableWrite:  # fmt: skip
    """Append a ref to an Iceberg/Delta table (created if missing); overwrite replaces it."""
    state = state_of(ctx)
    from data_platform.lakes import tables

    ref = await run_sync(tables.find_table, table, state.settings, state.storage, for_write=True)
    done, rows, version = await run_sync(
        tables.write_table, ref, state.registry, data_ref, state.storage, state.settings,
        mode="overwrite" if overwrite else "append", schema_mode="merge" if merge_schema else None,
        partition_by=partition_by,
    )  # fmt: skip
    return TableWrite(
        data_ref=data_ref, table=ref.shown, format=ref.format, done=done, rows=rows, version=version
    )
