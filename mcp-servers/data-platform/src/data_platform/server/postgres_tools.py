"""PostgreSQL/PostGIS tools: thin adapters over `data_platform.postgres`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import Field

from data_platform.postgres import catalog, explain, load, query, spatial
from data_platform.postgres import connection as pgconn
from data_platform.postgres.doctor import measure
from data_platform.postgres.doctor.measure import Timing
from data_platform.render import human_bytes
from data_platform.server.boundary import run_sync, state_of
from data_platform.server.declare import ToolList
from data_platform.server.postgres_results import (
    ConnectResult,
    ExecuteResult,
    ExplainResult,
    LoadResult,
    Rows,
    num_text,
    statuses,
)
from data_platform.server.results import FrameResult
from data_platform.server.state import connections_of

Sql = Annotated[str, Field(description="One SQL statement.")]
Params = Annotated[list[Any] | None, Field(description="Values for $1, $2, ... (bound, never pasted).")]
Table = Annotated[str, Field(description="Table or view (exact case).")]
Schema = Annotated[str | None, Field(description="Default: search_path.")]
SchemaFilter = Annotated[str | None, Field(description="Default: all.")]
Column = Annotated[str | None, Field(description="Default: all spatial ones.")]
System = Annotated[bool, Field(description="Include system/extension objects.")]
Conn = str | None  # a named connection (docs/connections.md); no description: the name says it


def measure_query(settings: Any, query: str, writes: str | None = None) -> Timing:
    """`measure`: refused before anything is written unless it is a query the connection may run."""
    if writes is not None:
        pgconn.require_writable(settings)
    return measure.timed(settings, query)


def _col_label(c: spatial.SpatialColumn) -> str:
    return f'"{c.schema}"."{c.table}".{c.column}'


TOOLS = ToolList("postgres", toolsets=("postgres",))


def _settings(ctx: Context, connection: str | None) -> Any:
    return connections_of(ctx).settings(connection)


@TOOLS.declare(read_only=True, idempotent=True, open_world=True)
async def pg_connect(ctx: Context, connection: Conn = None) -> ConnectResult:
    """Check the PostgreSQL connection(s): version, database, user, PostGIS, latency. Says what to fix."""
    return ConnectResult(connections=await run_sync(statuses, connections_of(ctx), connection))


@TOOLS.declare(read_only=True, open_world=True)
async def pg_query(
    sql: Sql,
    ctx: Context,
    params: Params = None,
    name: str | None = None,
    overwrite: bool = False,
    max_rows: Annotated[int | None, Field(ge=1)] = None,
    geometry: Literal["wkt", "geojson"] = "wkt",
    connection: Conn = None,
) -> FrameResult:
    """Read-only query (SELECT/WITH/EXPLAIN/SHOW) into a data_ref with a preview; geometries as
    WKT/GeoJSON, SRID noted."""
    state = state_of(ctx)
    out = await run_sync(
        query.run_query,
        _settings(ctx, connection),
        state.registry,
        sql,
        params,
        name=name,
        overwrite=overwrite,
        max_rows=max_rows,
        geometry=geometry,
    )
    return FrameResult.build(
        "pg_query",
        out.info,
        out.table,
        preview_rows=state.settings.preview_rows,
        note="; ".join(out.notes) or None,
        next_steps=[f"describe `{out.info.name}`", f"head `{out.info.name}`"],
    )


@TOOLS.declare(read_only=False, destructive=True, open_world=True)
async def pg_execute(
    sql: Annotated[str, Field(description="SQL statement(s).")],
    ctx: Context,
    params: Params = None,
    measure: Annotated[str | None, Field(description="Query timed before/after.")] = None,
    connection: Conn = None,
) -> ExecuteResult:
    """Run INSERT/UPDATE/DELETE/DDL in one transaction, committed only if all succeed."""
    conn = _settings(ctx, connection)
    before = await run_sync(measure_query, conn, measure, sql) if measure is not None else None
    out = await run_sync(load.execute, conn, sql, params)
    after = await run_sync(measure_query, conn, measure) if measure is not None else None
    return ExecuteResult(
        statements=[t for t, _ in out.statements],
        rows_affected=sum(n for _, n in out.statements),
        before=before,
        after=after,
    )


@TOOLS.declare(read_only=True, idempotent=True, open_world=True)
async def pg_schemas(ctx: Context, include_system: System = False, connection: Conn = None) -> Rows:
    """List schemas with their table and view counts."""
    rows = await run_sync(catalog.schemas, _settings(ctx, connection), include_system)
    return Rows.bounded(
        title=f"{len(rows)} schema(s)",
        columns=["schema", "owner", "tables", "views"],
        rows=[[r.name, r.owner, r.tables, r.views] for r in rows],
        next="pg_tables schema=...",
    )


@TOOLS.declare(read_only=True, idempotent=True, open_world=True)
async def pg_tables(
    ctx: Context, schema: SchemaFilter = None, include_system: System = False, connection: Conn = None
) -> Rows:
    """List tables and views: kind, estimated rows, size, comment."""
    rows = await run_sync(catalog.tables, _settings(ctx, connection), schema, include_system)
    return Rows.bounded(
        title=f"{len(rows)} table(s)/view(s)" + (f' in "{schema}"' if schema else ""),
        columns=["schema", "name", "kind", "est. rows", "size", "comment"],
        rows=[
            [
                r.schema,
                r.name,
                r.kind,
                num_text(r.est_rows),
                human_bytes(r.size_bytes) if r.size_bytes is not None else "",
                r.comment or "",
            ]
            for r in rows
        ],
        next="pg_columns table=...; st_tables for spatial ones",
    )


@TOOLS.declare(read_only=True, idempotent=True, open_world=True)
async def pg_columns(table: Table, ctx: Context, schema: Schema = None, connection: Conn = None) -> Rows:
    """List a table's columns: type, nullable, default, primary key, comment."""
    nsp, name, rows = await run_sync(catalog.columns, _settings(ctx, connection), table, schema)
    return Rows.bounded(
        title=f'"{nsp}"."{name}": {len(rows)} column(s)',
        columns=["column", "type", "null", "default", "pk", "comment"],
        rows=[
            [
                r.name,
                r.type,
                "yes" if r.nullable else "no",
                r.default or "",
                "pk" if r.primary_key else "",
                r.comment or "",
            ]
            for r in rows
        ],
    )


