"""Candidate indexes read from plans (no database: the plans are PostgreSQL's JSON, as EXPLAIN gives it)."""

from __future__ import annotations

from data_platform.postgres.doctor import plans
from data_platform.postgres.doctor.common import mask_passwords


def _scan(filter_: str | None, alias: str = "o", table: str = "orders") -> dict:
    node = {"Node Type": "Seq Scan", "Relation Name": table, "Schema": "public", "Alias": alias}
    if filter_:
        node["Filter"] = filter_
    return node


def test_filter_equality_first_then_one_range() -> None:
    plan = _scan("((o.created_at > $2) AND (o.customer_id = $1) AND ((o.status)::text = 'paid'::text))")
    cands = plans.candidates(plan)
    assert cands[0].columns == ('"customer_id"', '"status"', '"created_at"')
    assert cands[0].names == ("customer_id", "status", "created_at")


def test_in_lists_any_and_casts_are_equality() -> None:
    (c,) = plans.candidates(_scan("(o.region = ANY ('{EU,US}'::text[]))"))
    assert c.columns == ('"region"',)
    (c,) = plans.candidates(_scan("(o.id = ANY (ARRAY[$1, $2]))"))
    assert c.columns == ('"id"',)


def test_null_tests_are_indexable_and_a_parallel_scan_counts_every_process() -> None:
    (c,) = plans.candidates(_scan("(o.status IS NULL)"))
    assert c.columns == ('"status"',) and c.why == "filter"
    (c,) = plans.candidates(_scan("((o.note IS NOT NULL) AND (o.region = 'EU'::text))"))
    assert c.columns == ('"region"', '"note"')  # IS NOT NULL searches a range, after the equalities
    scan = {**_scan("(o.status IS NULL)"), "Plan Rows": 1000, "Parallel Aware": True}
    (c,) = plans.candidates({"Node Type": "Gather", "Workers Planned": 2, "Plans": [scan]})
    assert c.rows == 2400  # each of 2 workers and the leader (0.4 of one) reads its share


def test_a_filter_with_conjuncts_no_index_serves_gets_its_own_query() -> None:
    (c,) = plans.candidates(_scan("((o.status = 'paid'::text) AND (o.note ~~ '%x%'::text))"))
    assert c.own == 'select 1 from "public"."orders" as "o" where (o.status = CAST(\'paid\' AS text))'
    (c,) = plans.candidates(_scan("((o.status = 'paid'::text) AND (o.amount > 5))"))
    assert c.own is None  # the index serves the whole filter: the scan's rows are its share


def test_nothing_to_index() -> None:
    assert plans.candidates(_scan(None)) == []
    assert plans.candidates(_scan("((o.a = 1) OR (o.b = 2))")) == []  # OR: not one b-tree
    assert plans.candidates(_scan("(lower(o.email) = 'x'::text)")) == []  # an expression
    assert plans.candidates(_scan("(o.a = o.b)")) == []  # column against column
    index_scan = {"Node Type": "Index Scan", "Relation Name": "orders", "Index Cond": "(id = 5)"}
    assert plans.candidates(index_scan) == []  # already served


def test_join_key_and_sort_key() -> None:
    join = {
        "Node Type": "Hash Join",
        "Hash Cond": "(o.customer_id = c.id)",
        "Plans": [
            _scan(None),
            {"Node Type": "Hash", "Plans": [{"Node Type": "Index Scan", "Relation Name": "c"}]},
        ],
    }
    (c,) = plans.candidates(join)
    assert (c.table, c.columns, c.why) == ("orders", ('"customer_id"',), "join")
    top_n = {
        "Node Type": "Limit",
        "Plans": [
            {"Node Type": "Sort", "Sort Key": ["o.created_at DESC"], "Plans": [_scan("(o.status = $1)")]}
        ],
    }
    found = {c.columns for c in plans.candidates(top_n)}
    assert ('"status"', '"created_at" DESC') in found


def test_passwords_masked() -> None:
    assert mask_passwords("CREATE ROLE x LOGIN PASSWORD 'se''cret'") == "CREATE ROLE x LOGIN PASSWORD '***'"
    assert mask_passwords("alter user x with password $$p$$") == "alter user x with password '***'"
    assert mask_passwords("select password from users") == "select password from users"
