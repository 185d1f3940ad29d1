"""Compact tool schemas: the tool list is read by the model on every turn."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import Tool


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
        if key in ("properties", "$defs", "patternProperties") and isinstance(value, dict):
            out[key] = {name: compact_schema(sub, drop) for name, sub in value.items()}
        else:
            out[key] = compact_schema(value, drop)
    return out


OUTPUT_DROP = frozenset({"title", "description", "default"})


class CompactMCPServer(MCPServer):
    """MCPServer whose `tools/list` carries schemas without redundant titles."""

    async def list_tools(self) -> list[Tool]:
        tools = await super().list_tools()
        return [
            t.model_copy(
                update={
                    "input_schema": compact_schema(t.input_schema),
                    "output_schema": compact_schema(t.output_schema, OUTPUT_DROP)
                    if t.output_schema
                    else None,
                }
            )
            for t in tools
        ]
