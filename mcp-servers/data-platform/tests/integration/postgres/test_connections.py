"""Named connections through the in-memory MCP client, against two real databases."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import call, call_error, inmemory, text_of
from namedconns import DB_A, DB_B, create_databases, drop_databases, scalar, toml_url, write_connections
from pgcluster import Cluster

pytestmark = pytest.mark.anyio

SETUP = {
    DB_A: "create table items (id int primary key, label text); "
    "insert into items select g, 'a' || g from generate_series(1, 7) g;",
    DB_B: "create table items (id int primary key, label text); "
    "insert into items select g, 'b' || g from generate_series(1, 4) g;",
}


@pytest.fixture(scope="module")
def dbs(pg: Cluster) -> Iterator[Cluster]:
    create_databases(pg, SETUP)
    yield pg
    drop_databases(pg, list(SETUP))


def _file(pg: Cluster, extra: str = "") -> str:
    return (
        f'[connections.warehouse]\nurl = "{toml_url(pg, DB_A)}"\ndescription = "the warehouse"\n\n'
        f'[connections.replica]\nurl = "{toml_url(pg, DB_B)}"\ndescription = "read replica"\n'
        f"read_only = true\nstatement_timeout = 1\n" + extra
    )


def _env(pg: Cluster, tmp: Path, **more: str) -> dict[str, str]:
    return {"HOME": str(tmp), "WH_PASSWORD": pg.password, **more}


def _cell(result, column: str) -> object:
    return result.structured_content["preview"][0][column]


async def test_query_each_connection_and_read_only_refusal(
    pg: Cluster, project: Path, tmp_path: Path
) -> None:
    """Fast: two names on the suite's own database (the slow test below uses two databases)."""
    write_connections(
        project,
        f'[connections.warehouse]\nurl = "{toml_url(pg, pg.dbname)}"\n\n'
        f'[connections.replica]\nurl = "{toml_url(pg, pg.dbname)}"\nread_only = true\n',
    )
    async with inmemory(project, _env(pg, tmp_path)) as client:
        for name in ("warehouse", "replica"):
            r = await call(client, "pg_query", sql="select current_database() as db", connection=name)
            assert _cell(r, "db") == pg.dbname
        ok = await call(
            client, "pg_execute", sql="create temp table dp_scratch (x int)", connection="warehouse"
        )
        assert ok.structured_content["statements"] == ["CREATE TABLE"]
        err = await call_error(
            client, "pg_execute", sql="create table dp_never (x int)", connection="replica"
        )
        assert "read-only" in err and "'replica'" in err
        assert scalar(pg, pg.dbname, "select to_regclass('public.dp_never') is null") is True
        err = await call_error(client, "pg_tables", connection="nope")
        assert "No connection named 'nope'" in err and "replica, warehouse" in err
        err = await call_error(client, "pg_query", sql="select 1")  # no default: the names are listed
        assert "not configured" in err and "warehouse" in err
        assert pg.password not in err


@pytest.mark.slow
async def test_two_databases(dbs: Cluster, project: Path, tmp_path: Path) -> None:
    write_connections(project, _file(dbs))
    async with inmemory(project, _env(dbs, tmp_path)) as client:
        for name, db in (("warehouse", DB_A), ("replica", DB_B)):
            r = await call(
                client,
                "pg_query",
                sql="select current_database() as db, count(*) as n from items",
                connection=name,
            )
            assert _cell(r, "db") == db
            assert _cell(r, "n") == scalar(dbs, db, "select count(*) from items")
        before = scalar(dbs, DB_B, "select count(*) from items")
        err = await call_error(client, "pg_execute", sql="delete from items", connection="replica")
        assert "read-only" in err
        assert scalar(dbs, DB_B, "select count(*) from items") == before > 0  # nothing was deleted


@pytest.mark.slow
async def test_listing_edits_and_policies(dbs: Cluster, project: Path, tmp_path: Path) -> None:
    path = write_connections(project, _file(dbs))
    user_file = tmp_path / ".config" / "data-platform" / "connections.toml"
    user_file.parent.mkdir(parents=True)
    # The user's file declares one; the project's file describes the same name differently (it wins).
    user_file.write_text(f'[connections.mine]\nurl = "{toml_url(dbs, DB_A)}"\ndescription = "from home"\n')
    env = _env(dbs, tmp_path, POSTGRES_URL=dbs.url, POSTGRES_URL_EXTRA=dbs.url)
    async with inmemory(project, env) as client:
        r = await call(client, "pg_connect")
        text = text_of(r)
        names = [c["name"] for c in r.structured_content["connections"]]
        assert names == ["default", "extra", "mine", "replica", "warehouse"]
        assert all(c["ok"] for c in r.structured_content["connections"]), text
        assert (
            "the warehouse" in text
            and "read replica" in text
            and "[read-only]" in text
            and "from home" in text
        )
        assert dbs.password not in text and "***" in text and "PostGIS" in text
        one = await call(client, "pg_connect", connection="replica")
        assert [c["database"] for c in one.structured_content["connections"]] == [DB_B]

        # pg_load refused on the read-only connection, allowed on the other.
        await call(client, "pg_query", sql="select 1 as x", name="one", connection="warehouse")
        err = await call_error(client, "pg_load", data_ref="one", table="t_one", connection="replica")
        assert "read-only" in err
        await call(client, "pg_load", data_ref="one", table="t_one", connection="warehouse")
        assert scalar(dbs, DB_A, "select count(*) from t_one") == 1

        # Its own statement timeout (1 s) on the replica; the default keeps 30 s.
        slow = "select count(*) from generate_series(1, 300000000)"
        err = await call_error(client, "pg_query", sql=slow, connection="replica")
        assert "longer than 1 s" in err

        # The file edited mid-session: seen on the next call, no restart.
        path.write_text(
            _file(dbs).replace("read_only = true", "read_only = false")
            + (
                f'\n[connections.mine]\ndescription = "overridden by the project"\n'
                f'\n[connections.third]\nurl = "{toml_url(dbs, DB_B)}"\n'
            )
        )
        os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 1_000_000))
        r = await call(client, "pg_query", sql="select current_database() as db", connection="third")
        assert _cell(r, "db") == DB_B
        await call(client, "pg_execute", sql="insert into items values (99, 'new')", connection="replica")
        assert scalar(dbs, DB_B, "select count(*) from items where id = 99") == 1
        listing = text_of(await call(client, "pg_connect"))
        assert "overridden by the project" in listing and "from home" not in listing

        # A broken declaration is named on use and in the listing, never a traceback or a secret.
        path.write_text('[connections.broken]\nurl = "postgresql://u:${NOT_SET_ANYWHERE}@h/db"\n')
        err = await call_error(client, "pg_query", sql="select 1", connection="broken")
        assert "${NOT_SET_ANYWHERE} is not set" in err
        listing = text_of(await call(client, "pg_connect"))
        assert "broken" in listing and "NOT_SET_ANYWHERE" in listing
        path.write_text("[connections\n")
        err = await call_error(client, "pg_tables", connection="warehouse")
        assert "connections file" in err and "cannot be read" in err
        assert dbs.password not in err + listing
