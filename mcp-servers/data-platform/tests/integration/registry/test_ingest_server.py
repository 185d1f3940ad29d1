"""Each registry owns its flusher (registry/ingest.py): a server's shutdown, through the MCP client,
waits for its own registry's pending disk work and not for another's (the core side is in
tests/unit/registry/test_ingest.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from mcp.client.client import Client

from data_platform.config import load_settings
from data_platform.registry import Registry
from data_platform.server import build_server
from harness import call, server_env


@pytest.mark.anyio
async def test_a_server_shutdown_waits_for_its_own_registry_only(project: Path) -> None:
    (project / "a.csv").write_text("id\n1\n2\n3\n")
    settings = load_settings(project, server_env(), system_file=project / ".no-system-postgres.env")
    other = Registry(project / "other")
    release = threading.Event()
    other.flusher.submit(lambda: release.wait(30))  # another server's registry, stuck
    mine = Registry(settings.registry_dir)
    finished: list[float] = []
    try:
        async with Client(build_server(settings, registry=mine), cache=None) as client:
            r = await call(client, "read_csv", path="a.csv")
            assert r.structured_content["rows"] == 3
            mine.flusher.submit(lambda: (time.sleep(0.3), finished.append(time.perf_counter())))
        assert finished, "the lifespan closed its registry: its pending disk work was done first"
    finally:
        release.set()
        other.close()
    assert mine.get("a").column("id").to_pylist() == [1, 2, 3]
