"""The server class: compact tool schemas, and every call through the argument boundary.

The tool list is read by the model on every turn, so schemas carry no redundant titles,
"not given" (`X | None = None`) is advertised as plain `X`, optional, a flag that is
false unless given carries no `default: false`, and an open object no
`additionalProperties: true`. Every call's arguments go through `arguments.prepare` before the
SDK validates them, and what the validator still refuses is answered in the project's error shape.
"""

from __future__ import annotations

import threading
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, Tool

from data_platform.errors import DataPlatformError
from data_platform.render import bound
from data_platform.server import sdk
from data_platform.server.arguments import prepare, unknown_tool_message, validation_message
from data_platform.server.boundary import error_result

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

    async def list_tools(self) -> list[Tool]:
        tools = await super().list_tools()
        if self.listed is not None:
            self.listed.set()
        return [
            t.model_copy(
                update={
                    "input_schema": compact_schema(t.input_schema, INPUT_DROP),
                    "output_schema": compact_schema(t.output_schema, OUTPUT_DROP)
                    if t.output_schema
                    else None,
                }
            )
            for t in tools
        ]

    def _failed(self, message: str) -> CallToolResult:
        return error_result(message, self.max_output_chars)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        schema = sdk.tool_schema(self, name)
        if schema is None:
            return self._failed(unknown_tool_message(name, sdk.tool_names(self)))
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
