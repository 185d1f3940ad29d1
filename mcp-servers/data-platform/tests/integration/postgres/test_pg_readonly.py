"""pg_query stays read-only whatever the SQL says: a corpus of write/escape attempts, then proof.

The suite's test user is a superuser, so every attempt below would work on a
plain connection. Each must come back as a clean error, and a separate
connection then proves nothing changed: rows, tables, sequences, settings,
large objects, files, and other sessions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from harness import call, call_error, inmemory
from pgcluster import Cluster
from sqlattacks import CORPUS, MARK, SETUP, VALID, snapshot

pytestmark = pytest.mark.anyio


@pytest.fixture
def ro_db(pg: Cluster) -> Iterator[Cluster]:
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(SETUP)
    yield pg
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("drop schema if exists dp_ro cascade")


async def test_write_attempts_are_refused_and_change_nothing(
    ro_db: Cluster, project: Path, tmp_path: Path
) -> None:
    assert len(CORPUS) >= 25
    before = snapshot(ro_db.url)
    witness = psycopg.connect(ro_db.url, autocommit=True)  # pg_terminate_backend would kill it
    try:
        witness_pid = witness.info.backend_pid
        succeeded: list[str] = []
        async with inmemory(project, {**ro_db.env(), "HOME": str(tmp_path)}) as client:
            for sql in CORPUS:
                result = await client.call_tool("pg_query", {"sql": sql})
                if not result.is_error:
                    succeeded.append(sql)
                    continue
                text = "\n".join(getattr(c, "text", "") for c in result.content)
                assert "Traceback" not in text and ro_db.password not in text
            assert succeeded == [], f"write attempts that ran: {succeeded}"
            for sql in VALID:
                await call(client, "pg_query", sql=sql)
            res = await call(client, "pg_query", sql="SELECT current_setting('transaction_read_only') AS ro")
            assert res.structured_content["preview"][0]["ro"] == "on"
            # Refusals say why and where to go instead.
            err = await call_error(client, "pg_query", sql="DELETE FROM dp_ro.t")
            assert "read-only" in err and "pg_execute" in err
        assert witness.execute("select pg_backend_pid()").fetchone()[0] == witness_pid
    finally:
        witness.close()
    after = snapshot(ro_db.url)
    assert after == before
    for suffix in ("_prog", "_copy", "_lo"):
        assert not os.path.exists(MARK + suffix)
