"""dbt tools: a thin adapter over `data_platform.dbtools` (validation, runs, ls, compile, docs, lineage)."""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import Field

from data_platform.dbtools import compare as compare_mod
from data_platform.dbtools import failures
from data_platform.dbtools import show as show_mod
from data_platform.dbtools.runner import Progress
from data_platform.dbtools.service import DbtService
from data_platform.server.boundary import run_sync, state_of
from data_platform.server.dbt_compare_results import DbtCompareResult
from data_platform.server.dbt_lineage_results import DbtLineageResult, bounded
from data_platform.server.dbt_results import (
    DbtCompileResult,
    DbtDocsResult,
    DbtLsResult,
    DbtParseResult,
    DbtRunResult,
)
from data_platform.server.declare import ToolList
from data_platform.server.results import FrameResult

Select = Annotated[str | None, Field(description="dbt selector, e.g. 'stg_orders+'")]
Exclude = str | None
Target = str | None  # dbt's --target (a profiles.yml output): the name says it
Vars = dict[str, Any] | None
Strict = Annotated[bool, Field(description="refuse if deprecated")]


def _service(ctx: Context) -> DbtService:
    state = state_of(ctx)
    return state.service("dbt", lambda: DbtService(state.settings))


TOOLS = ToolList("dbt", toolsets=("dbt",))


async def _run(ctx: Context, command: Any, **kwargs: Any) -> DbtRunResult:
    async def progress(step: Progress) -> None:
        await ctx.report_progress(step.done, step.total, step.message)

    service = _service(ctx)
    out = await service.runs.run(command, on_progress=progress, **kwargs)
    failing = None
    if command in ("test", "build"):
        state = state_of(ctx)
        failing = await run_sync(
            failures.store,
            service,
            state.registry,
            out,
            max_rows=state.settings.max_rows,
            target=kwargs.get("target"),
            vars=kwargs.get("vars"),
        )
    return DbtRunResult.of(out, failing)


@TOOLS.declare(read_only=False, idempotent=True)
async def dbt_parse(ctx: Context, *, target: Target = None, vars: Vars = None) -> DbtParseResult:
    """Validate the dbt project: errors and deprecations (event, code, file, line, fix), every time."""
    return DbtParseResult.of(await run_sync(_service(ctx).validate, target, vars))


def _models_tool(command: Literal["run", "build", "test"], doc: str) -> Any:
    """`dbt_run`, `dbt_build` and `dbt_test`: one signature and body, only the dbt command differs
    (and `dbt test` takes no `full_refresh`: its parameter is left out of the signature)."""

    async def tool(
        ctx: Context,
        *,
        select: Select = None,
        exclude: Exclude = None,
        full_refresh: bool = False,
        vars: Vars = None,
        target: Target = None,
        strict: Strict = False,
        state: str | None = None,
    ) -> DbtRunResult:
        return await _run(
            ctx,
            command,
            select=select,
            exclude=exclude,
            full_refresh=full_refresh,
            vars=vars,
            target=target,
            strict=strict,
            state=state,
        )

    tool.__name__ = tool.__qualname__ = f"dbt_{command}"
    tool.__doc__ = doc
    if command == "test":
        sig = inspect.signature(tool, eval_str=True)
        kept = [p for p in sig.parameters.values() if p.name != "full_refresh"]
        tool.__signature__ = sig.replace(parameters=kept)  # type: ignore[attr-defined]  # typeshed
    return tool


dbt_run = TOOLS.declare(read_only=False, destructive=True, open_world=True)(
    _models_tool("run", "Validate, then run models; per-node status, time, rows, errors.")
)
dbt_build = TOOLS.declare(read_only=False, destructive=True, open_world=True)(
    _models_tool("build", "Validate, then seed, run, snapshot and test in DAG order; per-node results.")
)
dbt_test = TOOLS.declare(read_only=False, open_world=True)(
    _models_tool("test", "Validate, then run data tests; per-test status; failing rows kept as refs.")
)


