"""Refs as MCP resources: `dataref://{name}`, listed from the registry, read as a bounded preview.

Reading a ref answers two contents for the same URI: a CSV preview (`text/csv`: at most
PREVIEW_ROWS rows of the first MAX_PREVIEW_COLUMNS columns, cells cut to MAX_CELL, the same
limits as the tools' previews) and the ref's schema and counts (`application/json`). Both
together stay within the tools' output bound: rows are dropped from the preview until they
fit, and the JSON says how many rows it shows. Never the whole table: tools (head, to_csv)
are the way to more.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from mcp import types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.shared.exceptions import MCPError

from data_platform.errors import DataPlatformError
from data_platform.registry import RefInfo
from data_platform.render import MAX_PREVIEW_COLUMNS, PREVIEW_ROWS, jsonable, trim_cells, type_name
from data_platform.server import refwatch, sdk
from data_platform.server.boundary import run_sync, state_of
from data_platform.server.state import AppState

CSV = "text/csv"
TEMPLATE = f"{refwatch.URI_SCHEME}://{{name}}"
PREFIX = f"{refwatch.URI_SCHEME}://"
SCHEMA_COLUMNS = 200  # columns listed in the JSON schema; a wider ref says how many more
TYPE_CHARS = 120  # a nested type's text is cut there
PAGE_SIZE = 200  # resources/list answers this many refs a page, with a nextCursor when more follow
CURSOR_PREFIX = "after:"
TEMPLATE_DESCRIPTION = (
    "A data_ref in the project's registry: a CSV preview (at most "
    f"{PREVIEW_ROWS} rows x {MAX_PREVIEW_COLUMNS} columns) and its schema as JSON."
)


def describe(info: RefInfo) -> str:
    """The one line a client shows beside a ref's name."""
    return f"{info.rows:,} rows x {info.columns} columns, from {info.source}"


def listed(state: AppState) -> list[types.Resource]:
    """Every ref as a resource (damaged ones too, saying so: reading them explains)."""
    good, bad = state.registry.list()
    out = [
        types.Resource(uri=refwatch.ref_uri(i.name), name=i.name, description=describe(i), mime_type=CSV)
        for i in good
    ]
    out += [
        types.Resource(uri=refwatch.ref_uri(n), name=n, description=f"damaged: {why}", mime_type="text/csv")
        for n, why in bad
    ]
    return sorted(out, key=lambda r: r.name)


def paginate(resources: list[types.Resource], cursor: str | None) -> tuple[list[types.Resource], str | None]:
    """One page of the name-sorted list, and the cursor of the next (the last name given).

    A name, not an offset: refs made or dropped between two pages shift no one (each name is
    listed once, and at most a ref made behind the cursor waits for the next listing).
    """
    start = 0
    if cursor is not None:
        if not cursor.startswith(CURSOR_PREFIX):
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"Unknown cursor {cursor[:80]!r}: pass the nextCursor of the previous page, or none.",
            )
        after = cursor[len(CURSOR_PREFIX) :]
        start = next((i for i, r in enumerate(resources) if r.name > after), len(resources))
    page = resources[start : start + PAGE_SIZE]
    more = start + PAGE_SIZE < len(resources)
    return page, (CURSOR_PREFIX + page[-1].name if more else None)


def _csv_lines(table: pa.Table) -> tuple[str, list[str]]:
    """The header and one CSV text per row (quoted cells may hold newlines: not split on them)."""
    table = _writable(table)
    header = _write(table.slice(0, 0), include_header=True)
    return header, [_write(table.slice(i, 1), include_header=False) for i in range(table.num_rows)]


def _write(table: pa.Table, *, include_header: bool) -> str:
    out = io.BytesIO()
    pacsv.write_csv(table, out, pacsv.WriteOptions(include_header=include_header))
    return out.getvalue().decode("utf-8", "replace")


def _writable(table: pa.Table) -> pa.Table:
    """Nested and other types the CSV writer refuses, as JSON text (the preview is ≤ 50 rows)."""
    for i, field in enumerate(table.schema):
        try:
            pacsv.write_csv(table.select([i]).slice(0, 0), io.BytesIO())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            values = [json.dumps(jsonable(v), default=str) for v in table.column(i).to_pylist()]
            table = table.set_column(i, field.name, pa.array(values, pa.string()))
    return table


