"""DataFrame tools: thin adapters from MCP calls to `data_platform.frames`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import Field

from data_platform.frames.column_summaries import ColumnStats  # light: the describe result type
from data_platform.registry import RefInfo
from data_platform.render import format_cell, human_bytes, markdown_table
from data_platform.server.boundary import ToolResult, run_sync, state_of
from data_platform.server.declare import ToolList
from data_platform.server.results import FrameResult, ReadResult

Ref = str
Name = str | None
Cols = list[str] | None
Rows = Annotated[int | None, Field(ge=1)]
Chunk = Annotated[int | None, Field(ge=1)]  # rows per written batch: rarely needed, so no words
Guard = Annotated[int | None, Field(ge=1)]
Types = Annotated[dict[str, str] | None, Field(description="column: type, e.g. date, decimal(12,2)")]
Path = str
Source = str | list[str]
Where = str | None
Count = Annotated[int, Field(ge=1, le=50)]
How = Literal["inner", "left", "right", "outer", "semi", "anti"]
Validate = Literal["one_to_one", "one_to_many", "many_to_one", "many_to_many"]


# Operations that may run SQL in DuckDB: they get the server's own sandbox. The frames core
# (pyarrow.compute, acero, DuckDB) is imported by the first call, not at the server's start.
_SANDBOXED = ("filter", "sql", "groupby", "join")


def _output(name: str | None, overwrite: bool) -> Any:
    from data_platform.frames.ops import Output

    return Output(name, overwrite)


def _next(ref: str) -> list[str]:
    return [f"describe `{ref}`", f'filter `{ref}` "<condition>"', f"groupby `{ref}`", f"head `{ref}`"]


def _result(
    ctx: Context, action: str, info: RefInfo, table: Any, notes: list[str], nxt: list[str]
) -> FrameResult:
    rows = state_of(ctx).settings.preview_rows
    return FrameResult.build(
        action, info, table, preview_rows=rows, note=" ".join(notes) or None, next_steps=nxt
    )


async def _load(
    ctx: Context, kind: str, path: str | list[str], name: str | None, overwrite: bool, guard: int | None,
    **kw: Any,
) -> ReadResult:  # fmt: skip
    from data_platform.lakes import reading

    state = state_of(ctx)
    loaded = await run_sync(
        reading.load, kind, path, state.settings, state.storage, state.registry,
        name=name, overwrite=overwrite, max_rows=guard or state.settings.max_rows, **kw,
    )  # fmt: skip
    rows = state.settings.preview_rows
    notes = list(loaded.notes)
    if guard is not None and kw.get("chunk_size"):  # said, never dropped in silence
        notes.insert(0, f"max_rows={guard} did not apply: chunk_size streams every row (nrows=N stops at N).")
    return ReadResult.build(
        kind, loaded.info, loaded.head, preview_rows=rows, note=" ".join(notes) or None,
        next_steps=_next(loaded.info.name), scan=loaded.scan,
    )  # fmt: skip


class WriteResult(ToolResult):
    data_ref: str
    path: str
    format: str
    rows: int
    columns: int
    size_bytes: int

    def render(self) -> str:
        return (
            f"Wrote `{self.data_ref}` ({self.rows:,} rows x {self.columns} columns) to {self.path} "
            f"({self.format}, {human_bytes(self.size_bytes)})."
        )


class DescribeResult(ToolResult):
    data_ref: str
    rows: int
    columns: list[ColumnStats]
    not_shown: list[str] = []

    def render(self) -> str:
        num_keys = ["mean", "std", "min", "25%", "50%", "75%", "max"]
        other_keys = ["distinct", "top", "freq", "min", "max"]
        num = [c for c in self.columns if "mean" in c.stats]
        other = [c for c in self.columns if "mean" not in c.stats]
        parts = [f"describe `{self.data_ref}`: {self.rows:,} rows x {len(self.columns)} columns"]
        for group, keys in ((num, num_keys), (other, other_keys)):
            if not group:
                continue
            extra = ["nan"] if any("nan" in c.stats for c in group) else []
            header = ["column", "type", "count", "nulls", *extra, *keys]
            body = [
                [format_cell(c.name, 30), format_cell(c.type, 24), f"{c.count:,}", f"{c.nulls:,}"]
                + [format_cell(c.stats.get(k, ""), 24) for k in extra + keys]
                for c in group[:40]
            ]
            parts.append(markdown_table(header, body))
            if len(group) > 40:
                parts.append(f"({len(group) - 40} more columns in the structured content)")
        if self.not_shown:
            names = ", ".join(self.not_shown[:20]) + (", ..." if len(self.not_shown) > 20 else "")
            parts.append(f"{len(self.not_shown)} more columns not described ({names}): pass columns=[...].")
        return "\n".join(parts)


TOOLS = ToolList("frames", toolsets=("analyst",))


@TOOLS.declare(read_only=True, open_world=True)
async def read_csv(
    path: Path,
    ctx: Context,
    name: Name = None,
    overwrite: bool = False,
    sep: str | None = None,
    header: Literal["auto", "yes", "no"] = "auto",
    encoding: str | None = None,
    na_values: list[str] | None = None,
    columns: Cols = None,
    dtype: Types = None,
    date_format: Annotated[str | None, Field(description="e.g. %d/%m/%Y")] = None,
    skiprows: Annotated[int, Field(ge=0)] = 0,
    nrows: Rows = None,
    chunk_size: Chunk = None,
    max_rows: Guard = None,
    parse_dates: list[str] | None = None,
    where: Where = None,
) -> ReadResult:
    """Load a CSV (.gz/.zip too) into a new ref; sep, header, encoding, dates sniffed."""
    return await _load(
        ctx, "read_csv", path, name, overwrite, max_rows,
        sep=sep, header={"auto": None, "yes": True, "no": False}[header], encoding=encoding,
        na_values=na_values, columns=columns, dtype=dtype,
        date_format=date_format, skiprows=skiprows, nrows=nrows, chunk_size=chunk_size,
        parse_dates=parse_dates, where=where,
    )  # fmt: skip


@TOOLS.declare(read_only=True, open_world=True)
async def read_parquet(
    path: Source, ctx: Context, name: Name = None, overwrite: bool = False, columns: Cols = None,
    nrows: Rows = None, chunk_size: Chunk = None, max_rows: Guard = None, where: Where = None,
    source_column: str | None = None, as_of: str | int | None = None,
) -> ReadResult:  # fmt: skip
    """Load Parquet (file, folder, glob, s3://), a Delta folder or an Iceberg catalog.ns.table
    into a new ref; as_of: a table's version, snapshot id or time."""
    return await _load(
        ctx, "read_parquet", path, name, overwrite, max_rows,
        columns=columns, nrows=nrows, chunk_size=chunk_size, where=where, source_column=source_column,
        as_of=as_of,
    )  # fmt: skip


@TOOLS.declare(read_only=True, open_world=True)
async def read_json(
    path: Path, ctx: Context, name: Name = None, overwrite: bool = False, columns: Cols = None,
    dtype: Types = None, nrows: Rows = None, chunk_size: Chunk = None, max_rows: Guard = None,
    parse_dates: list[str] | None = None, where: Where = None,
) -> ReadResult:  # fmt: skip
    """Load a JSON array or JSON lines (.gz/.zip too) into a new ref; nested values kept."""
    return await _load(
        ctx, "read_json", path, name, overwrite, max_rows,
        columns=columns, dtype=dtype, nrows=nrows, chunk_size=chunk_size,
        parse_dates=parse_dates, where=where,
    )  # fmt: skip


async def _write(ctx: Context, fmt: str, data_ref: str, path: str, **kw: Any) -> WriteResult:
    from data_platform.lakes import writing

    state = state_of(ctx)
    w = await run_sync(
        writing.write, fmt, state.registry, data_ref, path, state.settings, state.storage, **kw
    )
    return WriteResult(
        data_ref=data_ref, path=str(w.path), format=w.format, rows=w.rows, columns=w.columns,
        size_bytes=w.size_bytes,
    )  # fmt: skip


@TOOLS.declare(read_only=False, destructive=True, idempotent=True, open_world=True)
async def to_csv(
    data_ref: Ref, path: Path, ctx: Context, overwrite: bool = False, mkdirs: bool = False, sep: str = ","
) -> WriteResult:
    """Write a ref to a CSV file (.gz compresses); mkdirs creates missing folders."""
    return await _write(ctx, "csv", data_ref, path, overwrite=overwrite, mkdirs=mkdirs, sep=sep)


@TOOLS.declare(read_only=False, destructive=True, idempotent=True, open_world=True)
async def to_parquet(
    data_ref: Ref, path: Path, ctx: Context, overwrite: bool = False, mkdirs: bool = False,
    partition_by: Cols = None,
) -> WriteResult:  # fmt: skip
    """Write a ref to a Parquet file (zstd); mkdirs creates missing folders."""
    return await _write(
        ctx, "parquet", data_ref, path, overwrite=overwrite, mkdirs=mkdirs, partition_by=partition_by
    )


@TOOLS.declare(read_only=True, idempotent=True, toolsets=("frames",))
async def describe(data_ref: Ref, ctx: Context, columns: Cols = None) -> DescribeResult:
    """pandas-style describe: count, nulls, mean, std, quartiles, min/max; distinct and top for text."""
    from data_platform.frames import describe as describe_mod

    info, stats, left = await run_sync(describe_mod.describe, state_of(ctx).registry, data_ref, columns)
    return DescribeResult(
        data_ref=info.name,
        rows=info.rows,
        columns=stats,
        not_shown=left,
    )


@TOOLS.declare(read_only=True, idempotent=True, toolsets=("frames",))
async def head(data_ref: Ref, ctx: Context, n: Count = 10) -> FrameResult:
    """Show the first n rows of a ref."""
    from data_platform.frames import ops

    info, table = await run_sync(ops.head, state_of(ctx).registry, data_ref, n)
    return FrameResult.build("head", info, table, preview_rows=n)


@TOOLS.declare(read_only=True, idempotent=True, toolsets=("frames",))
async def tail(data_ref: Ref, ctx: Context, n: Count = 10) -> FrameResult:
    """Show the last n rows of a ref."""
    from data_platform.frames import ops

    info, table = await run_sync(ops.tail, state_of(ctx).registry, data_ref, n)
    return FrameResult.build("tail", info, table, preview_rows=n)


async def _op(ctx: Context, action: str, fn: str, *args: Any, **kw: Any) -> FrameResult:
    """Run `ops.<fn>` (or grouping's/joins'), the frames core imported by this first call."""
    from data_platform.frames import grouping, joins, ops

    state = state_of(ctx)
    if action in _SANDBOXED:
        kw["sandbox"] = state.sandbox  # this server's DuckDB, not a throwaway one
    module = {"groupby": grouping, "join": joins}.get(action, ops)
    res = await run_sync(getattr(module, fn), state.registry, *args, **kw)
    return _result(ctx, action, res.info, res.head, res.notes, _next(res.info.name))


@TOOLS.declare(read_only=True, toolsets=("frames",))
async def filter(
    data_ref: Ref, where: str, ctx: Context, name: Name = None, overwrite: bool = False
) -> FrameResult:
    """Rows matching a SQL or pandas.query condition: amount > 100 AND country IN ('FR','DE'),
    d >= DATE '2025-01-01', x.notna() & name.str.contains('A')."""
    return await _op(ctx, "filter", "filter_rows", data_ref, where, _output(name, overwrite))


@TOOLS.declare(read_only=True, toolsets=("frames",))
async def select(
    data_ref: Ref, columns: list[str], ctx: Context, rename: dict[str, str] | None = None,
    name: Name = None, overwrite: bool = False,
) -> FrameResult:  # fmt: skip
    """Keep columns in the given order; rename maps old to new names."""
    return await _op(ctx, "select", "select", data_ref, columns, rename, _output(name, overwrite))


@TOOLS.declare(read_only=True, toolsets=("frames",))
async def groupby(
    data_ref: Ref,
    by: list[str],
    aggs: dict[str, str | list[str]],
    ctx: Context,
    name: Name = None,
    overwrite: bool = False,
) -> FrameResult:
    """Group and aggregate; aggs {"total": "sum(amount)", "n": "count(*)"} or pandas' agg
    forms: {col: func}, {col: [funcs]}, {out: [col, func]}."""
    return await _op(ctx, "groupby", "groupby", data_ref, by, aggs, _output(name, overwrite))


@TOOLS.declare(read_only=True, toolsets=("frames",))
async def join(
    left: Ref, right: Ref, ctx: Context, on: Cols = None, left_on: Cols = None,
    right_on: Cols = None, how: How = "inner",
    suffixes: tuple[str, str] = ("_x", "_y"), name: Name = None, overwrite: bool = False,
    validate: Validate | None = None,
) -> FrameResult:  # fmt: skip
    """Join two refs on key columns (on, or left_on + right_on)."""
    return await _op(
        ctx, "join", "join", left, right, on=on, left_on=left_on, right_on=right_on,
        how=how, suffixes=suffixes, out=_output(name, overwrite), validate=validate,
    )  # fmt: skip


@TOOLS.declare(read_only=True, toolsets=("frames",))
async def sql(query: str, ctx: Context, name: Name = None, overwrite: bool = False) -> FrameResult:
    """One DuckDB SELECT over refs by name (sandboxed: no files, network or settings), into a new ref."""
    return await _op(ctx, "sql", "sql", query, _output(name, overwrite))


@TOOLS.declare(read_only=True, toolsets=("frames",))
async def sort(
    data_ref: Ref, by: list[str], ctx: Context, name: Name = None, overwrite: bool = False
) -> FrameResult:
    """Sort by columns, nulls last; prefix a column with - for descending (["-amount", "id"])."""
    return await _op(ctx, "sort", "sort", data_ref, by, _output(name, overwrite))


@TOOLS.declare(read_only=True, toolsets=("frames",))
async def sample(
    data_ref: Ref, ctx: Context, n: Annotated[int | None, Field(ge=0)] = None,
    frac: Annotated[float | None, Field(ge=0, le=1)] = None, seed: int | None = None, name: Name = None,
    overwrite: bool = False,
) -> FrameResult:  # fmt: skip
    """Random rows (n or frac), kept in order; the same seed gives the same rows."""
    return await _op(
        ctx,
        "sample",
        "sample",
        data_ref,
        n,
        frac,
        seed,
        _output(name, overwrite),
    )
