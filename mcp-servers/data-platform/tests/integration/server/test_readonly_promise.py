"""Every `readOnlyHint` is a tested promise (issue 22): each tool the server labels read-only is
called through the MCP client with ordinary and hostile arguments, and afterwards nothing has
changed outside the registry: the project's files (names, sizes, mtimes; the registry folder
`.data-platform/` excluded), files beside the temp marker, and the database (rows, catalogue,
sequences, settings, write counters).

Driven by the served tool list: a read-only tool without an entry in TRIES fails the test, and
so does an entry for a tool that is no longer read-only, so the table follows the labels.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from doctorsetup import EXTENSIONS
from harness import inmemory, text_of
from pgcluster import Cluster
from sqlattacks import CANARY, CORPUS, DUCKDB_CORPUS, MARK, SETUP, snapshot, stray_files, write_canary

pytestmark = pytest.mark.anyio

SPATIAL = """
create table dp_ro.places (id int primary key, name text, geom geometry(Point, 4326));
insert into dp_ro.places values (1, 'a', 'SRID=4326;POINT(2 48)'), (2, 'b', 'SRID=4326;POINT(13 52)');
"""
EVIL = 'x"; DELETE FROM dp_ro.t; --'
TRAVERSE = "../outside"  # a ref name that would land beside the registry, in the project

# (tool, arguments to try): the first of each is an ordinary call that must succeed; refs `sales`
# and `sales_pq` exist (PREPARE).
TRIES: dict[str, list[dict[str, Any]]] = {
    "read_csv": [
        {"path": "data/sales.csv", "name": "sales_again"},
        {"path": "/etc/passwd"},
        {"path": "../../../../etc/hostname"},
        {"path": "data/sales.csv", "name": TRAVERSE},
        {"path": "data/sales.csv", "name": MARK + "_ref"},
        {"path": "data/sales.csv", "name": "sales", "overwrite": True},
    ],
    "read_json": [{"path": "data/sales.jsonl", "name": "sales_json"}, {"path": "/etc/passwd"}],
    "read_parquet": [{"path": "data/sales.parquet", "name": "sales_pq2"}, {"path": "/proc/self/environ"}],
    "list_data": [{}],
    "list_files": [{"path": "data"}, {"path": "/etc"}, {"path": "../../../.."}],
    "head": [{"data_ref": "sales"}, {"data_ref": TRAVERSE}, {"data_ref": "/etc/passwd"}],
    "tail": [{"data_ref": "sales", "n": 3}, {"data_ref": "../../etc/hostname"}],
    "describe": [{"data_ref": "sales"}, {"data_ref": "sales", "columns": [EVIL]}],
    "profile": [{"data_ref": "sales"}, {"data_ref": "../.data-platform/sales"}],
    "filter": [
        {"data_ref": "sales", "where": "amount > 10"},
        {"data_ref": "sales", "where": "__import__('os').system('touch " + MARK + "_filter')"},
        {"data_ref": "sales", "where": f"read_text('{CANARY}') is not null"},
        {"data_ref": "sales", "where": "amount > 0", "name": TRAVERSE},
    ],
    "select": [{"data_ref": "sales", "columns": ["region"]}, {"data_ref": "sales", "columns": [EVIL]}],
    "sort": [{"data_ref": "sales", "by": ["-amount"]}, {"data_ref": "sales", "by": [EVIL]}],
    "sample": [{"data_ref": "sales", "n": 2, "seed": 1}, {"data_ref": "sales", "n": 2, "name": MARK + "_s"}],
    "groupby": [
        {"data_ref": "sales", "by": ["region"], "aggs": {"amount": "sum"}},
        {"data_ref": "sales", "by": ["region"], "aggs": {"amount": "read_text"}},
    ],
    "join": [
        {"left": "sales", "right": "sales_pq", "on": ["id"]},
        {"left": "sales", "right": "sales_pq", "on": [EVIL]},
    ],
    "sql": [
        {"query": "SELECT region, sum(amount) AS total FROM sales GROUP BY region"},
        *({"query": q} for q in DUCKDB_CORPUS[:12]),
        {"query": "SELECT 1 AS x", "name": TRAVERSE},
    ],
    "chart": [
        {"data_ref": "sales", "kind": "bar", "x": "region", "y": "amount"},
        {"data_ref": "sales", "kind": "line", "x": EVIL, "y": "amount"},
    ],
    "diff": [
        {"left": "sales", "right": "sales_pq", "key": ["id"]},
        {"left": "dp_ro.t", "right": "SELECT id, v FROM dp_ro.t", "key": ["id"]},
        {"left": "SELECT * FROM dp_ro.evil_srf()", "right": "dp_ro.t"},
        {"left": "WITH d AS (DELETE FROM dp_ro.t RETURNING *) SELECT * FROM d", "right": "dp_ro.t"},
        {"left": EVIL, "right": "dp_ro.t", "key": ["id"]},
    ],
    "pg_connect": [{}, {"connection": "../../etc/passwd"}],
    "pg_schemas": [{}, {"include_system": True}],
    "pg_tables": [{"schema": "dp_ro"}, {"schema": EVIL}],
    "pg_columns": [
        {"table": "t", "schema": "dp_ro"},
        {"table": EVIL},
        {"table": "dp_ro.t; DROP TABLE dp_ro.t"},
    ],
    "pg_query": [
        {"sql": "SELECT count(*) AS n FROM dp_ro.t"},
        *({"sql": q} for q in CORPUS),
        {"sql": "SELECT 1 AS x", "name": MARK + "_q"},
    ],
    "pg_explain": [
        {"sql": "SELECT * FROM dp_ro.t WHERE id = 1"},
        *({"sql": q, "analyze": True} for q in CORPUS),
        *({"sql": q} for q in CORPUS[:20]),
    ],
    "pg_top_queries": [{}, {"connection": "../../etc/passwd"}],
    "pg_health": [{}, {"connection": EVIL}],
    "pg_index_advice": [
        {"sql": "SELECT * FROM dp_ro.t WHERE v = 30"},
        *({"sql": q} for q in CORPUS),
        {},
    ],
    "st_tables": [{}, {"schema": EVIL}],
    "st_srid": [{"table": "dp_ro.places"}, {"table": EVIL}],
    "st_extent": [{"table": "dp_ro.places"}, {"table": "places", "schema": "dp_ro", "column": EVIL}],
    "st_geometry_type": [{"table": "dp_ro.places"}, {"table": "dp_ro.places; DROP TABLE dp_ro.t"}],
}


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under the project outside the registry: (size, mtime)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if ".data-platform" in rel.parts or not path.is_file():
            continue
        stat = path.stat()
        out[str(rel)] = (stat.st_size, stat.st_mtime_ns)
    return out


def _database(url: str) -> dict[str, Any]:
    """The sentinel objects (sqlattacks.snapshot) and the whole catalogue's write counters."""
    state = snapshot(url)
    with psycopg.connect(url, autocommit=True) as conn:
        state["relations"] = conn.execute(
            "select count(*), string_agg(n.nspname || '.' || c.relname, ',' order by 1) from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace where n.nspname not like 'pg_%' "
            "and n.nspname <> 'information_schema'"
        ).fetchone()
        state["sequences"] = conn.execute(
            "select string_agg(schemaname || '.' || sequencename || '=' || coalesce(last_value, 0), ',' "
            "order by 1) from pg_sequences"
        ).fetchone()
        state["writes"] = conn.execute(
            "select sum(n_tup_ins), sum(n_tup_upd), sum(n_tup_del) from pg_stat_user_tables"
        ).fetchone()
        state["places"] = conn.execute("select count(*), max(id) from dp_ro.places").fetchone()
        state["work_mem"] = conn.execute("select setting from pg_settings where name = 'work_mem'").fetchone()
    return state


