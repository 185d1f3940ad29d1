"""The sandboxed DuckDB belongs to one server's state: two servers in a process never share it."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from mcp.types import CallToolResult

from data_platform.config import load_settings
from data_platform.errors import ExpressionError
from data_platform.frames import engine, ops
from data_platform.registry import Registry
from data_platform.server.state import AppState
from harness import call, inmemory

LIMIT_SQL = "SELECT current_setting('memory_limit') AS m, current_setting('enable_external_access') AS ext"


@pytest.mark.anyio
async def test_two_servers_in_one_process_have_their_own_duckdb(tmp_path: Path) -> None:
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir()
    b_dir.mkdir()
    async with (
        inmemory(a_dir, env={"DATA_PLATFORM_DUCKDB_MEMORY": "64MB"}) as a,
        inmemory(b_dir, env={"DATA_PLATFORM_DUCKDB_MEMORY": "96MB"}) as b,
    ):
        # Interleaved: a shared, process-wide database would show the first limit to both.
        first_a = await call(a, "sql", query=LIMIT_SQL, name="la")
        first_b = await call(b, "sql", query=LIMIT_SQL, name="lb")
        again_a = await call(a, "sql", query=LIMIT_SQL, name="la2")
        assert _row(first_a) == {"m": "61.0 MiB", "ext": False}
        assert _row(first_b) == {"m": "91.5 MiB", "ext": False}
        assert _row(again_a) == {"m": "61.0 MiB", "ext": False}


def _row(result: CallToolResult) -> dict:
    assert result.structured_content is not None
    assert result.structured_content["rows"] == 1
    return result.structured_content["preview"][0]


def test_state_owns_its_engine_and_closes_it(tmp_path: Path) -> None:
    env = {"DATA_PLATFORM_DUCKDB_MEMORY": "128MB"}
    one = load_settings(tmp_path, env, system_file=tmp_path / "none.env")
    s1 = AppState(settings=one, registry=Registry(tmp_path / "r1"))
    s2 = AppState(
        settings=one.model_copy(update={"duckdb_memory": "256MB"}), registry=Registry(tmp_path / "r2")
    )
    assert s1.sandbox is not s2.sandbox
    assert (s1.sandbox.memory_limit, s2.sandbox.memory_limit) == ("128MB", "256MB")
    with s1.sandbox.over({}) as con:
        assert s1.sandbox.run(con, "SELECT current_setting('memory_limit') AS m").column(0)[0].as_py() == (
            "122.0 MiB"
        )
    assert s1.sandbox._con is not None
    for close in s1.closers:  # what the lifespan does at shutdown
        close()
    assert s1.sandbox._con is None
    assert s2.sandbox._con is None  # never used: never opened


def test_core_ops_run_with_a_caller_engine_or_a_throwaway_one(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    reg.put(pa.table({"g": ["a", "b", "a"], "x": [1, 2, 3]}), name="t", source="test")
    own = engine.Engine("64MB")
    try:
        got = ops.sql(
            reg, "SELECT g, sum(x) AS s FROM t GROUP BY g ORDER BY g", ops.Output("s1"), sandbox=own
        )
        assert reg.get(got.info.name).to_pylist() == [{"g": "a", "s": 4}, {"g": "b", "s": 2}]
        # filter on a non-kernel condition runs in the given engine
        res = ops.filter_rows(reg, "t", "x + 1 > 2", ops.Output("f1"), sandbox=own)
        assert reg.get(res.info.name).column("x").to_pylist() == [2, 3]
        # the lockdown holds on a caller-built engine too
        with own.over({}) as con, pytest.raises(ExpressionError, match="locked"):
            own.run(con, "SET enable_external_access = true")
    finally:
        own.close()
    got = ops.sql(reg, "SELECT count(*) AS n FROM t", ops.Output("s2"))  # no engine: a throwaway one
    assert reg.get(got.info.name).to_pylist() == [{"n": 3}]
