"""The real server: registry tools and errors (in-memory client); restarts and the CLI over stdio."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from data_platform.registry import Registry
from harness import call, call_error, connect, inmemory, server_env, text_of
from pgcluster import Cluster

pytestmark = pytest.mark.anyio


async def test_lists_tools_and_serves_without_db_or_dbt(project: Path) -> None:
    async with inmemory(project) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert {"list_data", "drop_data"} <= set(tools)
        assert tools["list_data"].annotations.read_only_hint is True
        assert tools["drop_data"].annotations.destructive_hint is True
        result = await call(client, "list_data")
        assert "No data_refs yet" in text_of(result)
        assert result.structured_content["refs"] == []


@pytest.mark.slow
async def test_refs_survive_a_server_restart(project: Path) -> None:
    registry_dir = project / ".data-platform"
    async with connect(project) as client:
        await call(client, "list_data")
    # A ref created by another process (e.g. an earlier session's load) ...
    Registry(registry_dir).put(pa.table({"x": [1, 2, 3]}), name="orders", source="orders.csv")
    async with connect(project) as client:
        listed = (await call(client, "list_data")).structured_content
        assert [r["name"] for r in listed["refs"]] == ["orders"]
        assert listed["refs"][0]["rows"] == 3
    # ... and after the server is restarted again, still there and intact.
    async with connect(project) as client:
        text = text_of(await call(client, "list_data"))
        assert "`orders`" in text and "orders.csv" in text
        dropped = await call(client, "drop_data", data_ref="orders")
        assert dropped.structured_content == {
            "dropped": "orders",
            "rows": 3,
            "size_bytes": dropped.structured_content["size_bytes"],
        }
    async with connect(project) as client:
        assert (await call(client, "list_data")).structured_content["refs"] == []


async def test_bad_input_to_drop_data_is_clear_and_server_keeps_serving(project: Path) -> None:
    Registry(project / ".data-platform").put(pa.table({"a": [1]}), name="sales", source="s")
    async with inmemory(project) as client:
        err = await call_error(client, "drop_data", data_ref="sale")
        assert 'No data_ref named `sale`. Did you mean "sales"?' in err
        err = await call_error(client, "drop_data", data_ref="../../etc")
        assert "Invalid data_ref name" in err and "letters, digits" in err
        err = await call_error(client, "drop_data")
        assert "data_ref" in err
        err = await call_error(client, "drop_data", data_ref=123)
        assert "data_ref" in err
        err = await call_error(client, "no_such_tool")
        assert "no_such_tool" in err
        assert (await call(client, "list_data")).structured_content["refs"][0]["name"] == "sales"


async def test_damaged_ref_is_reported_not_fatal(project: Path) -> None:
    reg = Registry(project / ".data-platform")
    reg.put(pa.table({"a": list(range(1000))}), name="ok", source="s")
    info = reg.put(pa.table({"a": list(range(1000))}), name="broken", source="s")
    info.path.write_bytes(info.path.read_bytes()[:100])
    async with inmemory(project) as client:
        result = await call(client, "list_data")
        assert [r["name"] for r in result.structured_content["refs"]] == ["ok"]
        assert "Damaged: `broken`" in text_of(result)
        await call(client, "drop_data", data_ref="broken")


def test_python_dash_m_and_console_script_both_run() -> None:
    out = subprocess.run([sys.executable, "-m", "data_platform", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "data-platform" in out.stdout
    exe = Path(sys.executable).parent / "data-platform"
    assert exe.exists(), "installing the package gives a data-platform command"


def test_doctor_reports_database_and_masks_password(pg: Cluster, project: Path) -> None:
    env = server_env({"POSTGRES_URL": pg.url})
    out = subprocess.run(
        [sys.executable, "-m", "data_platform", "doctor", "--json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert pg.password not in out.stdout + out.stderr
    report = json.loads(out.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["postgres"]["ok"], checks["postgres"]
    assert "PostGIS 3" in checks["postgres"]["detail"]
    assert ":***@" in checks["postgres"]["detail"]
    assert checks["dbt"]["ok"] is False and "DBT_PROJECT_DIR" in checks["dbt"]["detail"]


def test_doctor_on_a_down_database_says_so(project: Path) -> None:
    env = server_env(
        {"POSTGRES_URL": "postgresql://u:topsecret@127.0.0.1:1/nodb", "DATA_PLATFORM_CONNECT_TIMEOUT": "2"}
    )
    out = subprocess.run(
        [sys.executable, "-m", "data_platform", "doctor"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert "topsecret" not in out.stdout + out.stderr
    assert "unreachable" in out.stdout


def test_pg_fixture_is_real(pg: Cluster) -> None:
    import psycopg

    with psycopg.connect(pg.url) as conn:
        version = conn.execute("select postgis_full_version()").fetchone()[0]
    assert "POSTGIS" in version
    assert os.environ.get("DATA_PLATFORM_TEST_POSTGRES_URL") or pg.managed