@pytest.fixture
def ro_db(pg: Cluster) -> Iterator[Cluster]:
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(SETUP)
        conn.execute(SPATIAL)
        conn.execute(EXTENSIONS)  # the doctor's (the suite's cluster preloads pg_stat_statements)
    write_canary()
    yield pg
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("drop schema if exists dp_ro cascade; drop extension if exists hypopg")
        conn.execute("drop extension if exists pg_stat_statements")


def _data(project: Path) -> None:
    folder = project / "data"
    folder.mkdir()
    table = pa.table(
        {"id": [1, 2, 3, 4], "region": ["EU", "US", "EU", "APAC"], "amount": [5.0, 12.5, 30.0, 8.0]}
    )
    (folder / "sales.csv").write_text("id,region,amount\n1,EU,5\n2,US,12.5\n3,EU,30\n4,APAC,8\n")
    (folder / "sales.jsonl").write_text("\n".join(json.dumps(r) for r in table.to_pylist()) + "\n")
    pq.write_table(table, folder / "sales.parquet")


# Refs the tools above work on, made before the snapshots (the registry is not watched).
PREPARE = [
    ("read_csv", {"path": "data/sales.csv", "name": "sales"}),
    ("read_parquet", {"path": "data/sales.parquet", "name": "sales_pq"}),
]


async def test_every_read_only_tool_has_an_entry(project: Path) -> None:
    """The table follows the served annotations: a new read-only tool needs its entry to pass."""
    async with inmemory(project, {}) as client:
        listed = (await client.list_tools()).tools
    read_only = {t.name for t in listed if t.annotations and t.annotations.read_only_hint}
    untested = sorted(read_only - set(TRIES))
    assert not untested, (
        f"read-only tools with no entry in TRIES (add ordinary and hostile calls): {untested}"
    )
    stale = sorted(set(TRIES) - read_only)
    assert not stale, f"TRIES entries for tools no longer labelled read-only (remove them): {stale}"


@pytest.mark.slow  # ~3 s a tool, 27 tools
@pytest.mark.parametrize("tool", sorted(TRIES))
async def test_read_only_tool_changes_nothing_outside_the_registry(
    ro_db: Cluster, project: Path, tool: str
) -> None:
    _data(project)
    async with inmemory(project, {**ro_db.env(), "HOME": str(project.parent)}) as client:
        for name, args in PREPARE:
            result = await client.call_tool(name, args)
            assert not result.is_error, text_of(result)
        files, database = _files(project), _database(ro_db.url)
        for i, args in enumerate(TRIES[tool]):
            result = await client.call_tool(tool, args)
            text = text_of(result)
            if i == 0:
                assert not result.is_error, f"{tool} {args}: {text[:400]}"
            elif result.is_error:
                assert text.startswith("Error:") and "Traceback" not in text, f"{tool} {args}: {text[:400]}"
    assert _files(project) == files, f"{tool} changed files in the project outside the registry"
    assert not (project / "outside.arrow").exists()
    assert stray_files() == []
    assert _database(ro_db.url) == database, f"{tool} changed the database"
