"""The database stops mid-session: every Postgres tool fails fast and clearly, then recovers.

Own file, and the cluster is started again in `finally`: the other tests share it.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from harness import call, call_error, inmemory, log_mark, log_since
from pgcluster import Cluster

pytestmark = pytest.mark.anyio

CONNECT_TIMEOUT = 3

CALLS: list[tuple[str, dict[str, object]]] = [
    ("pg_connect", {}),
    ("pg_query", {"sql": "select * from dp_ss.t"}),
    ("pg_execute", {"sql": "insert into dp_ss.t values (3)"}),
    ("pg_tables", {}),
    ("pg_columns", {"table": "t", "schema": "dp_ss"}),
    ("pg_schemas", {}),
    ("st_tables", {}),
    ("st_geometry_type", {"table": "g", "schema": "dp_ss"}),
    ("st_srid", {"table": "g", "schema": "dp_ss"}),
    ("st_extent", {"table": "g", "schema": "dp_ss"}),
    ("pg_load", {"data_ref": "t", "table": "t_copy", "schema": "dp_ss"}),
    ("pg_explain", {"sql": "select * from dp_ss.t"}),
]


async def test_database_stops_and_comes_back(pg: Cluster, project: Path, tmp_path: Path) -> None:
    if not pg.managed:
        pytest.fail("this test needs the suite's own cluster (it stops and starts it)")
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(
            "drop schema if exists dp_ss cascade; create schema dp_ss; create table dp_ss.t (id int);"
            "insert into dp_ss.t values (1), (2);"
            "create table dp_ss.g (geom geometry(Point, 4326));"
            "insert into dp_ss.g values ('SRID=4326;POINT(1 2)')"
        )
    env = {**pg.env(), "HOME": str(tmp_path), "DATA_PLATFORM_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT)}
    mark = log_mark()
    try:
        async with inmemory(project, env) as client:
            await call(client, "pg_query", sql="select * from dp_ss.t", name="t")
            for tool, args in CALLS:  # all fine while it is up
                if tool not in ("pg_execute", "pg_load"):
                    await call(client, tool, **args)
            pg.stop()
            try:
                for tool, args in CALLS:
                    start = time.monotonic()
                    err = await call_error(client, tool, **args)
                    elapsed = time.monotonic() - start
                    assert elapsed < CONNECT_TIMEOUT + 2, f"{tool} took {elapsed:.1f}s"
                    assert "cannot be reached" in err and "running" in err, err
                    assert pg.password not in err
            finally:
                pg.start()
            for tool, args in CALLS:  # the same server process works again
                await call(client, tool, **args)
            res = await call(client, "pg_query", sql="select count(*) as n from dp_ss.t")
            assert res.structured_content["preview"][0]["n"] == 3
        log = log_since(mark)
        assert "cannot be reached" in log and pg.password not in log
    finally:
        try:
            with psycopg.connect(pg.url, connect_timeout=2):
                pass
        except psycopg.OperationalError:
            pg.start()
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("drop schema if exists dp_ss cascade")