@TOOLS.declare(read_only=False, idempotent=True, open_world=True)
async def dbt_compile(
    ctx: Context,
    *,
    select: Annotated[str, Field(description="node name or dbt selector.")],
    vars: Vars = None,
    target: Target = None,
    state: str | None = None,
) -> DbtCompileResult:
    """Compiled SQL of a node or selection (catches undefined macros that parse misses)."""
    compiled, validation = await run_sync(_service(ctx).compile, select, target, vars, state)
    where = _service(ctx).where(target, [c.relation for c in compiled if c.relation])
    return DbtCompileResult.of(compiled, validation, state_of(ctx).settings.max_output_chars, where)


@TOOLS.declare(read_only=False, idempotent=True)
async def dbt_ls(
    ctx: Context,
    select: Select = None,
    exclude: Exclude = None,
    resource_type: Literal["model", "seed", "snapshot", "source", "test", "exposure", "analysis"]
    | None = None,
    state: str | None = None,
) -> DbtLsResult:
    """List resources matching a selection: name, type, materialization, path."""
    service = _service(ctx)
    found = await run_sync(service.ls, select, exclude, resource_type, None, state)
    schemas = await run_sync(service.listed_schemas, [r.unique_id for r in found])
    return DbtLsResult.of(found, service.where(None, schemas))


@TOOLS.declare(read_only=False, idempotent=True, open_world=True)
async def dbt_docs_generate(ctx: Context, target: Target = None) -> DbtDocsResult:
    """Generate docs; say where index.html is and what is undocumented or documented but missing."""
    return DbtDocsResult.of(*await _service(ctx).docs_generate(target))


@TOOLS.declare(read_only=False, idempotent=True)
async def dbt_lineage(
    ctx: Context,
    node: Annotated[str, Field(description="name, source.table or unique_id")],
    direction: Literal["up", "down", "both"] = "both",
    depth: Annotated[int | None, Field(ge=0, description="levels (default, or 0: all)")] = None,
    tests: bool = True,
    column: str | None = None,
) -> DbtLineageResult:
    """Upstream/downstream of a node (or column) at any depth, as a list and a Mermaid diagram."""
    service = _service(ctx)
    out = DbtLineageResult.of(*await run_sync(service.lineage, node, direction, depth or None, tests))
    if column is not None:
        lin, _ = await run_sync(service.columns.lineage, node, column, direction)
        out.column_lineage = bounded(lin)
    return out


@TOOLS.declare(read_only=False, open_world=True)
async def dbt_show(
    ctx: Context,
    model: str | None = None,
    sql: str | None = None,
    limit: int | None = None,
    target: str | None = None,
    name: str | None = None,
    overwrite: bool = False,
    state: str | None = None,
) -> FrameResult:
    """Model or inline SQL ({{ ref() }} ok) via dbt into a data_ref; the query runs read-only
    (postgres/duckdb targets); limit 100 (-1: all)."""
    app = state_of(ctx)  # `state` is the dbt baseline argument
    out = await run_sync(
        show_mod.show,
        _service(ctx),
        app.registry,
        app.settings,
        model=model,
        sql=sql,
        limit=limit,
        name=name,
        overwrite=overwrite,
        target=target,
        state=state,
    )
    cut = f"limit {out.limit}" if out.limit is not None else "no limit"
    note = f"{out.what} compiled by dbt, run read-only on {out.where.label()} ({cut}; limit=-1: all)."
    return FrameResult.build(
        "dbt_show",
        out.info,
        out.head,
        preview_rows=app.settings.preview_rows,
        note="; ".join([note, *out.notes]),
        next_steps=[f"describe `{out.info.name}`", "dbt_compile for the SQL that ran"],
    )


@TOOLS.declare(read_only=False, open_world=True)
async def dbt_compare(
    ctx: Context,
    model: str,
    against: str,
    key: list[str] | None = None,
    target: str | None = None,
) -> DbtCompareResult:
    """Diff a model between targets or schemas, in the warehouse."""
    state = state_of(ctx)
    out = await run_sync(
        compare_mod.compare,
        _service(ctx),
        state.registry,
        model=model,
        against=against,
        key=key,
        target=target,
    )
    return DbtCompareResult.of(out)
