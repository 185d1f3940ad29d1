"""The PostgreSQL doctor through the in-memory MCP client, on the suite's real PostgreSQL.

Four databases of the suite's cluster (tests/doctorsetup.py): a workload with known missing
indexes (pg_stat_statements and hypopg installed), one with planted problems, a clean one, and a
bare one without either extension. A plain role (no superuser, no pg_read_all_stats) on a
`read_only` connection proves every call works there or says what it cannot see.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

import secret_scan
from doctorsetup import MISSING, PLANTED, SERVED, make_clean, make_sick, make_workload, run_workload
from harness import call, call_error, inmemory, text_of
from namedconns import create_databases, db_url, drop_databases, scalar, toml_url, write_connections
from pgcluster import Cluster

pytestmark = pytest.mark.anyio

WORK, SICK, CLEAN, BARE = "dp_doc_work", "dp_doc_sick", "dp_doc_clean", "dp_doc_bare"
READER = "dp_doc_reader"
# In the workload and the bare database: ~48% 'completed', amounts > 0 but 1 in 25, status NULL in
# 1 row of 200; a payload, so the table is large enough for a parallel scan (> 8 MB).
SALES = """
create table sales (id int, status text, amount numeric not null, payload text);
insert into sales select g,
  case when g % 200 = 0 then null when g % 100 < 50 then 'completed' else 'open' end,
  case when g % 25 = 0 then 0 else g % 500 + 1 end, md5(g::text) || md5((g + 1)::text)
