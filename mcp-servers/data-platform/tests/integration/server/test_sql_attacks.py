"""The attack corpus (tests/sqlattacks.py) through a real MCP client against every tool that takes
SQL: pg_query, pg_explain, pg_index_advice, dbt_show on PostgreSQL and on DuckDB, sql (DuckDB over
refs), diff with SELECT sides, and dbt_compare's names. Each attack is refused with a clean `Error:`
(or is harmless), then proven harmless: the database, the DuckDB file, the files around and other
sessions are as before, and no answer carries the canary file's text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from harness import inmemory, text_of
from pgcluster import Cluster
from shopwarehouse import Shop, make_shop
from sqlattacks import (
    CORPUS,
    DUCKDB_CORPUS,
    DUCKDB_SETUP,
    SETUP,
    duckdb_snapshot,
    leaked_canary,
    snapshot,
    stray_files,
    write_canary,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ALL = CORPUS + DUCKDB_CORPUS
# Names a model writes where dbt_compare puts identifiers: quoted, never run as SQL.
HOSTILE_NAMES = [
    'raw_customers"; DELETE FROM dp_ro.t; --',
    "raw_customers; DROP TABLE dp_ro.t",
    "x') UNION SELECT pg_read_file('/etc/hostname') --",
]


@pytest.fixture
def ro_db(pg: Cluster) -> Iterator[Cluster]:
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(SETUP)
    write_canary()
    yield pg
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("drop schema if exists dp_ro cascade")


class Calls:
    """Every answer, checked as it comes: a clean error or a success, never the canary."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.ran: list[str] = []

    async def attack(self, tool: str, args: dict[str, Any], *, refused: bool) -> None:
        result = await self.client.call_tool(tool, args)
        text = text_of(result) + repr(result.structured_content or "")
        assert not leaked_canary(text), f"{tool} {args}: the canary file's text came back"
        if result.is_error:
            assert text.startswith("Error:") and "Traceback" not in text, f"{tool} {args}: {text[:300]}"
        else:
            self.ran.append(f"{tool}: {args}")
            assert not refused, f"{tool} ran an attack it must refuse: {args}: {text[:600]}"


def _seed_relation(shop: Shop) -> None:
    """raw_customers in the shop's schema, as a seed would make it, without a dbt run."""
    seed = shop.root / "seeds" / "raw_customers.csv"
    if shop.url is not None:
        with psycopg.connect(shop.url, autocommit=True) as conn:
            conn.execute(f"create schema {shop.schema}")
            columns = "id int, first_name text, last_name text, country text"
            conn.execute(f"create table {shop.schema}.raw_customers ({columns})")
            with conn.cursor().copy(
                f"copy {shop.schema}.raw_customers from stdin with (format csv, header)"
            ) as cp:
                cp.write(seed.read_bytes())
        return
    assert shop.path is not None
    with duckdb.connect(str(shop.path)) as conn:
        conn.execute(f"create schema {shop.schema}")
        conn.execute(f"create table {shop.schema}.raw_customers as select * from read_csv('{seed}')")
        conn.execute(DUCKDB_SETUP)


async def _pg_query(calls: Calls) -> None:
    for sql in ALL:
        await calls.attack("pg_query", {"sql": sql}, refused=True)


async def _pg_index_advice(calls: Calls) -> None:
    for sql in ALL:
        await calls.attack("pg_index_advice", {"sql": sql}, refused=True)


async def _pg_explain(calls: Calls) -> None:
    for sql in ALL:
        await calls.attack("pg_explain", {"sql": sql, "analyze": True}, refused=False)
        await calls.attack("pg_explain", {"sql": sql}, refused=False)


async def _sql(calls: Calls) -> None:
    for sql in ALL:
        await calls.attack("sql", {"query": sql}, refused=sql in DUCKDB_CORPUS)


async def _diff(calls: Calls) -> None:
    for sql in ALL:
        await calls.attack("diff", {"left": sql, "right": "dp_ro.t", "key": ["id"]}, refused=False)


async def _dbt_on_postgres(calls: Calls) -> None:
    await calls.attack("dbt_show", {"sql": "select 1 as warm"}, refused=False)
    for sql in ALL:
        await calls.attack("dbt_show", {"sql": sql}, refused=True)
    for name in HOSTILE_NAMES:
        await calls.attack("dbt_show", {"model": name}, refused=True)
    for name in HOSTILE_NAMES:
        await calls.attack("dbt_compare", {"model": "raw_customers", "against": name, "key": ["id"]},
                           refused=False)  # fmt: skip
        prod = {"model": "raw_customers", "against": "prod", "key": [name]}
        await calls.attack("dbt_compare", prod, refused=False)


async def _dbt_on_duckdb(calls: Calls) -> None:
    for sql in ALL:
        # PostgreSQL's attacks mostly fail on DuckDB; some are harmless there (pg_sleep(0),
        # txid_current()): the file's snapshot proves it. DuckDB's own must be refused.
        await calls.attack("dbt_show", {"sql": sql}, refused=sql in DUCKDB_CORPUS)
    for name in HOSTILE_NAMES:
        await calls.attack("dbt_compare", {"model": "raw_customers", "against": name, "key": ["id"]},
                           refused=False)  # fmt: skip


# One test per tool, and per adapter for dbt (each on a server of its own, with the whole proof),
# so that xdist workers share the corpus: as one test it was the suite's longest by far (6 min
# under load). dbt's tools share a server per adapter: each server pays dbt's first parse.
ON_POSTGRES = {
    "pg_query": _pg_query,
    "pg_index_advice": _pg_index_advice,
    "pg_explain": _pg_explain,
    "sql": _sql,
    "diff": _diff,
    "dbt_on_postgres": _dbt_on_postgres,
}


@pytest.mark.parametrize("tool", [*ON_POSTGRES, "dbt_on_duckdb"])
async def test_every_sql_tool_refuses_the_corpus_and_changes_nothing(
    tool: str, request: pytest.FixtureRequest, ro_db: Cluster, tmp_path: Path
) -> None:
    pg_shop = make_shop(request, tmp_path / "pg", "postgres")
    duck_shop = make_shop(request, tmp_path / "duck", "duckdb")
    _seed_relation(pg_shop)
    _seed_relation(duck_shop)
    assert duck_shop.path is not None
    before, duck_before = snapshot(ro_db.url), duckdb_snapshot(duck_shop.path)
    witness = psycopg.connect(ro_db.url, autocommit=True)  # pg_terminate_backend would kill it
    try:
        pid = witness.info.backend_pid
        if tool in ON_POSTGRES:
            async with inmemory(tmp_path / "pg", {**ro_db.env(), **pg_shop.env}) as client:
                await ON_POSTGRES[tool](Calls(client))
        else:
            async with inmemory(tmp_path / "duck", duck_shop.env) as client:
                await _dbt_on_duckdb(Calls(client))
        assert witness.execute("select pg_backend_pid()").fetchone()[0] == pid
    finally:
        witness.close()
    assert snapshot(ro_db.url) == before
    assert duckdb_snapshot(duck_shop.path) == duck_before
    assert stray_files() == []
