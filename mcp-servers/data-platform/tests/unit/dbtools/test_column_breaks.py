"""column_breaks on a hand-made manifest and real sqlglot: a child's reads of columns its changed
parent no longer has, whichever way the child writes them, and no break where the child does not."""

from __future__ import annotations

from pathlib import Path

from data_platform.dbtools.column_breaks import breaks
from data_platform.dbtools.columns import Analyzer

TABLES = {"stg_orders": ["order_id", "customer_ref"], "stg_customers": ["customer_id", "name"]}


def _analyzer(child_sql: str) -> Analyzer:
    nodes = {
        f"model.p.{t}": {"resource_type": "model", "name": t, "alias": t, "database": "db", "schema": "s"}
        for t in [*TABLES, "mart"]
    }
    compiled = {f"model.p.{t}": f"select {', '.join(cols)} from db.s.raw_{t}" for t, cols in TABLES.items()}
    compiled["model.p.mart"] = child_sql
    manifest = {
        "nodes": nodes,
        "parent_map": {"model.p.mart": [f"model.p.{t}" for t in TABLES]},
        "child_map": {f"model.p.{t}": ["model.p.mart"] for t in TABLES},
    }
    return Analyzer(manifest, compiled, "postgres", Path("."))


def _found(child_sql: str) -> set[tuple[str, str, str]]:
    return {(b.reader, b.model, b.column) for b in breaks(_analyzer(child_sql), ["model.p.stg_orders"])}


def test_a_renamed_column_read_through_a_star_cte_or_unqualified_is_a_break() -> None:
    through_cte = (
        "with o as (select * from db.s.stg_orders) "
        "select c.name, count(o.order_id) as n from db.s.stg_customers c "
        "left join o on o.customer_id = c.customer_id group by 1"
    )
    assert _found(through_cte) == {("mart", "stg_orders", "customer_id")}
    unqualified = "select order_id, sum(amount) as amount from db.s.stg_orders group by order_id"
    assert _found(unqualified) == {("mart", "stg_orders", "amount")}


def test_columns_of_another_table_or_present_ones_are_no_break() -> None:
    star_join = (
        "select o.* from db.s.stg_orders o join db.s.stg_customers c on c.customer_id = o.customer_ref "
        "where c.name is not null"
    )
    assert _found(star_join) == set()
    bare_other = (
        "select name, order_id from db.s.stg_orders o join db.s.stg_customers c "
        "on c.customer_id = o.customer_ref"
    )
    assert _found(bare_other) == set()