from generate_series(1, 200000) g;
analyze sales;
"""
READER_PW = "rd-" + secrets.token_hex(8)
secret_scan.register_secret(READER_PW)  # no answer or log of the session may show it


@pytest.fixture(scope="module")
def dbs(pg: Cluster) -> Iterator[Cluster]:
    create_databases(pg, {WORK: "select 1", SICK: "select 1", CLEAN: "select 1", BARE: "select 1"})
    with psycopg.connect(db_url(pg, WORK), autocommit=True) as conn:
        make_workload(conn, rows=100_000)
        conn.execute(SALES)
        conn.execute("select pg_stat_statements_reset()")
        run_workload(conn)
        conn.execute("update orders set amount = amount where customer_id = 77")  # planned, never run
        conn.execute(
            f"drop role if exists {READER}; create role {READER} login password '{READER_PW}'; "
            f"grant select on all tables in schema public to {READER}; "
            "create table hidden (x int); "  # after the grant: the reader may not read it
            # A catalogue view this role may not read: its check must say so, the others go on.
            "revoke select on pg_catalog.pg_sequences from public"
        )
    for db, make in ((SICK, make_sick), (CLEAN, make_clean)):
        with psycopg.connect(db_url(pg, db), autocommit=True) as conn:
            make(conn)
    with psycopg.connect(db_url(pg, BARE), autocommit=True) as conn:
        conn.execute(
            "create table t (id int, v int); insert into t select g, g from generate_series(1, 5000) g; "
            "create function bump() returns int language sql volatile as 'select 1'"
        )
        conn.execute(SALES)
    yield pg
    drop_databases(pg, [WORK, SICK, CLEAN, BARE])
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f"drop role if exists {READER}")


def _connections(pg: Cluster) -> str:
    reader = toml_url(pg, WORK, "RD_PASSWORD").replace(f"{pg.user}:", f"{READER}:", 1)
    return (
        "".join(
            f'[connections.{name}]\nurl = "{toml_url(pg, db)}"\n\n'
            for name, db in (("work", WORK), ("sick", SICK), ("clean", CLEAN), ("bare", BARE))
        )
        + f'[connections.reader]\nurl = "{reader}"\nread_only = true\n'
    )


def _env(pg: Cluster, tmp: Path) -> dict[str, str]:
    return {"HOME": str(tmp), "WH_PASSWORD": pg.password, "RD_PASSWORD": READER_PW}


def _indexes(pg: Cluster, db: str) -> int:
    return int(scalar(pg, db, "select count(*) from pg_indexes where schemaname = 'public'"))  # type: ignore[arg-type]


async def test_top_queries_and_checked_advice_then_built_and_measured(
    dbs: Cluster, project: Path, tmp_path: Path
) -> None:
    write_connections(project, _connections(dbs))
    before = _indexes(dbs, WORK)
    async with inmemory(project, _env(dbs, tmp_path)) as client:
        top = await call(client, "pg_top_queries", connection="work")
        data = top.structured_content
        assert data["data_ref"].startswith("top_queries") and data["rows"] >= len(MISSING) + len(SERVED)
        queries = [row["query"] for row in data["preview"]]
        assert any("customer_id = $1" in q for q in queries), queries
        assert {"calls", "total_ms", "mean_ms", "rows", "shared_blks_read"} <= {
            c["name"] for c in data["columns"]
        }
        stored = pa.ipc.open_file(project / ".data-platform" / f"{data['data_ref']}.arrow").read_all()
        texts = stored.column("query").to_pylist()
        assert any("create role" in q and "password '***'" in q for q in texts)  # kept verbatim by pgss
        assert not any(READER_PW in q for q in texts)

        # The workload: each known missing index found, checked by the planner, nothing for served queries.
        workload = await call(client, "pg_index_advice", connection="work")
        advised = workload.structured_content["advised"]
        assert workload.structured_content["hypopg"]
        for _sql, table, column in MISSING:
            hit = [
                a for a in advised if a["table"] == f'"public"."{table}"' and a["columns"][0] == f'"{column}"'
            ]
            assert hit, (table, column, text_of(workload))
            assert hit[0]["verified"] and hit[0]["size_bytes"] > 0
            assert all(h["cost_after"] * 2 <= h["cost_before"] for h in hit[0]["helps"])
        helped = [h["query"] for a in advised for h in a["helps"]]
        assert any(q.startswith("update orders") for q in helped), helped  # EXPLAIN in a read-only session
        assert not any("where id = $1" in q for q in helped), helped
        served = [q for q in workload.structured_content["looked"] if "where id = $1" in q["query"]]
        assert served and all("index" in q["verdict"] for q in served)
        assert _indexes(dbs, WORK) == before  # advice creates nothing

        # One query: advised, then built with pg_execute and measured faster.
        sql = MISSING[0][0]
        one = await call(client, "pg_index_advice", sql=sql, connection="work")
        (a,) = one.structured_content["advised"]
        assert a["create"].startswith("CREATE INDEX CONCURRENTLY") and '"customer_id"' in a["create"]
        assert "CREATE INDEX CONCURRENTLY" in text_of(one) and "undo: DROP INDEX CONCURRENTLY" in text_of(one)
        built = await call(client, "pg_execute", sql=a["create"], measure=sql, connection="work")
        m = built.structured_content
        assert "Seq Scan" in m["before"]["scans"] and "Index" in m["after"]["scans"]
        assert m["after"]["ms"] < m["before"]["ms"], m
        assert _indexes(dbs, WORK) == before + 1
        # Now served: no advice for it any more.
        again = await call(client, "pg_index_advice", sql=sql, connection="work")
        assert again.structured_content["advised"] == []
        await call(client, "pg_execute", sql=a["drop"], connection="work")
    assert _indexes(dbs, WORK) == before


async def test_health_finds_each_planted_problem_and_names_the_fix(
    dbs: Cluster, project: Path, tmp_path: Path
) -> None:
    write_connections(project, _connections(dbs))
    async with inmemory(project, _env(dbs, tmp_path)) as client:
        sick = await call(client, "pg_health", connection="sick")
        checks = {c["name"]: c for c in sick.structured_content["checks"]}
        for check, what, fix in PLANTED:
            found = [f for f in checks[check]["findings"] if f["what"] == what]
            assert found and fix in found[0]["fix"], (check, checks[check])
            assert checks[check]["status"] == "problem"
        overlap = [
            f for f in checks["duplicate indexes"]["findings"] if f["what"] == '"public"."visits_account"'
        ]
        assert (
            overlap
            and "is a prefix of" in overlap[0]["detail"]
            and "visits_account_at" in overlap[0]["detail"]
        )
        (invalid,) = checks["invalid indexes"]["findings"]
        assert "CREATE UNIQUE INDEX CONCURRENTLY paid_once ON public.payments" in invalid["fix"]
        text = text_of(sick)
        assert text.startswith(f"Health of {SICK}: 4 problem(s)")
        clean = await call(client, "pg_health", connection="clean")
        bad = [c for c in clean.structured_content["checks"] if c["status"] != "ok"]
        assert bad == [], bad
        assert "0 problem(s), 0 warning(s)" in text_of(clean)
        # A small table never analysed is no warning, but "none" must not read as "all analysed".
        tiny = "create table tiny_unanalysed as select 1 as x"
        await call(client, "pg_execute", sql=tiny, connection="clean")
        try:
            again = await call(client, "pg_health", connection="clean")
            (never,) = [c for c in again.structured_content["checks"] if c["name"] == "never analysed"]
            assert never["status"] == "ok" and "smaller table(s) never analysed" in never["summary"], never
        finally:
            await call(client, "pg_execute", sql="drop table tiny_unanalysed", connection="clean")


async def test_read_only_plain_role_works_or_says_what_it_cannot_see(
    dbs: Cluster, project: Path, tmp_path: Path
) -> None:
    write_connections(project, _connections(dbs))
    async with inmemory(project, _env(dbs, tmp_path)) as client:
        top = await call(client, "pg_top_queries", connection="reader", name="reader_top")
        assert "pg_read_all_stats" in (top.structured_content["note"] or "")
        assert top.structured_content["data_ref"] == "reader_top"  # every tool that makes a ref takes name
        again = await call_error(client, "pg_top_queries", connection="reader", name="reader_top")
        assert "already exists" in again and "overwrite" in again
        await call(client, "pg_top_queries", connection="reader", name="reader_top", overwrite=True)
        advice = await call(client, "pg_index_advice", sql=MISSING[2][0], connection="reader")
        (a,) = advice.structured_content["advised"]
        assert a["verified"] and '"device_id"' in a["create"]  # hypopg works in a read-only session
        param = await call(
            client, "pg_index_advice", sql="select * from events where device_id = $1", connection="reader"
        )
        assert '"device_id"' in param.structured_content["advised"][0]["create"]  # a generic plan
        err = await call_error(
            client, "pg_index_advice", sql="select * from nowhere where x = 1", connection="reader"
        )
        assert 'relation "nowhere" does not exist' in err
        err = await call_error(
            client, "pg_index_advice", sql="select * from hidden where x = 1", connection="reader"
        )
        assert "permission denied for table hidden" in err and "SELECT" in err
        health = await call(client, "pg_health", connection="reader")
        checks = {c["name"]: c for c in health.structured_content["checks"]}
        assert checks["sequences"]["status"] == "unavailable"
        assert "permission denied for view pg_sequences" in checks["sequences"]["summary"]
        assert all(c["status"] == "ok" for name, c in checks.items() if name != "sequences"), checks
        assert "1 not visible to this role" in text_of(health)
        err = await call_error(
            client, "pg_execute", sql=a["create"], measure=MISSING[2][0], connection="reader"
        )
        assert "read-only" in err
    assert scalar(dbs, WORK, "select count(*) from pg_indexes where indexname like 'events_device%'") == 0


async def test_without_the_extensions_it_says_how_to_enable_them(
    dbs: Cluster, project: Path, tmp_path: Path
) -> None:
    write_connections(project, _connections(dbs))
    async with inmemory(project, _env(dbs, tmp_path)) as client:
        err = await call_error(client, "pg_top_queries", connection="bare")
        assert "shared_preload_libraries" in err and "CREATE EXTENSION pg_stat_statements" in err
        advice = await call(client, "pg_index_advice", sql="select * from t where v = 5", connection="bare")
        data = advice.structured_content
        assert data["hypopg"] is None and not data["advised"][0]["verified"]
        assert "UNVERIFIED" in text_of(advice) and "CREATE EXTENSION hypopg" in text_of(advice)
        err = await call_error(client, "pg_index_advice", connection="bare")  # the workload needs pgss
        assert "pg_stat_statements" in err
        err = await call_error(client, "pg_index_advice", sql="delete from t", connection="bare")
        assert "refused" in err or "query" in err
        err = await call_error(
            client, "pg_execute", sql="select 1", measure="delete from t", connection="bare"
        )
        assert "refused" in err
        assert scalar(dbs, BARE, "select count(*) from t") == 5000


WIDE = "select * from sales where status = 'completed' and amount > 0"  # keeps ~47% of the rows


async def test_unchecked_advice_leaves_out_filters_keeping_much_of_the_table(
    dbs: Cluster, project: Path, tmp_path: Path
) -> None:
    write_connections(project, _connections(dbs))
    async with inmemory(project, _env(dbs, tmp_path)) as client:
        # Without hypopg: a filter keeping ~47% of the table gets no index (the planner would scan).
        kept = {WIDE: "~4", WIDE.replace("*", "count(*)"): "~4", WIDE.replace("*", "id") + " limit 10": "~4"}
        kept["select id from sales where status is not null"] = "~"  # ~99.5%: selective only when rare
        # A conjunct the index would not serve (LIKE '%...%') is not counted as the index's own.
        kept[WIDE + " and payload like '%abc%'"] = "~4"
        for sql, share in kept.items():  # count(*) is a parallel scan: its rows are per process
            wide = await call(client, "pg_index_advice", sql=sql, connection="bare")
            (q,) = wide.structured_content["looked"]
            assert wide.structured_content["advised"] == [], sql
            assert f"the filter keeps {share}" in q["verdict"], q
            assert "of sales's rows (planner's estimate): an index would not be used" in q["verdict"], q
        # With hypopg the wide filter is refused by the planner itself.
        refused = await call(client, "pg_index_advice", sql=WIDE, connection="work")
        assert refused.structured_content["advised"] == []
        assert "no index helps" in refused.structured_content["looked"][0]["verdict"]


async def test_null_tests_are_indexable_checked_or_not(dbs: Cluster, project: Path, tmp_path: Path) -> None:
    write_connections(project, _connections(dbs))
    async with inmemory(project, _env(dbs, tmp_path)) as client:
        null = "select status from sales where status is null"  # 0.5% of the rows
        bare = await call(client, "pg_index_advice", sql=null, connection="bare")
        (a,) = bare.structured_content["advised"]
        assert a["columns"] == ['"status"'] and not a["verified"]
        checked = await call(client, "pg_index_advice", sql=null, connection="work")
        (a,) = checked.structured_content["advised"]
        (h,) = a["helps"]
        assert a["columns"] == ['"status"'] and a["verified"] and h["cost_before"] >= 2 * h["cost_after"]
    assert _indexes(dbs, BARE) == 0


async def test_unchecked_advice_says_what_was_checked_and_how_to_create_hypopg(
    dbs: Cluster, project: Path, tmp_path: Path
) -> None:
    write_connections(project, _connections(dbs))
    async with inmemory(project, _env(dbs, tmp_path)) as client:
        bare = text_of(
            await call(client, "pg_index_advice", sql="select * from t where v = 5", connection="bare")
        )
        assert "proposed for 1 statement(s), UNVERIFIED: without hypopg the planner was not asked" in bare
        assert "kept only" not in bare  # no claim of a cost check that did not happen
        # The package is on this server, only not created in the database: say that, not "install".
        assert "available on this server but not created" in bare and "apt install" not in bare
        work = text_of(
            await call(client, "pg_index_advice", sql="select * from sales where id = 5", connection="work")
        )
        assert "checked with hypopg" in work and "kept only when the planner's estimated cost drops" in work


async def test_health_names_a_disabled_autovacuum_and_who_vacuumed_last(
    dbs: Cluster, project: Path, tmp_path: Path
) -> None:
    with psycopg.connect(db_url(dbs, SICK), autocommit=True) as conn:
        conn.execute(
            "create table churn_manual (id int primary key, v text); "
            "insert into churn_manual select g, md5(g::text) from generate_series(1, 40000) g"
        )
        conn.execute("select pg_stat_force_next_flush()")  # the inserted rows counted before VACUUM
        conn.execute("vacuum churn_manual")  # a manual vacuum, before autovacuum is turned off
        conn.execute(
            "alter table churn_manual set (autovacuum_enabled = off); "
            "delete from churn_manual where id % 4 = 0; select pg_stat_force_next_flush()"
        )
    write_connections(project, _connections(dbs))
    try:
        async with inmemory(project, _env(dbs, tmp_path)) as client:
            health = await call(client, "pg_health", connection="sick")
        (check,) = [c for c in health.structured_content["checks"] if c["name"] == "dead rows and vacuum"]
        found = {f["what"]: f for f in check["findings"]}
        for table, when in (("churn_manual", "(manual)"), ("churn", "never vacuumed")):
            f = found[f'"public"."{table}"']
            assert "autovacuum is disabled on this table" in f["detail"] and when in f["detail"], f
            assert f["fix"].startswith(f'ALTER TABLE "public"."{table}" RESET (autovacuum_enabled)'), f
            assert "autovacuum_vacuum_scale_factor" not in f["fix"]
    finally:
        with psycopg.connect(db_url(dbs, SICK), autocommit=True) as conn:
            conn.execute("drop table churn_manual")


async def test_health_names_a_blocked_query_and_its_blocker(
    dbs: Cluster, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real lock wait: the check names the waiting pid, the blocker's pid and query, and the fix.

    The waiting threshold (30 s in use) is set to 0 so the test does not wait."""
    from data_platform.postgres.doctor import checks_server

    monkeypatch.setattr(checks_server, "BLOCKED_S", 0)
    write_connections(project, _connections(dbs))
    url = db_url(dbs, BARE)
    with psycopg.connect(url) as holder:
        holder.execute("lock table t in access exclusive mode")
        blocker = holder.info.backend_pid
        waiting = threading.Thread(target=_wait_on_t, args=(url,))
        waiting.start()
        try:
            for _ in range(100):
                if scalar(dbs, BARE, "select count(*) from pg_stat_activity where wait_event_type = 'Lock'"):
                    break
                time.sleep(0.05)
            async with inmemory(project, _env(dbs, tmp_path)) as client:
                health = await call(client, "pg_health", connection="bare")
        finally:
            holder.rollback()
            waiting.join()
    (check,) = [c for c in health.structured_content["checks"] if c["name"] == "long and blocked queries"]
    assert check["status"] == "problem", check
    (found,) = check["findings"]
    assert f"pid {blocker}" in found["detail"] and "lock table t" in found["detail"]
    assert "select count(*) from t" in found["detail"]
    assert f"pg_cancel_backend({blocker})" in found["fix"]


