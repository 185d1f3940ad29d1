"""`diff` through the in-memory MCP client: refs, pushed down to PostgreSQL, and across connections.

Every count is checked against one computed independently (plain SQL in PostgreSQL, or pyarrow).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from data_platform.diffing.service import resolve_side
from data_platform.registry import Registry
from harness import call, call_error, inmemory, text_of
from namedconns import (
    DB_A,
    DB_B,
    create_databases,
    db_url,
    drop_databases,
    scalar,
    toml_url,
    write_connections,
)
from pgcluster import Cluster

pytestmark = pytest.mark.anyio

N = 20_000
# orders_v2: a changed copy of orders (deleted, added, changed amounts and statuses, a new column).
SETUP_A = f"""
create table orders (id int primary key, customer int, amount numeric(12,2), status text, note json);
insert into orders select g, g % 97, (g * 7 % 1000) / 10.0, case when g % 3 = 0 then 'paid' else 'open' end,
  json_build_object('g', g) from generate_series(1, {N}) g;
create table orders_v2 as select * from orders;
delete from orders_v2 where id % 500 = 0;
insert into orders_v2 select g, 1, 1.00, 'new', null from generate_series({N} + 1, {N} + 25) g;
update orders_v2 set amount = amount + 0.01 where id % 250 = 1;
update orders_v2 set amount = amount + 5 where id % 1000 = 2;
update orders_v2 set status = null where id % 700 = 3;
alter table orders_v2 add column extra int;
alter table orders_v2 alter column customer type bigint;
create table dup (id int, v int);
insert into dup values (1, 1), (1, 2), (2, 2), (3, 3), (3, 3), (3, 4), (4, 4);
create table dup2 (id int, v int);
insert into dup2 values (1, 1), (2, 5), (2, 6), (4, 4), (5, 5);
analyze;
"""
SETUP_B = f"""
create table orders (id int primary key, customer int, amount numeric(12,2), status text);
insert into orders select g, g % 97, (g * 7 % 1000) / 10.0, case when g % 3 = 0 then 'paid' else 'open' end
  from generate_series(1, {N}) g where g % 400 <> 0;
