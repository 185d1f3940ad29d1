"""dbt_show through the real MCP client, on both adapters of the shop project (PostgreSQL, DuckDB).

The fast tier's dbt_show call is in test_dbt_duckdb.py."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from harness import call, call_error, inmemory
from shopwarehouse import ADAPTERS, make_shop

pytestmark = pytest.mark.anyio


def _ref_table(project: Path, name: str) -> pa.Table:
    with pa.memory_map(str(project / ".data-platform" / f"{name}.arrow")) as source:
        return pa.ipc.open_file(source).read_all()


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
        # A model whose Jinja asks the warehouse while compiling (no relation cache is filled up
        # front): the built relation is found, a missing one is not.
        probe = shop.root / "models" / "probe_relations.sql"
        probe.write_text(
            "{% set r = ref('stg_customers') %}\n"
            "{% set found = adapter.get_relation(r.database, r.schema, r.identifier) %}\n"
            "{% set gone = adapter.get_relation(r.database, r.schema, 'dp_no_such_relation') %}\n"
            "select {{ 1 if found is not none else 0 }} as found, {{ 1 if gone is not none else 0 }} as gone"
        )
        r = await call(client, "dbt_show", model="probe_relations")
        assert [(row["found"], row["gone"]) for row in _rows(tmp_path, r.structured_content)] == [(1, 0)]

        sql = (
            "select country, count(*) as n from {{ ref('stg_customers') }} group by country order by country"
        )
        r = await call(client, "dbt_show", sql=sql, limit=2)
        want = shop.rows("select country, count(*) from {s}.stg_customers group by country order by country")
        assert [(row["country"], row["n"]) for row in _rows(tmp_path, r.structured_content)] == [
            (c, int(n)) for c, n in want[:2]
        ]
        # Values that widen past the first batch of 10,000 rows (DB-API drivers give Python decimals).
        wide = (
            "select g, cast(g as numeric(16, 2)) * (case when g > 10000 then 1000000 else 1 end) * 1.5 as x "
            "from generate_series(1, 25000) as t(g)"
        )
        r = await call(client, "dbt_show", sql=wide, limit=-1)
        table = _ref_table(tmp_path, r.structured_content["data_ref"])
        want = shop.rows(f"select count(*), sum(x), max(x) from ({wide}) as q")[0]
        assert table.num_rows == want[0] == 25000
        xs = table.column("x").to_pylist()
        assert (sum(xs), max(xs)) == (want[1], want[2])
        x_type = table.schema.field("x").type  # a decimal whose precision holds the widest value
        assert x_type.precision - x_type.scale >= len(str(int(max(xs))))
        err = await call_error(client, "dbt_show", sql="select * from {{ ref('stg_customers') }} where nope")
        assert "nope" in err and ("PostgreSQL error" in err or "DuckDB refused the query" in err)
        err = await call_error(client, "dbt_show", select="stg_orders+")
        assert "dbt_show shows one" in err


def _rows(project: Path, structured: dict) -> list[dict]:
    return _ref_table(project, structured["data_ref"]).to_pylist()


@pytest.mark.slow
async def test_cancelling_dbt_show_stops_the_query_in_postgresql(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from cancelling import LONG, _cancel_while_running

    shop = make_shop(request, tmp_path, "postgres")
    needle = "dp_cancel_probe_show"
    sql = f"select count(*) as n, '{needle}' as mark from {LONG}"
    async with inmemory(tmp_path, env=shop.env) as client:
        assert shop.url is not None
        await call(client, "dbt_show", sql="select 0 as warm")  # dbt imported, the project parsed
        await _cancel_while_running(client, shop.url, "dbt_show", sql, needle, {"sql": sql})
        # dbt's lock was released: the next call runs, and the cancelled one stored nothing.
        r = await call(client, "dbt_show", sql="select 1 as one")
        assert r.structured_content["data_ref"] == "dbt_show_2"


@pytest.mark.slow
async def test_a_self_contained_query_on_a_duckdb_file_never_built(tmp_path: Path) -> None:
    """dbt fills no relation cache for dbt_show (`--no-populate-cache`), so it would not open the
    target's database file either: a missing file is still made by dbt-duckdb, as a compile made it."""
    from shopproject import copy_shop, duckdb_env

    root = copy_shop(tmp_path)
    path = tmp_path / "never_built.duckdb"
    async with inmemory(tmp_path, env=duckdb_env(root, path, "shop")) as client:
        r = await call(client, "dbt_show", sql="select 41 + 1 as answer")
        assert _rows(tmp_path, r.structured_content) == [{"answer": 42}]
    assert path.exists()
