"""The server starts without the heavy libraries: each is imported by the first call that needs it.

Start time is counted in modules, never in seconds (bench/bench_start.py measures the seconds
against a minimal MCP server). A top-level `import duckdb` (or dbt, sqlglot, vl-convert,
psycopg, pyarrow.compute...) in a module the server imports at start fails this test, naming
the library; the fix is to import it inside the function that uses it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Imported by a call, never by building the server and listing its tools.
HEAVY = (
    "psycopg",
    "dbt",
    "sqlglot",
    "vl_convert",
    "duckdb",
    "adbc_driver_postgresql",
    "adbc_driver_manager",
    "pglast",
    "pandas",
    "yaml",
    "jinja2",
    "pyarrow.compute",
    "pyarrow.dataset",
    "pyarrow.acero",
    "pyarrow.parquet",
)

START = """
import json, sys
from pathlib import Path
import anyio
from mcp.client.client import Client
from data_platform.server import build_server, toolcache

toolcache.CACHE_FILE = Path("tool-list.json")  # in the test's folder: kept by the first start

async def main():
    async with Client(build_server()) as client:
        tools = await client.list_tools()
        assert len(tools.tools) > 30, len(tools.tools)

anyio.run(main)
print(json.dumps(sorted(sys.modules)))
"""


def started_modules(cwd: Path) -> set[str]:
    """sys.modules of a fresh process that built the server (every family) and listed its tools."""
    out = subprocess.run(
        [sys.executable, "-c", START], cwd=cwd, capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_building_and_listing_the_server_imports_no_heavy_library(tmp_path: Path) -> None:
    # Every tool built (no kept tool list yet), then listed from the list the first start kept.
    for start in ("first", "kept"):
        modules = started_modules(tmp_path)
        assert "data_platform.server.dbt_tools" in modules  # every family was built
        loaded = [name for name in HEAVY if name in modules]
        assert not loaded, f"{start} start imported (import them where a call needs them): {loaded}"
        # The frames and diff cores come with their first call too.
        cores = ["data_platform.frames.joins", "data_platform.frames.ops", "data_platform.diffing.service"]
        assert not [m for m in cores if m in modules]
        assert (tmp_path / "tool-list.json").exists()


LATER = """
import sys, time
import anyio
from mcp.client.client import Client
from data_platform.server import build_server

async def main():
    async with Client(build_server(warm=True)) as client:  # as `serve` builds it
        await client.list_tools()
        print("vl_convert" in sys.modules)
        deadline = time.monotonic() + float(sys.argv[1])
        while "vl_convert" not in sys.modules and time.monotonic() < deadline:
            await anyio.sleep(0.1)
        print("vl_convert" in sys.modules)

anyio.run(main)
"""


def renderer_started(cwd: Path, wait_s: float, env: dict[str, str]) -> list[str]:
    """Whether the renderer was imported when tools/list was answered, and within `wait_s` after."""
    out = subprocess.run(
        [sys.executable, "-c", LATER, str(wait_s)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, **env},
    )
    return out.stdout.split()


def test_the_picture_renderer_starts_in_the_background_once_the_server_is_up(tmp_path: Path) -> None:
    """Not during the start (it would hold it), but soon after, so a first chart skips V8's start;
    never when no picture tool is served."""
    assert renderer_started(tmp_path, 60, {}) == ["False", "True"]
    assert renderer_started(tmp_path, 3, {"DATA_PLATFORM_TOOLS": "list_data,describe"}) == ["False", "False"]
