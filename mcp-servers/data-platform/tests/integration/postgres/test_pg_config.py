"""No PostgreSQL, a wrong password, a missing database, a dead port: each says what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import call, call_error, inmemory, log_mark, log_since, text_of
from pgcluster import Cluster
from test_pg_stopstart import CALLS

pytestmark = pytest.mark.anyio


async def test_not_configured_server_starts_and_explains(project: Path, tmp_path: Path) -> None:
    async with inmemory(project, {"HOME": str(tmp_path)}) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {c[0] for c in CALLS} <= names
        await call(client, "list_data")
        for tool, args in CALLS:
            err = await call_error(client, tool, **args)
            assert "not configured" in err, err
            for needle in ("POSTGRES_URL", "DATABASE_URL", "PGHOST", "postgres.env", ".env"):
                assert needle in err


async def test_misconfigured_says_which_setting(pg: Cluster, project: Path, tmp_path: Path) -> None:
    wrong_pw = "pw-WRONG-" + pg.password[-6:]
    cases = {
        "refused the login": f"postgresql://{pg.user}:{wrong_pw}@{pg.host}:{pg.port}/{pg.dbname}",
        "does not exist": f"postgresql://{pg.user}:{pg.password}@{pg.host}:{pg.port}/no_such_db",
        "cannot be reached": f"postgresql://{pg.user}:{pg.password}@127.0.0.1:1/{pg.dbname}",
    }
    mark = log_mark()
    for expected, url in cases.items():
        async with inmemory(project, {"POSTGRES_URL": url, "HOME": str(tmp_path)}) as client:
            for tool in ("pg_connect", "pg_query", "pg_tables"):
                args = {"sql": "select 1"} if tool == "pg_query" else {}
                err = await call_error(client, tool, **args)
                assert expected in err, err
                assert pg.password not in err and wrong_pw not in err and "***" in err
    log = log_since(mark)
    assert all(expected in log for expected in cases), log  # the server's log lines, redacted
    assert pg.password not in log and wrong_pw not in log


async def test_project_env_file_is_honoured(pg: Cluster, project: Path, tmp_path: Path) -> None:
    (project / ".env").write_text(f"POSTGRES_URL={pg.url}\n")
    async with inmemory(project, {"HOME": str(tmp_path)}) as client:
        text = text_of(await call(client, "pg_connect"))
        assert pg.dbname in text and pg.password not in text
