"""Column-level lineage (dbt_lineage with column=) through the real MCP client, on both adapters."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_platform.dbtools.columns import Analyzer
from harness import call, call_error, inmemory, text_of
from shopproject import copy_shop, duckdb_env, replace
from shopwarehouse import ADAPTERS, make_shop

pytestmark = pytest.mark.anyio


KEYS = ("join", "filter", "group-by")


def _edges(structured: dict, direction: str, keys: bool = False) -> set[tuple[str, str, str]]:
    """The value edges (or, with `keys`, the key edges) of a column lineage answer."""
    return {
        (f"{e['from_node']}.{e['from_column']}", f"{e['to_node']}.{e['to_column']}", e["kind"])
        for e in structured["column_lineage"][direction]
        if (e["kind"] in KEYS) == keys
    }


@pytest.mark.slow
async def test_keys_through_a_join_and_a_group_by_and_expressions_as_written(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    shop = make_shop(request, tmp_path, "postgres")
    async with inmemory(tmp_path, env=shop.env) as client:
        r = await call(client, "dbt_lineage", node="revenue_by_country", column="revenue")
        keys = _edges(r.structured_content, "upstream", keys=True)
        # Which customer a payment counts for: the joins on order_id and customer_id, the group-bys.
        assert {
            ("stg_orders.customer_id", "customer_orders.total_amount", "join"),
            ("stg_customers.customer_id", "customer_orders.total_amount", "join"),
            ("stg_orders.order_id", "customer_orders.total_amount", "join"),
            ("stg_payments.order_id", "customer_orders.total_amount", "join"),
            ("stg_customers.customer_id", "customer_orders.total_amount", "group-by"),
            ("stg_payments.order_id", "customer_orders.total_amount", "group-by"),  # the payments CTE
            ("customer_orders.country", "revenue_by_country.revenue", "group-by"),
            ("customer_orders.orders", "revenue_by_country.revenue", "filter"),
        } <= keys, keys
        # Keys are not values: the value edges are the same three as without them.
        assert {(a, b) for a, b, _ in _edges(r.structured_content, "upstream")} == {
            ("customer_orders.total_amount", "revenue_by_country.revenue"),
            ("stg_payments.amount", "customer_orders.total_amount"),
            ("shop_raw.payments.amount_cents", "stg_payments.amount"),
        }
        edges = {
            (e["to_node"], e["kind"]): e["expression"]
            for e in r.structured_content["column_lineage"]["upstream"]
        }
        # The transformed edge shows the expression the model computes (its macro expanded), as written.
        assert edges[("stg_payments", "transformed")] == "round((amount_cents / 100.0)::numeric, 2)"
        assert (
            edges[("customer_orders", "aggregated")] == "coalesce(sum(p.amount), 0) <- p.amount = sum(amount)"
        )
        assert edges[("customer_orders", "join")] in (
            "o.customer_id = c.customer_id",
            "p.order_id = o.order_id",
        )
        text = text_of(r)
        assert "Keys that decide which rows feed it" in text
        assert "customer_orders, join `p.order_id = o.order_id`: " in text and "stg_payments.order_id" in text
        assert "revenue_by_country, filter `orders >= 0`: customer_orders.orders" in text, text
        assert "round((amount_cents / 100.0)::numeric, 2)" in text and "-.->|join|" in text


@pytest.mark.slow
@pytest.mark.parametrize("adapter", ADAPTERS)
async def test_a_derived_column_across_three_models_with_each_edge_kind(
    request: pytest.FixtureRequest, tmp_path: Path, adapter: str
) -> None:
    shop = make_shop(request, tmp_path, adapter)
    # A model over a source with `select *`: unresolvable until catalog.json says the columns.
    (shop.root / "models" / "staging" / "stg_raw_payments.sql").write_text(
        "select * from {{ source('shop_raw', 'payments') }}\n"
    )
    async with inmemory(tmp_path, env=shop.env) as client:
        # revenue_by_country.revenue <- customer_orders.total_amount <- stg_payments.amount <- source
        r = await call(client, "dbt_lineage", node="revenue_by_country", column="revenue")
        assert _edges(r.structured_content, "upstream") == {
            ("customer_orders.total_amount", "revenue_by_country.revenue", "aggregated"),
            ("stg_payments.amount", "customer_orders.total_amount", "aggregated"),
            ("shop_raw.payments.amount_cents", "stg_payments.amount", "transformed"),
        }
        assert r.structured_content["column_lineage"]["downstream"] == []
        text = text_of(r)
        assert "```mermaid" in text and "-->|aggregated|" in text and "-->|transformed|" in text

        # Renamed from a seed, then aggregated downstream; pass-through through a CTE and a join.
        r = await call(client, "dbt_lineage", node="stg_orders", column_name="order_id")
        assert _edges(r.structured_content, "upstream") == {
            ("raw_orders.id", "stg_orders.order_id", "renamed")
        }
        assert _edges(r.structured_content, "downstream") == {
            ("stg_orders.order_id", "customer_orders.orders", "aggregated"),
            ("customer_orders.orders", "revenue_by_country.orders", "aggregated"),
        }
        r = await call(client, "dbt_lineage", node="stg_customers", column="country", direction="down")
        assert _edges(r.structured_content, "downstream") == {
            ("stg_customers.country", "customer_orders.country", "pass-through"),
            ("customer_orders.country", "revenue_by_country.country", "pass-through"),
        }
        assert r.structured_content["column_lineage"]["upstream"] == []

        # `select *` over a source nobody has described: said, not guessed.
        r = await call(client, "dbt_lineage", node="shop_raw.payments", column="method", direction="down")
        unresolved = r.structured_content["column_lineage"]["unresolved"]
        assert any("stg_raw_payments" in u and "select *" in u for u in unresolved), unresolved
        assert ("shop_raw.payments.method", "stg_payments.method", "pass-through") in _edges(
            r.structured_content, "downstream"
        )
        err = await call_error(client, "dbt_lineage", node="customer_orders", column="total")
        assert "has no column `total`" in err and "total_amount" in err

        # Once the catalog knows the source's columns, the star resolves, column by column.
        await call(client, "dbt_build")
        await call(client, "dbt_docs_generate")
        r = await call(client, "dbt_lineage", node="shop_raw.payments", column="method", direction="down")
        assert r.structured_content["column_lineage"]["unresolved"] == []
        assert _edges(r.structured_content, "downstream") == {
            ("shop_raw.payments.method", "stg_payments.method", "pass-through"),
            ("shop_raw.payments.method", "stg_raw_payments.method", "pass-through"),
        }


def test_a_chain_deeper_than_pythons_recursion_limit() -> None:
    """The core alone (no dbt): 1,200 models in a chain, each `x + 1` of the one before."""
    n = 1200
    nodes, parents, children, compiled = {}, {}, {}, {}
    for i in range(n):
        uid = f"model.p.m{i}"
        nodes[uid] = {
            "resource_type": "model",
            "name": f"m{i}",
            "database": "db",
            "schema": "s",
            "alias": f"m{i}",
        }
        parents[uid] = [f"model.p.m{i - 1}"] if i else []
        compiled[uid] = f'select x + 1 as x from "db"."s"."m{i - 1}"' if i else "select 1 as x"
        children.setdefault(f"model.p.m{i - 1}", []).append(uid)
    manifest = {"nodes": nodes, "parent_map": parents, "child_map": children}
    analyzer = Analyzer(manifest, compiled, "duckdb", Path("."))
    up, problems = analyzer.upstream(f"model.p.m{n - 1}", "x")
    assert problems == [] and len(up) == n - 1
    assert {e.kind for e in up} == {"transformed"}
    down, _ = analyzer.downstream("model.p.m0", "x")
    assert len(down) == n - 1 and down[-1].child == f"model.p.m{n - 1}"


def test_a_transformation_behind_a_cte_and_the_keys_of_each_scope() -> None:
    """The core alone: `renamed.amount AS amount` hides `amount_cents / 100` in a CTE; the edge shows
    it as written, and the keys of the CTE and the outer query are edges of their own."""
    nodes = {
        f"model.p.{n}": {"resource_type": "model", "name": n, "database": "db", "schema": "s", "alias": n}
        for n in ("pay", "orders", "m")
    }
    compiled = {
        "model.p.pay": "select 1 as order_id, 250 as amount_cents, 'x' as status",
        "model.p.orders": "select 1 as order_id, 7 as customer_id",
        "model.p.m": (
            "-- depends_on: db.s.pay\nwith renamed as (\n  select order_id,\n"
            "    case when status = 'x' then amount_cents / 100 end::numeric as amount\n"
            '  from "db"."s"."pay" where status <> \'void\'\n)\n'
            "select o.customer_id, sum(renamed.amount) as amount\n"
            'from renamed join "db"."s"."orders" as o using (order_id)\ngroup by 1'
        ),
    }
    parents = {"model.p.m": ["model.p.pay", "model.p.orders"]}
    analyzer = Analyzer({"nodes": nodes, "parent_map": parents}, compiled, "duckdb", Path("."))
    up, problems = analyzer.upstream("model.p.m", "amount")
    assert problems == []
    by = {(e.parent.rsplit(".", 1)[-1], e.parent_column, e.kind): e.expression for e in up}
    assert by[("pay", "amount_cents", "aggregated")] == (
        "sum(renamed.amount) <- renamed.amount = case when status = 'x' then amount_cents / 100 end::numeric"
    )
    assert by[("pay", "status", "filter")] == "status <> 'void'"  # the CTE's own filter
    assert ("pay", "order_id", "join") in by and ("orders", "order_id", "join") in by
    assert by[("orders", "customer_id", "group-by")] == "o.customer_id"
    # The keys are not followed further up, and a column outside the path has no CTE filter.
    up, _ = analyzer.upstream("model.p.m", "customer_id")
    assert {(e.parent_column, e.kind) for e in up} == {
        ("customer_id", "pass-through"),
        ("order_id", "join"),
        ("customer_id", "group-by"),
    } | {("order_id", "join")}


async def test_a_column_a_child_still_reads_under_its_old_name_is_said(tmp_path: Path) -> None:
    """stg_payments.amount renamed: customer_orders reads `amount` unqualified from it, which sqlglot
    resolves without error; the downstream lineage says the read will fail at run."""
    root = copy_shop(tmp_path)
    replace(
        root / "models" / "staging" / "stg_payments.sql",
        "{{ cents_to_dollars('amount_cents') }} as amount",
        "{{ cents_to_dollars('amount_cents') }} as payment_amount",
    )
    async with inmemory(tmp_path, env=duckdb_env(root, tmp_path / "warehouse.duckdb")) as client:
        r = await call(client, "dbt_lineage", node="stg_payments", column="payment_amount", direction="down")
        lineage = r.structured_content["column_lineage"]
        assert lineage["downstream"] == []
        gone = (
            "customer_orders reads stg_payments.amount, which stg_payments no longer has: it will fail at run"
        )
        assert gone in lineage["unresolved"]
