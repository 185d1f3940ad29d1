"""A start lists the tools kept by the last start of the same code (else lists them from their
signatures), and builds each at its first call.

server/toolcache.py: the kept answer, and the one made from signatures, must be exactly what
building every tool lists, a tool listed from either must work as a built one (argument boundary,
errors, results), and any change to the code that declares a tool must be listed, never the kept
answer.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from mcp.client.client import Client
from mcp.types import TextContent

from data_platform.config import Settings, load_settings
from data_platform.server import app, sdk, toolcache
from data_platform.server.boundary import register_tool
from data_platform.server.schema import CompactMCPServer

pytestmark = pytest.mark.anyio


def _settings(tmp_path: Path) -> Settings:
    return load_settings(tmp_path, {}, system_file=tmp_path / "none.env")


async def _listed(server: CompactMCPServer) -> list[dict[str, Any]]:
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def test_a_start_from_the_kept_list_lists_the_same_tools_and_builds_them_when_called(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(toolcache, "CACHE_FILE", tmp_path / "cache" / "tool-list.json")
    first_start = app.build_server(_settings(tmp_path))
    assert isinstance(first_start, CompactMCPServer) and sdk.tool_names(first_start) == []
    first = await _listed(first_start)
    assert len(first) > 30 and toolcache.CACHE_FILE.exists()

    kept = app.build_server(_settings(tmp_path))
    assert isinstance(kept, CompactMCPServer)
    assert sdk.tool_names(kept) == []  # nothing built at start
    assert await _listed(kept) == first  # byte for byte the same answer

    async with Client(kept) as client:
        listed = await client.call_tool("list_data", {})
        assert not listed.is_error, _text(listed)
        # The argument boundary runs for a tool built at its first call, as for any other.
        wrong = await client.call_tool("describe", {"data_ref": "nope", "colums": ["a"]})
        assert wrong.is_error and "colums" in _text(wrong) and "columns" in _text(wrong)
        unknown = await client.call_tool("read_cvs", {})
        assert unknown.is_error and "read_csv" in _text(unknown)
        assert "to_parquet" in _text(unknown)  # every tool is named, built or not
    assert set(sdk.tool_names(kept)) == {"list_data", "describe"}
    assert await _listed(kept) == first  # built tools keep their place in the list


TOOL_MODULE = '''
from mcp.server.mcpserver import Context
from data_platform.server.declare import ToolList
from data_platform.server.results import FrameResult

TOOLS = ToolList("frames", toolsets=("analyst",))


@TOOLS.declare(read_only=True)
async def cache_probe(rows: int, ctx: Context) -> FrameResult:
    """{doc}"""
    raise NotImplementedError
'''


def _tool_module(path: Path, doc: str, mtime_ns: int) -> ModuleType:
    path.write_text(TOOL_MODULE.replace("{doc}", doc))
    os.utime(path, ns=(mtime_ns, mtime_ns))
    spec = importlib.util.spec_from_file_location("cache_probe", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_a_changed_tool_is_listed_as_it_is_now_not_as_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(toolcache, "CACHE_FILE", tmp_path / "tool-list.json")
    source = tmp_path / "probe_tools.py"
    for n, doc in enumerate(["Counts rows.", "Counts rows, now with a new promise."]):
        module = _tool_module(source, doc, 1_700_000_000_000_000_000 + n)
        server = CompactMCPServer(name="probe")
        server.serve_tools(list(module.TOOLS), toolcache.CACHE_FILE)
        (tool,) = await _listed(server)
        assert tool["description"] == doc and tool["inputSchema"]["required"] == ["rows"]
    assert len(toolcache._read(toolcache.CACHE_FILE)) == 2  # both answers kept, under their stamps


async def test_a_start_with_no_kept_list_lists_what_building_every_tool_lists(tmp_path: Path) -> None:
    """The first start lists every tool from its signature without building it (boundary.listed_tool):
    byte for byte what the SDK lists once every tool is built (register_tool), for every family."""
    tools = app.served_tools(_settings(tmp_path))
    listed = CompactMCPServer(name="probe")
    listed.serve_tools(tools, None)
    assert sdk.tool_names(listed) == []  # nothing built
    built = CompactMCPServer(name="probe")
    for decl in tools:
        register_tool(built, decl)
    assert len(sdk.tool_names(built)) == len(tools) > 30
    assert json.dumps(await _listed(listed)) == json.dumps(await _listed(built))


async def test_an_unreadable_or_unwritable_cache_means_listing_every_tool_from_its_signature(
    tmp_path: Path,
) -> None:
    garbage = tmp_path / "tool-list.json"
    garbage.write_text("{not json")
    tools = app.served_tools(_settings(tmp_path))
    server = CompactMCPServer(name="probe")
    server.serve_tools(tools, garbage)
    assert len(await _listed(server)) == len(tools)
    assert len(toolcache.load(garbage, toolcache.stamp(tools)) or []) == len(tools)  # kept in its place
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    other = CompactMCPServer(name="probe")
    other.serve_tools(tools, blocked / "tool-list.json")  # its folder is a file: cannot be written
    assert len(await _listed(other)) == len(tools)
