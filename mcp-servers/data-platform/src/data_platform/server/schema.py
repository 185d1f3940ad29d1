"""Compact tool schemas: the tool list is read by the model on every turn."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import Tool


def compact_schema(schema: Any) -> Any:
    """Drop pydantic's auto-generated `title` keys, which repeat the field names."""
    if isinstance(schema, list):
        return [compact_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs", "patternProperties") and isinstance(value, dict):
            out[key] = {name: compact_schema(sub) for name, sub in value.items()}
        else:
            out[key] = compact_schema(value)
    return out


class CompactMCPServer(MCPServer):
    """MCPServer whose `tools/list` carries schemas without redundant titles."""

    async def list_tools(self) -> list[Tool]:
        tools = await super().list_tools()
        return [
            t.model_copy(
                update={
                    "input_schema": compact_schema(t.input_schema),
                    "output_schema": compact_schema(t.output_schema) if t.output_schema else None,
                }
            )
            for t in tools
        ]