def _schema_doc(info: RefInfo, shown_rows: int, shown_columns: int, listed: int) -> dict[str, Any]:
    fields = list(info.schema)
    doc: dict[str, Any] = {
        "data_ref": info.name,
        "rows": info.rows,
        "columns": info.columns,
        "size_bytes": info.size_bytes,
        "source": info.source,
        "created": info.created.isoformat(),
        "schema": [{"name": f.name, "type": _short(type_name(f.type))} for f in fields[:listed]],
        "preview": {"rows": shown_rows, "columns": shown_columns, "mime_type": "text/csv"},
    }
    if len(fields) > listed:
        doc["schema_not_listed"] = len(fields) - listed
    if shown_rows < info.rows or shown_columns < info.columns:
        doc["preview"]["note"] = (
            f"{shown_rows:,} of {info.rows:,} rows and {shown_columns} of {info.columns} columns shown; "
            f"the tools head/tail/describe/select on `{info.name}` give more."
        )
    return doc


def _short(text: str, limit: int = TYPE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_preview(state: AppState, name: str) -> tuple[str, str]:
    """(CSV preview, schema JSON) of ref `name`, together at most the tools' output bound."""
    info = state.registry.info(name)
    table = state.registry.get(name)
    part = trim_cells(table.slice(0, min(PREVIEW_ROWS, table.num_rows)))
    header, lines = _csv_lines(part)
    budget = state.settings.max_output_chars

    def dump(kept: int, listed: int) -> str:
        return json.dumps(_schema_doc(info, kept, part.num_columns, listed), default=str)

    # The schema takes at most half the bound (a very wide ref lists its first columns)...
    listed = min(SCHEMA_COLUMNS, info.columns)
    while listed > 0 and len(dump(len(lines), listed)) > budget // 2:
        listed = listed * 2 // 3
    # ...and the preview the rest: rows are dropped from its end until both fit.
    kept = len(lines)
    # (measured with the "rows shown" note a cut preview carries, and room for its digits)
    room = budget - len(dump(0, listed)) - len(header) - 10
    while kept > 0 and sum(len(x) for x in lines[:kept]) > room:
        kept -= 1
    doc = dump(kept, listed)
    csv_text = header + "".join(lines[:kept])
    if len(doc) + len(csv_text) > budget:  # a header alone too wide: cut it, the JSON names the columns
        csv_text = csv_text[: max(0, budget - len(doc) - 1)] + "\n"
    return csv_text, doc


def _not_found(exc: DataPlatformError, uri: str) -> MCPError:
    return MCPError(code=types.INVALID_PARAMS, message=str(exc), data={"uri": uri})


def register(server: MCPServer) -> None:
    """The `dataref://{name}` template, `resources/list` and `resources/read` from the registry,
    and the `listChanged` capability (notifications are sent by the tool boundary: refwatch)."""
    sdk_read = sdk.sdk_read_resource(server)  # the SDK's list is static; refs live in the registry

    @server.resource(TEMPLATE, name="data_ref", description=TEMPLATE_DESCRIPTION, mime_type="text/csv")
    async def data_ref(name: str, ctx: Context) -> str:
        """The CSV preview alone (for in-process readers); clients get both contents below."""
        state = state_of(ctx)
        try:
            csv_text, _ = await run_sync(read_preview, state, name)
        except DataPlatformError as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        return csv_text

    async def list_resources(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        state: AppState = ctx.lifespan_context
        resources = await run_sync(listed, state)
        refwatch.watch_of(state).seen = refwatch.fingerprint(state)  # the client knows this list now
        page, cursor = paginate(resources, params.cursor if params else None)
        return types.ListResourcesResult(resources=page, next_cursor=cursor)

    async def read_resource(ctx: Any, params: types.ReadResourceRequestParams) -> Any:
        uri = str(params.uri)
        if not uri.startswith(PREFIX):
            return await sdk_read(ctx, params)
        state: AppState = ctx.lifespan_context
        try:
            csv_text, doc = await run_sync(read_preview, state, uri[len(PREFIX) :].rstrip("/"))
        except DataPlatformError as exc:
            raise _not_found(exc, uri) from exc
        return types.ReadResourceResult(
            contents=[
                types.TextResourceContents(uri=uri, mime_type="text/csv", text=csv_text),
                types.TextResourceContents(uri=uri, mime_type="application/json", text=doc),
            ]
        )

    sdk.add_request_handler(server, "resources/list", types.PaginatedRequestParams, list_resources)
    sdk.add_request_handler(server, "resources/read", types.ReadResourceRequestParams, read_resource)
    sdk.advertise_resources_list_changed(server)