update orders set amount = amount * 2 where id % 900 = 5;
"""


@pytest.fixture(scope="module")
def dbs(pg: Cluster) -> Iterator[Cluster]:
    create_databases(pg, {DB_A: SETUP_A, DB_B: SETUP_B})
    yield pg
    drop_databases(pg, [DB_A, DB_B])


def _setup(pg: Cluster, project: Path, tmp: Path) -> dict[str, str]:
    write_connections(
        project,
        f'[connections.prod]\nurl = "{toml_url(pg, DB_A)}"\ndescription = "A"\n\n'
        f'[connections.dev]\nurl = "{toml_url(pg, DB_B)}"\nread_only = true\n',
    )
    return {"HOME": str(tmp), "WH_PASSWORD": pg.password}


def _sql(pg: Cluster, db: str, sql: str) -> int:
    return int(scalar(pg, db, sql))  # type: ignore[arg-type]


# -- fast: two small refs ---------------------------------------------------------------------------
LEFT = pa.table(
    {"id": [1, 2, 3, 4, 5], "amount": [1.0, 2.0, 3.0, 4.0, 5.0], "tag": ["a", "b", "c", "d", "e"]}
)
RIGHT = pa.table(
    {"id": [2, 3, 4, 5, 6], "amount": [2.0, 3.5, 4.0, 5.001, 6.0], "tag": ["b", "c", "x", "e", "f"]}
)


async def test_diff_two_refs(project: Path, tmp_path: Path) -> None:
    reg = Registry(project / ".data-platform")
    reg.put(LEFT, name="before", source="test")
    reg.put(RIGHT, name="after", source="test")
    reg.close()
    async with inmemory(project, {"HOME": str(tmp_path)}) as client:
        r = await call(client, "diff", left="before", right="after", on="id", tolerance=0.01)
        s = r.structured_content
        # Independently: keys only on one side, and changed rows among the shared keys.
        lk, rk = set(LEFT["id"].to_pylist()), set(RIGHT["id"].to_pylist())
        lrows = {x["id"]: x for x in LEFT.to_pylist()}
        changed = [
            x["id"]
            for x in RIGHT.to_pylist()
            if x["id"] in lk
            and (abs(x["amount"] - lrows[x["id"]]["amount"]) > 0.01 or x["tag"] != lrows[x["id"]]["tag"])
        ]
        assert (s["only_left"], s["only_right"]) == (len(lk - rk), len(rk - lk)) == (1, 1)
        assert s["changed"] == len(changed) == 2 and s["same"] == len(lk & rk) - len(changed)
        assert {c["name"]: c["changed"] for c in s["columns"]} == {"amount": 1, "tag": 1}
        text = text_of(r)
        assert text.splitlines()[1] == (  # after "Arguments: read `on` as `key`."
            "2 rows match; 1 only in before; 1 only in after; 2 changed: amount (1, max diff 0.5), tag (1)"
        )
        assert "computed in DuckDB" in text
        # Silence would read as unknown (an agent queried information_schema to learn it): said in words.
        assert (
            "Columns and types match: all 3 columns have the same names and types in before and after."
            in text
        )
        assert s["columns_compared"] == 3
        narrow = await call(
            client, "sql", query="SELECT CAST(id AS INTEGER) AS id, amount FROM before", name="n"
        )
        assert narrow.structured_content["columns"][0]["type"] == "int32"
        other = text_of(await call(client, "diff", left="n", right="after", key=["id"]))
        assert (
            "Columns only in after (not compared): tag" in other and "Types differ: id int32 → int64" in other
        )
        assert "Columns and types match" not in other
        changed_ref = s["examples"]["changed"]
        rows = (await call(client, "head", data_ref=changed_ref)).structured_content["preview"]
        assert [x["id"] for x in rows] == sorted(changed)
        assert rows[0]["amount_left"] == 3.0 and rows[0]["amount_right"] == 3.5
        err = await call_error(client, "diff", left="before", right="nope")
        assert "nope" in err and "before" in err  # the refs that exist are named


def test_a_side_is_a_query_a_ref_or_a_table(tmp_path: Path) -> None:
    """`schema.table` is a table even on the default connection (it can be no ref's name)."""
    reg = Registry(tmp_path / "reg")
    reg.put(pa.table({"id": [1]}), name="orders", source="test")
    kinds = {
        text: (side.kind, side.connection)
        for text in (
            "public.orders",
            "orders",
            "orders_v2",
            "select * from orders",
            "WITH t AS (select 1) select * from t",
        )
        for side in [resolve_side(text, None, False, reg)]
    }
    assert kinds == {
        "public.orders": ("table", None),
        "orders": ("ref", None),
        "orders_v2": ("table", None),
        "select * from orders": ("query", None),
        "WITH t AS (select 1) select * from t": ("query", None),
    }
    assert resolve_side("orders", "prod", True, reg).kind == "table"  # a connection named: the database's
    reg.close()


# -- slow: pushed down, across connections, keyless, duplicates ---------------------------------------
def _seq_reads(pg: Cluster, tables: list[str]) -> dict[str, int]:
    with psycopg.connect(db_url(pg, DB_A), autocommit=True) as conn:
        conn.execute("select pg_stat_clear_snapshot()")
        rows = conn.execute(
            "select relname, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) from pg_stat_user_tables "
            "where relname = any(%s)",
            (tables,),
        ).fetchall()
    return dict(rows)


@pytest.mark.slow
async def test_pushdown_in_one_database(dbs: Cluster, project: Path, tmp_path: Path) -> None:
    env = _setup(dbs, project, tmp_path)
    before = _seq_reads(dbs, ["orders", "orders_v2"])
    async with inmemory(project, env) as client:
        r = await call(client, "diff", left="public.orders", right="orders_v2", key="id", connection="prod")
    s = r.structured_content
    # Independently, in PostgreSQL.
    q = lambda sql: _sql(dbs, DB_A, sql)  # noqa: E731
    only_left = q(
        "select count(*) from orders o where not exists (select 1 from orders_v2 v where v.id = o.id)"
    )
    only_right = q(
        "select count(*) from orders_v2 v where not exists (select 1 from orders o where v.id = o.id)"
    )
    amount = q("select count(*) from orders o join orders_v2 v using (id) where o.amount <> v.amount")
    status = q(
        "select count(*) from orders o join orders_v2 v using (id) where o.status is distinct from v.status"
    )
    note = q(
        "select count(*) from orders o join orders_v2 v using (id) "
        "where o.note::text is distinct from v.note::text"
    )
    changed = q(
        "select count(*) from orders o join orders_v2 v using (id) where o.amount <> v.amount "
        "or o.status is distinct from v.status or o.customer <> v.customer "
        "or o.note::text is distinct from v.note::text"
    )
    matched = q("select count(*) from orders o join orders_v2 v using (id)")
    assert (s["only_left"], s["only_right"], s["changed"], s["same"]) == (
        only_left,
        only_right,
        changed,
        matched - changed,
    )
    per = {c["name"]: c for c in s["columns"]}
    assert (
        per["amount"]["changed"] == amount
        and per["status"]["changed"] == status
        and per["note"]["changed"] == note
    )
    assert per["amount"]["max_abs_diff"] == pytest.approx(5.0)
    assert s["columns_only_right"] == ["extra"] and s["types_changed"] == [["customer", "integer", "bigint"]]
    assert s["computed"] == "in PostgreSQL (connection prod)"
    text = text_of(r)
    assert text.startswith(
        f"{matched - changed:,} rows match; {only_left} only in public.orders; "
        f"{only_right} only in orders_v2; "
    )
    # The work happened in PostgreSQL: both tables were scanned there in full...
    for _ in range(50):
        after = _seq_reads(dbs, ["orders", "orders_v2"])
        if all(after[t] - before.get(t, 0) >= q(f"select count(*) from {t}") for t in after):
            break
        time.sleep(0.1)
    for t in ("orders", "orders_v2"):
        assert after[t] - before.get(t, 0) >= q(f"select count(*) from {t}")
    # ...and only the capped examples came out: no ref holds more than 100 rows, no scratch folder left.
    reg = Registry(project / ".data-platform")
    infos, _ = reg.list()
    assert {i.name for i in infos} == set(s["examples"].values())
    assert all(i.rows <= 100 for i in infos) and sum(i.rows for i in infos) <= 300
    assert not list((project / ".data-platform").glob(".diff-*"))
    assert reg.info(s["examples"]["only_left"]).rows == only_left
    reg.close()


@pytest.mark.slow
async def test_ref_against_a_table_on_another_connection(dbs: Cluster, project: Path, tmp_path: Path) -> None:
    env = _setup(dbs, project, tmp_path)
    async with inmemory(project, env) as client:
        await call(
            client,
            "pg_query",
            sql="select id, customer, amount, status from orders",
            name="prod_orders",
            connection="prod",
            max_rows=N,
        )
        r = await call(
            client,
            "diff",
            left="prod_orders",
            right="public.orders",
            right_connection="dev",
            primary_key=["id"],
        )
        s = r.structured_content
        # The same table on two connections: named by connection.
        r2 = await call(
            client,
            "diff",
            left="orders",
            right="orders",
            left_connection="prod",
            right_connection="dev",
            key="id",
        )

    # Independently with pyarrow over both tables fetched whole.
    def fetch(db: str) -> dict[int, tuple]:
        with psycopg.connect(db_url(dbs, db)) as conn:
            return {
                row[0]: row[1:] for row in conn.execute("select id, customer, amount, status from orders")
            }

    a, b = fetch(DB_A), fetch(DB_B)
    changed = sum(1 for k in a.keys() & b.keys() if a[k] != b[k])
    assert (s["only_left"], s["only_right"], s["changed"]) == (
        len(a.keys() - b.keys()),
        len(b.keys() - a.keys()),
        changed,
    )
    assert s["same"] == len(a.keys() & b.keys()) - changed
    assert s["computed"] == "in DuckDB (streamed from dev)"
    assert s["types_changed"] == []  # int32 from PostgreSQL vs the same ref: no noise
    s2 = r2.structured_content
    assert (s2["only_left"], s2["only_right"], s2["changed"]) == (
        s["only_left"],
        s["only_right"],
        s["changed"],
    )
    assert s2["computed"] == "in DuckDB (streamed from prod, dev)"
    assert f"\n{s['same']:,} rows match; {s['only_left']} only in prod; " in text_of(
        r2
    )  # after the synonym note
    assert not list((project / ".data-platform").glob(".diff-*"))  # the streamed sides are gone


@pytest.mark.slow
async def test_keyless_and_duplicate_keys(dbs: Cluster, project: Path, tmp_path: Path) -> None:
    env = _setup(dbs, project, tmp_path)
    q = lambda sql: _sql(dbs, DB_A, sql)  # noqa: E731
    async with inmemory(project, env) as client:
        r = await call(client, "diff", left="dup", right="dup2", connection="prod")
        s = r.structured_content
        assert s["key"] == [] and s["only_left"] == q(
            "select count(*) from (select * from dup except all select * from dup2) x"
        )
        assert s["only_right"] == q(
            "select count(*) from (select * from dup2 except all select * from dup) x"
        )
        assert s["same"] == q("select count(*) from (select * from dup intersect all select * from dup2) x")
        assert "only in dup" in text_of(r) and "no key" in text_of(r)

        r = await call(client, "diff", left="dup", right="dup2", key="id", connection="prod")
        s = r.structured_content
        dup_keys = q("select count(*) from (select id from dup group by id having count(*) > 1) x")
        dup_rows = q(
            "select coalesce(sum(n), 0) from (select count(*) n from dup group by id having count(*) > 1) x"
        )
        assert (
            s["duplicate_keys"] == {"left": dup_keys, "right": 1} and s["duplicate_rows"]["left"] == dup_rows
        )
        # Only keys unique on both sides are joined: left keeps 2 and 4, right keeps 1, 4 and 5.
        assert (s["same"], s["changed"], s["only_left"], s["only_right"]) == (1, 0, 1, 2)
        assert "duplicate keys in dup" in text_of(r).splitlines()[0]
        dups = (await call(client, "head", data_ref=s["examples"]["duplicates_left"])).structured_content[
            "preview"
        ]
        assert dups == [{"id": 3, "rows": 3}, {"id": 1, "rows": 2}]

        # A query side, on the same connection: still one SQL run in PostgreSQL.
        r = await call(
            client,
            "diff",
            left="select id, v from dup where id < 3",
            right="dup2",
            on="id",
            connection="prod",
        )
        assert r.structured_content["computed"] == "in PostgreSQL (connection prod)"
        err = await call_error(client, "diff", left="dup", right="dup2", key="nope", connection="prod")
        assert "Key column 'nope'" in err and "id, v" in err


@pytest.mark.slow
async def test_cancel_stops_the_diff_in_postgresql(dbs: Cluster, project: Path, tmp_path: Path) -> None:
    """A cancelled pushed-down diff stops in PostgreSQL at once and leaves no ref behind."""
    from cancelling import GONE_WITHIN, _cancel_at_first_progress, _running, _wait_for

    env = _setup(dbs, project, tmp_path)
    big = "select g as id, g % 7 as v from generate_series(1, 60000000) g"
    async with inmemory(project, env) as client:
        await _cancel_at_first_progress(
            client, "diff", {"left": big, "right": "dup", "key": "id", "connection": "prod"}
        )
        url = db_url(dbs, DB_A)
        await _wait_for(lambda: not _running(url, "60000000"), timeout=GONE_WITHIN)
        assert not (await call(client, "list_data")).structured_content["refs"]
    assert not list((project / ".data-platform").glob(".diff-*"))


def test_rows_only_on_one_side_are_an_anti_join_on_tables_not_yet_analyzed(pg: Cluster) -> None:
    """The examples of rows on one side only were an outer join filtered on the other side's marker.
    PostgreSQL does not read that as an anti-join: on tables without statistics yet (a model dbt just
    built) it chose a nested loop under the LIMIT, and dbt_compare on 1M-row models ran for hours
    (bench_dbt_impact.py). NOT EXISTS is planned as a hashed anti-join, and finds the same rows. The
    changed rows' examples (an inner join under the LIMIT) had the same plan: numbered instead."""
    from data_platform.diffing.sql import POSTGRES, Col, KeyedDiff

    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS dp_anti CASCADE; CREATE SCHEMA dp_anti")
        for name, where in (("a", "g % 1000 <> 0"), ("b", "g % 700 <> 0")):
            conn.execute(  # no statistics: autovacuum off, no ANALYZE
                f"CREATE TABLE dp_anti.{name} WITH (autovacuum_enabled = false) AS "
                f"SELECT g AS id, g * 0.5 AS amount FROM generate_series(1, 200000) g WHERE {where}"
            )
        plan = KeyedDiff(
            "dp_anti.a", "dp_anti.b", [Col("id")], [Col("amount", numeric=True)], dialect=POSTGRES
        )
        try:
            for kind, expected in (("only_left", [700, 1400, 2100]), ("only_right", [1000, 2000, 3000])):
                sql = plan.examples_sql(kind, 3)
                shown = "\n".join(r[0] for r in conn.execute(f"EXPLAIN {sql}").fetchall())
                assert "Anti Join" in shown and "Nested Loop" not in shown, shown
                assert [r[0] for r in conn.execute(sql).fetchall()] == expected
            changed = plan.examples_sql("changed", 3)  # an inner join: hashed too, even under the LIMIT
            shown = "\n".join(r[0] for r in conn.execute(f"EXPLAIN {changed}").fetchall())
            assert "Nested Loop" not in shown, shown
        finally:
            conn.execute("DROP SCHEMA dp_anti CASCADE")
