"""dbt races and bounds (issue 22): two calls at once start one worker, not two; a slow dbt_show
query holds up no other dbt tool, and it stops at the statement timeout (PostgreSQL, DuckDB); a
target dbt_show cannot keep read-only is refused."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from cancelling import _running
from data_platform.config import load_settings
from data_platform.dbtools.service import DbtService
from harness import call, call_error, inmemory, text_of
from shopproject import copy_shop
from shopwarehouse import make_shop

pytestmark = pytest.mark.anyio

LONG = "generate_series(1, 100000) AS a, generate_series(1, 100000) AS b"


def _workers() -> set[int]:
    """This process's children that are pre-started dbt workers (read from /proc, not from us)."""
    me = str(os.getpid())
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = stat.rsplit(")", 1)[1].split()[1]
        state = stat.rsplit(")", 1)[1].split()[0]
        if ppid == me and state != "Z" and "data_platform.dbtools.worker" in cmdline:
            found.add(int(entry.name))
    return found


async def test_two_calls_at_once_start_one_worker_and_close_stops_it(tmp_path: Path) -> None:
    root = copy_shop(tmp_path)
    service = DbtService(load_settings(project_dir=tmp_path, environ={"DBT_PROJECT_DIR": str(root)}))
    before = _workers()
    project = service.project()
    try:
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(service.runs._prestart, project)
        assert len(_workers() - before) == 1
    finally:
        await service.close()
    leaked = _workers() - before
    for pid in leaked:  # a worker this test started and the service lost: stop it by its id
        os.kill(pid, 9)
    assert leaked == set(), "a pre-started dbt worker outlived the service"


@pytest.mark.slow
async def test_a_slow_dbt_show_holds_up_no_other_dbt_tool(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    shop = make_shop(request, tmp_path, "postgres")
    assert shop.url is not None
    needle = "dp_race_probe_show"
    sql = f"select count(*) as n, '{needle}' as mark from {LONG}"
    env = {**shop.env, "DATA_PLATFORM_STATEMENT_TIMEOUT": "120"}
    async with inmemory(tmp_path, env=env) as client:
        await call(client, "dbt_show", sql="select 0 as warm")
        outcome: list[object] = []
        async with anyio.create_task_group() as tg:
            scope = anyio.CancelScope()

            async def slow() -> None:
                with scope:
                    outcome.append(await client.call_tool("dbt_show", {"sql": sql, "limit": -1}))

            tg.start_soon(slow)
            with anyio.fail_after(60):
                while not _running(shop.url, needle):
                    assert not outcome, f"dbt_show answered before it ran: {outcome}"
                    await anyio.sleep(0.05)
                # While the warehouse query runs, the in-process dbt answers other tools.
                listed = await call(client, "dbt_ls", select="stg_orders")
            assert "stg_orders" in text_of(listed)
            assert _running(shop.url, needle) and not outcome, "dbt_ls waited for dbt_show's query"
            scope.cancel()
    # The statement timeout applies to dbt_show's query as to pg_query's.
    async with inmemory(tmp_path, env={**shop.env, "DATA_PLATFORM_STATEMENT_TIMEOUT": "1"}) as client:
        err = await call_error(client, "dbt_show", sql=sql)
        assert "longer than 1 s" in err


async def test_dbt_show_on_duckdb_stops_at_the_statement_timeout(tmp_path: Path) -> None:
    from shopproject import duckdb_env

    root = copy_shop(tmp_path)
    path = tmp_path / "warehouse.duckdb"
    import duckdb

    duckdb.connect(str(path)).close()
    env = {**duckdb_env(root, path, "shop"), "DATA_PLATFORM_STATEMENT_TIMEOUT": "1"}
    async with inmemory(tmp_path, env=env) as client:
        slow = "select count(*) as n from range(100000000) a, range(100000000) b where a.range + b.range = -1"
        err = await call_error(client, "dbt_show", sql=slow)
        assert "longer than 1 s" in err


async def test_dbt_show_refuses_a_target_it_cannot_keep_read_only(tmp_path: Path) -> None:
    """A DuckDB target that is not a file (or reaches beyond it) is refused, saying why and where."""
    from shopproject import duckdb_env

    root = copy_shop(tmp_path)
    profiles = root / "profiles.yml"
    profiles.write_text(
        profiles.read_text()
        + '    duckdb_mem:\n      type: duckdb\n      path: ":memory:"\n'
        + "      schema: shop\n      threads: 1\n"
    )
    async with inmemory(tmp_path, env=duckdb_env(root, tmp_path / "w.duckdb", "shop")) as client:
        err = await call_error(client, "dbt_show", sql="select 1 as x", target="duckdb_mem")
        assert "cannot run SQL on target duckdb_mem" in err and "not a database file" in err
