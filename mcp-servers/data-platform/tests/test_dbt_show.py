"""dbt_show through the real MCP client, on both adapters of the shop project (PostgreSQL, DuckDB)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from harness import call, call_error, inmemory
from shopproject import copy_shop, duckdb_env
from shopwarehouse import ADAPTERS, make_shop

pytestmark = pytest.mark.anyio


def _ref_table(project: Path, name: str) -> pa.Table:
    with pa.memory_map(str(project / ".data-platform" / f"{name}.arrow")) as source:
        return pa.ipc.open_file(source).read_all()


async def test_inline_sql_with_a_macro_and_its_own_limit_on_duckdb(tmp_path: Path) -> None:
    """The fast tier's dbt_show: no build needed, the project's macro compiles, LIMITs nest."""
    root = copy_shop(tmp_path)
    env = duckdb_env(root, tmp_path / "warehouse.duckdb")
    sql = "select i, {{ cents_to_dollars('i') }} as dollars from range(1000) t(i) order by i desc limit 30"
    async with inmemory(tmp_path, env=env) as client:
        r = await call(client, "dbt_show", sql=sql, n=10)  # `n` read as limit
        got = r.structured_content
        assert got["rows"] == 10 and [c["name"] for c in got["columns"]] == ["i", "dollars"]
        table = _ref_table(tmp_path, got["data_ref"])
        # The same query run independently: its own LIMIT 30 kept, the show's limit 10 on top of it.
        want = duckdb.sql("select i, round(i / 100.0, 2) from range(1000) t(i) order by i desc limit 10")
        assert [(int(a), Decimal(str(b))) for a, b in want.fetchall()] == [
            (row["i"], row["dollars"]) for row in table.to_pylist()
        ]
        every = await call(client, "dbt_show", inline=sql, limit=-1)
        assert every.structured_content["rows"] == 30  # the query's own LIMIT, not a syntax error
        err = await call_error(client, "dbt_show", model="stg_orders", sql="select 1")
        assert "one of them" in err


@pytest.mark.slow
@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_model_and_inline_sql_with_ref_on_both_adapters(
    request: pytest.FixtureRequest, tmp_path: Path, adapter: str
) -> None:
    shop = make_shop(request, tmp_path, adapter)
    async with inmemory(tmp_path, env=shop.env) as client:
        await call(client, "dbt_build")
        # A model's current code runs, built or not: an edit is previewed before any build.
        model = shop.root / "models" / "marts" / "customer_orders.sql"
        model.write_text(model.read_text().replace("c.country,", "lower(c.country) as country,"))
        r = await call(client, "dbt_show", model="customer_orders", limit=-1)
        got = r.structured_content
        shown = {(row["customer_id"], row["country"], row["orders"]) for row in _rows(tmp_path, got)}
        built = shop.rows("select customer_id, lower(country), orders from {s}.customer_orders")
        assert got["rows"] == len(built) == 5
        assert shown == {(int(a), b, int(c)) for a, b, c in built}

        sql = (
            "select country, count(*) as n from {{ ref('stg_customers') }} group by country order by country"
        )
        r = await call(client, "dbt_show", sql=sql, limit=2)
        want = shop.rows("select country, count(*) from {s}.stg_customers group by country order by country")
        assert [(row["country"], row["n"]) for row in _rows(tmp_path, r.structured_content)] == [
            (c, int(n)) for c, n in want[:2]
        ]
        err = await call_error(client, "dbt_show", sql="select * from {{ ref('stg_customers') }} where nope")
        assert "The warehouse refused the query" in err and shop.adapter in err
        err = await call_error(client, "dbt_show", select="stg_orders+")
        assert "dbt_show shows one" in err


def _rows(project: Path, structured: dict) -> list[dict]:
    return _ref_table(project, structured["data_ref"]).to_pylist()
