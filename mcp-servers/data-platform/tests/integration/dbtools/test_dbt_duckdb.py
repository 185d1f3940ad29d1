"""The fast tier's calls of the new dbt tools, on dbt-duckdb (the cheap adapter: a file, no server,
no dbt run): dbt_show of inline SQL with a macro and nested LIMITs, and dbt_compare of a relation
in two schemas made directly in the DuckDB file. One server, one project parse. The same tools on
PostgreSQL and on built models, and column lineage: test_dbt_show/_compare, test_column_lineage.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from harness import call, call_error, inmemory, text_of
from shopproject import copy_shop, duckdb_env

pytestmark = pytest.mark.anyio


def _ref(project: Path, name: str) -> pa.Table:
    with pa.memory_map(str(project / ".data-platform" / f"{name}.arrow")) as source:
        return pa.ipc.open_file(source).read_all()


def _dev_and_prod(tmp_path: Path, root: Path, *dev_changes: str) -> Path:
    """A DuckDB file with the seed's raw_customers in `shop` (dev) and `shop_prod`, then `dev_changes`."""
    path = tmp_path / "warehouse.duckdb"
    seed = root / "seeds" / "raw_customers.csv"
    with duckdb.connect(str(path)) as conn:
        for schema in ("shop", "shop_prod"):
            conn.execute(f"create schema {schema}")
            conn.execute(f"create table {schema}.raw_customers as select * from read_csv('{seed}')")
        for sql in dev_changes:
            conn.execute(sql)
    return path


async def test_show_lineage_and_compare_on_duckdb_without_a_dbt_run(tmp_path: Path) -> None:
    root = copy_shop(tmp_path)
    path = _dev_and_prod(tmp_path, root, "update shop.raw_customers set country = 'FR' where id in (1, 2)",
                         "delete from shop.raw_customers where id = 5")  # fmt: skip
    env = duckdb_env(root, path, "shop")
    sql = "select i, {{ cents_to_dollars('i') }} as dollars from range(1000) t(i) order by i desc limit 30"
    async with inmemory(tmp_path, env=env) as client:
        # dbt_show: the project's macro compiles; the show's limit nests over the query's own LIMIT.
        r = await call(client, "dbt_show", sql=sql, n=10)  # `n` read as limit
        got = r.structured_content
        assert got["rows"] == 10 and [c["name"] for c in got["columns"]] == ["i", "dollars"]
        want = duckdb.sql("select i, round(i / 100.0, 2) from range(1000) t(i) order by i desc limit 10")
        assert [(int(a), Decimal(str(b))) for a, b in want.fetchall()] == [
            (row["i"], row["dollars"]) for row in _ref(tmp_path, got["data_ref"]).to_pylist()
        ]
        every = await call(client, "dbt_show", inline=sql, limit=-1)
        assert every.structured_content["rows"] == 30  # the query's own LIMIT, not a syntax error
        # The answer and the ref say where it ran; `name`/`overwrite` as for every ref-making tool.
        where = "run read-only on target duckdb (duckdb, database warehouse, schema shop)"
        assert where in got["note"]
        named = await call(client, "dbt_show", sql="select 1 as x", name="one")
        assert named.structured_content["data_ref"] == "one"
        assert "target duckdb" in named.structured_content["source"]
        err = await call_error(client, "dbt_show", sql="select 2 as x", name="one")
        assert "already exists" in err
        await call(client, "dbt_show", sql="select 2 as x", name="one", overwrite=True)
        assert _ref(tmp_path, "one").column("x").to_pylist() == [2]
        err = await call_error(client, "dbt_show", model="stg_orders", sql="select 1")
        assert "one of them" in err
        # Jinja in inline SQL cannot run statements: dbt_show only reads.
        evil = "{% do run_query('create table shop.evil as select 1 as x') %} select 1 as y"
        err = await call_error(client, "dbt_show", sql=evil)
        assert "without introspection" in err

        # dbt_compare: the seed's relation in this target's schema against another schema.
        r = await call(client, "dbt_compare", model="raw_customers", compare_to="shop_prod", primary_key="id")
        got = r.structured_content
        assert (got["only_in_target"], got["only_in_against"], got["changed"], got["same"]) == (0, 1, 2, 2)
        assert {c["name"]: c["changed"] for c in got["columns"]} == {
            "first_name": 0,
            "last_name": 0,
            "country": 2,
        }
        changed = _ref(tmp_path, got["examples"]["changed"])
        assert sorted(changed.column("id").to_pylist()) == [1, 2]
        assert set(changed.column("country_right").to_pylist()) == {"FR"}
        assert _ref(tmp_path, got["examples"]["only_in_shop_prod"]).column("id").to_pylist() == [5]
        assert "1 only in shop_prod" in text_of(r)
        err = await call_error(client, "dbt_compare", model="raw_customers", against="nowhere", key="id")
        assert "Cannot read raw_customers in nowhere" in err
    with duckdb.connect(str(path), read_only=True) as conn:
        tables = conn.execute("select table_name from information_schema.tables where table_schema = 'shop'")
        assert tables.fetchall() == [("raw_customers",)]


async def test_compare_names_the_profile_default_target_and_the_example_sides(tmp_path: Path) -> None:
    """No DBT_TARGET: the checked side is named by the profile's `target:`, not "default target";
    the `_left`/`_right` columns of the changed rows' ref are said to be which side."""
    root = copy_shop(tmp_path)
    profiles = root / "profiles.yml"
    profiles.write_text(profiles.read_text().replace("  target: dev\n", "  target: duckdb\n", 1))
    path = _dev_and_prod(tmp_path, root, "update shop.raw_customers set country = 'FR' where id = 1")
    env = {k: v for k, v in duckdb_env(root, path, "shop").items() if k != "DBT_TARGET"}
    async with inmemory(tmp_path, env=env) as client:
        r = await call(client, "dbt_compare", model="raw_customers", against="shop_prod", key="id")
        assert r.structured_content["target"] == "duckdb"
        text = text_of(r)
        assert "default target" not in text and "1 only in" not in text
        assert "(changed: `<column>_left` is shop_prod, `<column>_right` duckdb)" in text