def _wait_on_t(url: str) -> None:
    with psycopg.connect(url, options="-c statement_timeout=20000") as conn:
        conn.execute("select count(*) from t").fetchone()


async def test_odd_arguments_answer_errors_that_say_what_works(
    dbs: Cluster, project: Path, tmp_path: Path
) -> None:
    write_connections(project, _connections(dbs))
    async with inmemory(project, _env(dbs, tmp_path)) as client:
        cases = [
            ("pg_index_advice", {"sql": "", "connection": "bare"}, "empty"),
            ("pg_index_advice", {"sql": "select 1; drop table t", "connection": "bare"}, "2 statements"),
            ("pg_index_advice", {"sql": "select * from t where nope = 1", "connection": "bare"}, "nope"),
            ("pg_index_advice", {"sql": "explain select 1", "connection": "bare"}, "not EXPLAIN"),
            (
                "pg_index_advice",
                {"sql": "select * from t where v = nextval('s')", "connection": "bare"},
                "nextval",
            ),
            (
                "pg_index_advice",
                {"sql": "select * from t where v = bump()", "connection": "bare"},
                "VOLATILE",
            ),
            ("pg_top_queries", {"by": "calls", "connection": "work"}, "connection"),
            ("pg_health", {"connection": "nope"}, "No connection named 'nope'"),
            ("pg_execute", {"sql": "select 1", "measure": "", "connection": "bare"}, "empty"),
            (
                "pg_execute",
                {"sql": "select 1", "measure": "select pg_sleep(5)", "connection": "bare"},
                "pg_sleep",
            ),
        ]
        for tool, args, expected in cases:
            err = await call_error(client, tool, **args)
            assert expected in err and "Internal error" not in err, (tool, args, err)
        # `query=` is read as `sql` (the argument boundary's synonyms), and said so.
        ok = await call(client, "pg_index_advice", query="select * from t where v = 5", connection="bare")
        assert ok.structured_content["advised"]
