"""dbt_compare through the real MCP client: a model changed in one target, compared against the other,
on both adapters, with the counts checked by an independent query in the warehouse.

The fast tier's dbt_compare call is in test_dbt_duckdb.py."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from harness import call, inmemory, text_of
from shopwarehouse import ADAPTERS, make_shop

pytestmark = pytest.mark.anyio


def _ref(project: Path, name: str) -> pa.Table:
    with pa.memory_map(str(project / ".data-platform" / f"{name}.arrow")) as source:
        return pa.ipc.open_file(source).read_all()


@pytest.mark.slow
@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_model_changed_in_dev_compared_against_prod(
    request: pytest.FixtureRequest, tmp_path: Path, adapter: str
) -> None:
    shop = make_shop(request, tmp_path, adapter)
    prod = "prod" if adapter == "postgres" else "duckdb_prod"
    async with inmemory(tmp_path, env=shop.env) as client:
        await call(client, "dbt_build", select="+customer_orders", target=prod)
        # dev: GB customers' totals change, and customer 5 is gone.
        model = shop.root / "models" / "marts" / "customer_orders.sql"
        text = model.read_text()
        text = text.replace(
            "coalesce(sum(p.amount), 0) as total_amount",
            "coalesce(sum(p.amount), 0) + case when c.country = 'GB' then 1 else 0 end as total_amount",
        )
        model.write_text(text.replace("group by 1, 2, 3", "where c.customer_id <> 5\ngroup by 1, 2, 3"))
        await call(client, "dbt_build", select="+customer_orders")

        r = await call(client, "dbt_compare", model="customer_orders", against=prod, key=["customer_id"])
        got = r.structured_content
        # The same counts, computed independently in the warehouse.
        dev, prd = f"{shop.schema}.customer_orders", f"{shop.schema}_prod.customer_orders"
        changed = shop.rows(
            f"select count(*) from {dev} d join {prd} p on d.customer_id = p.customer_id "
            "where d.total_amount <> p.total_amount"
        )[0][0]
        only_prod = shop.rows(
            f"select count(*) from {prd} p where not exists "
            f"(select 1 from {dev} d where d.customer_id = p.customer_id)"
        )[0][0]
        assert changed == 2 and only_prod == 1
        assert got["changed"] == changed and got["only_in_against"] == only_prod
        assert got["only_in_target"] == 0 and got["rows"] == 4 and got["against_rows"] == 5
        per_column = {c["name"]: c["changed"] for c in got["columns"]}
        assert per_column["total_amount"] == changed
        assert per_column["orders"] == per_column["country"] == per_column["customer_name"] == 0
        assert f"{changed} changed" in text_of(r)
        assert "Columns and types match: all 5 columns have the same names and types" in text_of(r)
        only = _ref(tmp_path, got["examples"][f"only_in_{prod}"])
        assert only.column("customer_id").to_pylist() == [5]
        # A number on both adapters (an empty PostgreSQL result carries no types: the warehouse's
        # own column types are read), so its largest change is measured.
        assert {c["name"]: c["max_abs_diff"] for c in got["columns"]}["total_amount"] == 1

        # dev's total_amount becomes decimal(18,3): the type change is said, and the column is still
        # compared as a number (only the GB customers' +1 differs, not every row as text would).
        text = model.read_text()
        start = text.index("coalesce(sum(p.amount), 0) +")
        end = text.index(" as total_amount", start)
        model.write_text(f"{text[:start]}cast({text[start:end]} as decimal(18, 3)){text[end:]}")
        await call(client, "dbt_build", select="customer_orders")
        r = await call(client, "dbt_compare", model="customer_orders", against=prod, key=["customer_id"])
        got = r.structured_content
        assert any("total_amount" in line for line in got["schema_changes"]), got["schema_changes"]
        assert "total_amount" in " ".join(got["schema_summary"]) and "types match" not in text_of(r)
        assert got["changed"] == changed and got["only_in_against"] == only_prod
        assert {c["name"]: c["max_abs_diff"] for c in got["columns"]}["total_amount"] == 1
