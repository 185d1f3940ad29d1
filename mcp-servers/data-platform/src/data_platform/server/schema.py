"""The server class: compact tool schemas, and every call through the argument boundary.

The tool list is read by the model on every turn, so schemas carry no redundant titles,
"not given" (`X | None = None`) is advertised as plain `X`, optional, a flag that is
false unless given carries no `default: false`, and an open object no
`additionalProperties: true`. Every call's arguments go through `arguments.prepare` before the
SDK validates them, and what the validator still refuses is answered in the project's error shape.
The served tools are declared with `serve_tools` and each is built at its first call: listed as kept
by an earlier start (server/toolcache.py), or else from their signatures (`boundary.listed_tool`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, Tool

from data_platform.errors import DataPlatformError
from data_platform.render import bound
from data_platform.server import sdk, toolcache
from data_platform.server.arguments import prepare, unknown_tool_message, validation_message
from data_platform.server.boundary import error_result, listed_tool, register_tool
from data_platform.server.declare import ToolDef
from data_platform.work import Running

NULL = {"type": "null"}


def _optional(schema: dict[str, Any]) -> dict[str, Any] | None:
    """`{anyOf: [X, null], default: null}` as X (with the field's own description), else None."""
    options = schema.get("anyOf")
    if schema.get("default", 0) is not None or not isinstance(options, list) or NULL not in options:
        return None
    rest = [o for o in options if o != NULL]
    merged: dict[str, Any] = dict(rest[0]) if len(rest) == 1 else {"anyOf": rest}
    merged.update({k: v for k, v in schema.items() if k not in ("anyOf", "default")})
    return merged


def _flag(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional boolean is false unless given: `default: false` says nothing a model doesn't assume."""
    if schema.get("type") == "boolean" and schema.get("default") is False:
        return {k: v for k, v in schema.items() if k != "default"}
    return schema


def compact_schema(schema: Any, drop: frozenset[str] = frozenset({"title"})) -> Any:
    """Drop pydantic's auto-generated keys (`title`, and for outputs `description`/`default`)."""
    if isinstance(schema, list):
        return [compact_schema(s, drop) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in drop and (key != "title" or isinstance(value, str)):
            continue
        if key == "additionalProperties" and value is True:  # JSON Schema's default: says nothing
            continue
        if key == "properties" and isinstance(value, dict) and drop is INPUT_DROP:
            out[key] = {
                name: compact_schema(_flag(_optional(sub) or sub), drop) for name, sub in value.items()
            }
        elif key in ("properties", "$defs", "patternProperties") and isinstance(value, dict):
            out[key] = {name: compact_schema(sub, drop) for name, sub in value.items()}
        else:
            out[key] = compact_schema(value, drop)
    return out


INPUT_DROP = frozenset({"title"})
OUTPUT_DROP = frozenset({"title", "description", "default"})


class CompactMCPServer(MCPServer):
    """MCPServer whose `tools/list` carries compact schemas and whose calls pass the argument boundary."""

    max_output_chars: int = 8000
    listed: threading.Event | None = None  # set once `tools/list` is answered (start-up work waits)
    running: Running | None = None  # the calls whose work still runs (every lifespan's state shares it)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._declared: list[str] = []  # the served tools' names, in order
        self._pending: dict[str, ToolDef] = {}  # served but not built yet: built at their first call
        self._listed: dict[str, Tool] | None = None  # the served tools as listed, once known
        self._keep: tuple[Path, str] | None = None  # where to keep the listing once it is made

    def serve_tools(self, tools: list[ToolDef], cache: Path | None) -> None:
        """Serve `tools`, each built at its first call: listed from `cache` when it holds them,
        else listed from their signatures now and kept there at the first `tools/list` (None: not
        kept). Building a tool (validators, result conversion) costs twice listing it."""
        self._declared = [d.name for d in tools]
        self._pending = {d.name: d for d in tools}
        key = toolcache.stamp(tools) if cache is not None else ""
        kept = toolcache.load(cache, key) if cache is not None else None
        if kept is not None and [t.get("name") for t in kept] == self._declared:
            self._listed = {t["name"]: Tool.model_validate(t) for t in kept}
            return
        outputs: dict[Any, Any] = {}  # output schemas by result type: many tools share one
        self._listed = {d.name: _compact(listed_tool(d, outputs)) for d in tools}
        self._keep = (cache, key) if cache is not None else None

    def _built(self, name: str) -> None:
        """Build a served tool not built yet, before anything reads it from the SDK."""
        decl = self._pending.pop(name, None)
        if decl is not None:
            register_tool(self, decl)

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:  # the SDK's, for HTTP headers
        self._built(name)
        return super()._tool_input_schema(name)

    async def list_tools(self) -> list[Tool]:
        built = await super().list_tools()  # only the tools built so far
        if self.listed is not None:
            self.listed.set()
        listed = self._listed or {}
        if self._keep is not None:
            toolcache.save(*self._keep, [_dumped(t) for t in listed.values()])
            self._keep = None
        return [*listed.values(), *(_compact(t) for t in built if t.name not in listed)]

    def _failed(self, message: str) -> CallToolResult:
        return error_result(message, self.max_output_chars)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        self._built(name)
        schema = sdk.tool_schema(self, name)
        if schema is None:
            return self._failed(unknown_tool_message(name, [*sdk.tool_names(self), *self._pending]))
        try:
            prepared = prepare(name, schema, arguments or {})
        except DataPlatformError as exc:
            return self._failed(str(exc))
        try:
            result = await super().call_tool(name, prepared.args, context)
        except ToolError as exc:
            errors = sdk.validation_errors(exc)
            if errors is None:
                raise
            return self._failed(validation_message(name, schema, errors))
        if prepared.notes and isinstance(result, CallToolResult) and not result.is_error:
            _add_notes(result, prepared.notes, self.max_output_chars)
        return result


def _add_notes(result: CallToolResult, notes: list[str], max_chars: int) -> None:
    """Say how the arguments were read, in the text (for the model) and in `_meta` (for programs)."""
    line = "Arguments: " + "; ".join(notes) + "."
    first = next((c for c in result.content if isinstance(c, TextContent)), None)
    if first is not None:
        first.text = bound(line + "\n" + first.text, max_chars)
    result.meta = {**(result.meta or {}), "data-platform/arguments": notes}


def _compact(tool: Tool) -> Tool:
    return tool.model_copy(
        update={
            "input_schema": compact_schema(tool.input_schema, INPUT_DROP),
            "output_schema": compact_schema(tool.output_schema, OUTPUT_DROP) if tool.output_schema else None,
        }
    )


def _dumped(tool: Tool) -> dict[str, Any]:
    return tool.model_dump(mode="json", by_alias=True, exclude_none=True)