@TOOLS.declare(read_only=True, idempotent=True, open_world=True)
async def st_tables(ctx: Context, schema: SchemaFilter = None, connection: Conn = None) -> Rows:
    """List geometry/geography columns of tables and views: type, SRID, dimensions."""
    rows = await run_sync(spatial.spatial_tables, _settings(ctx, connection), schema)
    return Rows.bounded(
        title=f"{len(rows)} spatial column(s)",
        columns=["schema", "table", "kind", "column", "type", "srid", "dims"],
        rows=[
            [c.schema, c.table, c.relkind, c.column, f"{c.kind} {c.declared_type}", c.srid, c.dims]
            for c in rows
        ],
        next="st_geometry_type, st_srid, st_extent table=...",
    )


@TOOLS.declare(read_only=True, idempotent=True, open_world=True)
async def st_geometry_type(
    table: Table, ctx: Context, column: Column = None, schema: Schema = None, connection: Conn = None
) -> Rows:
    """Declared vs present geometry types (with Z/M), nulls, empties."""
    found = await run_sync(spatial.geometry_types, _settings(ctx, connection), table, column, schema)
    rows = []
    for f in found:
        present = ", ".join(f"{t.type} x{t.count:,}" for t in f.types) or "none (no geometries)"
        rows.append([_col_label(f.column), f.column.declared_type, present, f"{f.rows:,}", f.nulls, f.empty])
    return Rows.bounded(
        title="Geometry types",
        columns=["column", "declared", "present", "rows", "nulls", "empty"],
        rows=rows,
    )


@TOOLS.declare(read_only=True, idempotent=True, open_world=True)
async def st_srid(
    table: Table, ctx: Context, column: Column = None, schema: Schema = None, connection: Conn = None
) -> Rows:
    """Declared and present SRIDs, with the reference system's name and units."""
    found = await run_sync(spatial.srids, _settings(ctx, connection), table, column, schema)
    rows = []
    for f in found:
        present = ", ".join(f"{s} x{n:,}" for s, n in f.found) or "none (no geometries)"
        crs = f.name or ("no SRID (0): set one with ST_SetSRID" if not f.column.srid else "unknown SRID")
        rows.append([_col_label(f.column), f.column.srid, present, crs, f.units or ""])
    return Rows.bounded(
        title="SRIDs", columns=["column", "declared", "present", "reference system", "units"], rows=rows
    )


@TOOLS.declare(read_only=True, idempotent=True, open_world=True)
async def st_extent(
    table: Table, ctx: Context, column: Column = None, schema: Schema = None, connection: Conn = None
) -> Rows:
    """Bounding box (xmin, ymin, xmax, ymax) and SRID of a spatial column's data."""
    found = await run_sync(spatial.extents, _settings(ctx, connection), table, column, schema)
    return Rows.bounded(
        title="Extents (coordinates in the units of each SRID)",
        columns=["column", "xmin", "ymin", "xmax", "ymax", "srid", "geometries", "units"],
        rows=[
            [_col_label(e.column), e.xmin, e.ymin, e.xmax, e.ymax, e.srid, e.rows, e.units or ""]
            for e in found
        ],
    )


@TOOLS.declare(read_only=False, destructive=True, open_world=True)
async def pg_load(
    data_ref: str,
    table: str,
    ctx: Context,
    schema: str = "public",
    mode: Annotated[
        Literal["create", "append", "replace"], Field(description="replace drops the existing table.")
    ] = "create",
    connection: Conn = None,
) -> LoadResult:
    """Bulk-write a data_ref into a table (Arrow-native COPY), in one transaction."""
    state = state_of(ctx)
    out = await run_sync(
        load.load, _settings(ctx, connection), state.registry, data_ref, table, schema=schema, mode=mode
    )
    return LoadResult(table=f'"{out.schema}"."{out.table}"', mode=out.mode, rows=out.rows)


@TOOLS.declare(read_only=True, idempotent=True, open_world=True)
async def pg_explain(
    sql: Sql,
    ctx: Context,
    analyze: Annotated[bool, Field(description="Run it (queries only, rolled back).")] = False,
    format: Literal["text", "json"] = "text",
    connection: Conn = None,
) -> ExplainResult:
    """Show a statement's plan without changing anything."""
    plan = await run_sync(
        explain.explain, _settings(ctx, connection), sql, analyze=analyze, as_json=format == "json"
    )
    return ExplainResult(plan=plan)
