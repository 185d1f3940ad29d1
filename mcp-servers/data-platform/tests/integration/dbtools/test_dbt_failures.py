"""Failing tests through the real MCP client, on both adapters: the rows a data test found come back
as refs (counted independently in the warehouse); a failing unit test shows expected vs actual."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from harness import call, inmemory, text_of
from shopproject import replace
from shopwarehouse import ADAPTERS, make_shop

pytestmark = pytest.mark.anyio

UNIT_TEST = """unit_tests:
  - name: counts_orders_per_customer
    model: customer_orders
    given:
      - input: ref('stg_customers')
        rows:
          - {customer_id: 1, customer_name: A, country: GB}
      - input: ref('stg_orders')
        rows:
          - {order_id: 1, customer_id: 1}
          - {order_id: 2, customer_id: 1}
      - input: ref('stg_payments')
        rows:
          - {order_id: 1, amount: 10}
    expect:
      rows:
        - {customer_id: 1, orders: 3, total_amount: 10}
"""


def _ref(project: Path, name: str) -> pa.Table:
    with pa.memory_map(str(project / ".data-platform" / f"{name}.arrow")) as source:
        return pa.ipc.open_file(source).read_all()


@pytest.mark.slow
@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_failing_tests_bring_back_their_rows_and_a_unit_test_its_diff(
    request: pytest.FixtureRequest, tmp_path: Path, adapter: str
) -> None:
    shop = make_shop(request, tmp_path, adapter)
    root = shop.root
    # A singular test that fails, and a generic one (warn) on a column: `returned` not accepted.
    (root / "tests" / "assert_small_payments.sql").write_text(
        "select * from {{ ref('stg_payments') }} where amount > 20\n"
    )
    replace(
        root / "models" / "staging" / "schema.yml",
        '                values: ["placed", "shipped", "completed", "returned"]',
        '                values: ["placed", "shipped"]\n'
        "              config:\n                severity: warn",
    )
    (root / "models" / "marts" / "unit.yml").write_text(UNIT_TEST)
    async with inmemory(tmp_path, env=shop.env) as client:
        r = await call(client, "dbt_build")
        got = r.structured_content
        text = text_of(r)
        assert got["success"] is False
        by_test = {f["test"]: f for f in got["failing_rows"]}

        small = by_test["assert_small_payments"]
        want = shop.rows("select count(*) from {s}.stg_payments where amount > 20")[0][0]
        assert want > 0 and small["rows"] == small["failures"] == want and small["status"] == "fail"
        table = _ref(tmp_path, small["data_ref"])
        ids = shop.rows("select payment_id from {s}.stg_payments where amount > 20 order by 1")
        assert sorted(table.column("payment_id").to_pylist()) == [int(i) for (i,) in ids]
        assert f"failing rows in data_ref `{small['data_ref']}`" in text

        status = next(v for k, v in by_test.items() if k.startswith("accepted_values_stg_orders_status"))
        assert (status["model"], status["column"], status["status"]) == ("stg_orders", "status", "warn")
        bad = shop.rows(
            "select count(distinct status) from {s}.stg_orders where status not in ('placed', 'shipped')"
        )[0][0]
        assert status["rows"] == bad > 0
        assert f"(stg_orders.status): {bad:,} failing rows in data_ref `{status['data_ref']}`" in text

        # The unit test (skipped by the build: its model's parents failed a test): dbt's diff of
        # expected (3 orders) and actual (2), cleaned of colour codes.
        r = await call(client, "dbt_test", select="test_type:unit")
        text = text_of(r)
        assert r.structured_content["failing_rows"] == []
        assert "FAIL unit_test" in text and "actual differs from expected" in text
        assert "3→2" in text and "\x1b[" not in text


async def test_a_build_says_which_failed_tests_skipped_the_nodes_downstream(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """dbt's run_results give skipped nodes no reason: the answer names the failed tests upstream."""
    shop = make_shop(request, tmp_path, "duckdb")
    (shop.root / "tests" / "assert_small_payments.sql").write_text(
        "select * from {{ ref('stg_payments') }} where amount > 20\n"
    )
    async with inmemory(tmp_path, env=shop.env) as client:
        r = await call(client, "dbt_build")
        got = r.structured_content
        skipped = [n for n in got["nodes"] if n["status"] == "skipped"]
        assert {n["name"] for n in skipped} >= {"customer_orders", "revenue_by_country"}
        assert got["skipped_after"] == ["assert_small_payments"]
        assert (
            f"{len(skipped)} node(s) skipped because these failed upstream of them: assert_small_payments;"
            in text_of(r)
        )
