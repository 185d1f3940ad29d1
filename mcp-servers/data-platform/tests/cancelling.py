"""Helpers for tests that cancel long calls (tests/integration/server/test_progress_cancel.py and
the families' own cancel tests): wait for PostgreSQL to run a statement, cancel at first progress."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest

from harness import call

# Minutes of work for PostgreSQL (1e10 rows, the inner series materialized once): read-only,
# so pg_query accepts it, unlike pg_sleep.
LONG = "generate_series(1, 100000) AS a, generate_series(1, 100000) AS b"

# How long a cancelled statement may outlive its cancel. The statements run for minutes (or, for
# loads, several times this) when not cancelled, so the bound proves the cancel reached PostgreSQL;
# it is no speed promise (a loaded machine has taken 1.7 s), which would make the test timed.
GONE_WITHIN = 10.0


def _running(url: str, needle: str) -> list[int]:
    """Backends of the server running a statement containing `needle` (not this probe itself)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "select pid from pg_stat_activity where state = 'active' and query like %s "
            "and pid <> pg_backend_pid()",
            (f"%{needle}%",),
        ).fetchall()
    return [r[0] for r in rows]


async def _wait_for(predicate: Any, timeout: float) -> float:
    """Seconds until `predicate()` held (polled every 20 ms), or fail after `timeout`."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        await anyio.sleep(0.02)
    return time.monotonic() - start


async def _settled(client: Any, timeout: float = GONE_WITHIN) -> None:
    """Wait until the in-memory server runs no call's work, the abandoned (cancelled) ones included:
    a cancelled call returns at once, its thread only at its next check. Once that thread has
    returned nothing of the call can still be published (it publishes from that thread), so a
    test checks what is left then, instead of sleeping for as long as the work might have taken."""
    running = client.server.running
    if not await anyio.to_thread.run_sync(running.wait_idle, timeout):
        pytest.fail(f"a cancelled call's work still runs {timeout} s later")


def _files(folder: Path) -> set[str]:
    """Every data file under the project (not the logs, not the registry's .gitignore)."""
    return {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and "log" not in p.parts and p.name != ".gitignore"
    }


async def _refs(client: Any) -> list[str]:
    result = await call(client, "list_data")
    return [r["name"] for r in result.structured_content["refs"]]


async def _cancel_at_first_progress(client: Any, tool: str, args: dict[str, Any]) -> None:
    """Start `tool`, cancel the MCP call as soon as it reports progress (it must not finish first)."""
    started = anyio.Event()
    running = getattr(getattr(client, "server", None), "running", None)  # an in-memory server's
    counted: list[int] = []

    async def first(done: float, total: float | None, message: str | None) -> None:
        if running is not None and not counted:
            counted.append(len(running))
        started.set()

    async with anyio.create_task_group() as tg:
        scope = anyio.CancelScope()

        async def run() -> None:
            with scope:
                await client.call_tool(tool, args, progress_callback=first)
                pytest.fail(f"{tool} finished before it could be cancelled")

        tg.start_soon(run)
        with anyio.fail_after(20):
            await started.wait()
        scope.cancel()
    # `_settled` waits on the record that counted this call while it ran (else it waits on nothing).
    assert running is None or counted[0] >= 1, "the server's record of running calls missed this call"


async def _cancel_while_running(
    client: Any, url: str, tool: str, sql: str, needle: str, args: dict[str, Any] | None = None
) -> float:
    """Start `tool`, wait until PostgreSQL runs it, cancel the MCP call; seconds until it is gone."""
    outcome: list[Any] = []
    async with anyio.create_task_group() as tg:
        scope = anyio.CancelScope()

        async def run() -> None:
            with scope:
                outcome.append(await client.call_tool(tool, args or {"sql": sql}))

        tg.start_soon(run)
        await _wait_for(lambda: outcome or _running(url, needle), timeout=10)
        assert outcome == [], f"{tool} answered before it could be cancelled: {outcome[0].content}"
        scope.cancel()
    assert outcome == []  # the call was cancelled, not answered
    return await _wait_for(lambda: not _running(url, needle), timeout=GONE_WITHIN)
