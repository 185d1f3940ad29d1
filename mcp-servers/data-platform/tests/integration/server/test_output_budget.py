"""What the model reads stays bounded, whatever the data: every tool, on large inputs.

Inputs: a 1M-row ref (and CSV, and PostgreSQL table), a 200-column table, 10 KB cells,
a 10,000-vertex polygon, hundreds of refs and tables, and a dbt project of 500 models
(when dbt tools exist). Every listed tool is called with arguments aimed at them; each
answer's text must stay under `max_output_chars` (8,000 by default), success or error.
The whole tool list's model-facing size (names, descriptions, input schemas) must stay
within the contract's budget (tests/integration/server/test_contract.py). Both figures are printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from argfuzz import classify, example_arguments
from data_platform.contract import model_facing_size
from fuzzenv import (
    LONG,
    dbt_env,
    generated_dbt_project,
    pg_env,
    pools_for,
    scratch_database,
    seed_files,
    seed_registry,
)
from liveserver import live_server
from pgcluster import Cluster
from test_contract import BUDGET_CHARS

MAX_OUTPUT = 8_000
TOOL_LIST_BUDGET = BUDGET_CHARS  # one figure: tests/integration/server/test_contract.py
STRUCTURED_LIMIT = 100_000  # ~25k tokens: what Claude Code accepts for a whole tool result
DBT_MODELS = 500


def big_tables() -> dict[str, pa.Table]:
    n = 1_000_000
    ids = pa.array(range(n), pa.int64())
    big = pa.table(
        {
            "id": ids,
            "amount": pc.multiply(ids.cast(pa.float64()), 0.5),
            "region": pa.array(["EU", "US", "APAC", "LATAM"] * (n // 4)),
            "txt": pc.binary_join_element_wise(pa.array(["row"] * n), ids.cast(pa.string()), "-"),
        }
    )
    wide = pa.table(
        {f"column_number_{i:03d}_" + "w" * 20: pa.array([i * j for j in range(1_000)]) for i in range(200)}
    )
    cell = pa.table(
        {
            "id": [1, 2, 3],
            "text_10k": ["é" * 10_000, "x" * 10_000, "line\n" * 2_000],
            "blob_10k": [b"\x00\xff" * 5_000] * 3,
            "nested": [{"a": list(range(2_000))}] * 3,
            "c" * 300: [1, 2, 3],
        }
    )
    return {"big_1m": big, "wide_200": wide, "cell_10k": cell}


def prepare_database(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE big_1m AS SELECT g AS id, md5(g::text) AS txt FROM generate_series(1, 1000000) g"
        )
        cols = ", ".join(f"column_number_{i:03d}_wwwwwwwwwwwwwwwwwwww int DEFAULT {i}" for i in range(200))
        conn.execute(f"CREATE TABLE wide_200 ({cols})")
        conn.execute("INSERT INTO wide_200 SELECT FROM generate_series(1, 100)")
        conn.execute(
            "CREATE TABLE cell_10k AS "
            "SELECT g AS id, repeat('é', 10000) AS text_10k FROM generate_series(1, 3) g"
        )
        conn.execute(  # a polygon of 10,000 vertices: one huge WKT cell
            "CREATE TABLE big_geom AS "
            "SELECT 1 AS id, ST_Buffer(ST_SetSRID(ST_MakePoint(0, 0), 4326), 1, 2500) AS geom"
        )
        conn.execute("CREATE SCHEMA many")
        conn.execute(";".join(f"CREATE TABLE many.t_{i:03d} (id int)" for i in range(300)))


def variants(tool: dict[str, Any], pools: Any, project: Path) -> list[dict[str, Any]]:
    """Argument sets aiming `tool` at each large input."""
    name = tool["name"]
    props = (tool.get("inputSchema") or {}).get("properties") or {}
    domains = {classify(name, k) for k in props}
    out: list[dict[str, Any]] = []
    writer = name.startswith("to_")
    for i, (ref, path, sql, table) in enumerate(
        [
            ("big_1m", "data/big.csv", "SELECT * FROM big_1m", "big_1m"),
            ("wide_200", "data/wide.csv", "SELECT * FROM wide_200", "wide_200"),
            ("cell_10k", "data/cell.parquet", "SELECT * FROM cell_10k", "cell_10k"),
            ("cell_10k", "data/cell.json", "SELECT * FROM big_geom", "big_geom"),
        ]
    ):
        prefer: dict[str, Any] = {
            "ref": ref,
            "path": f"out/{name}_{i}.csv" if writer else path,
            "sql": sql,
            "pg_ident": table,
            "expr": "id >= 0",
            "out_name": f"{name}_{i}",
            "column": "id" if table != "big_geom" else "geom",
        }
        if name.startswith("dbt_"):
            run = name in ("dbt_run", "dbt_build") and not LONG
            prefer.update(select="m_0000+" if run else "fqn:*", node="m_0025", model="m_0025")
        out.append(example_arguments(tool, pools, prefer=prefer))
        if not ({"ref", "path", "sql", "pg_ident"} & domains) and i == 0:
            break  # the tool takes none of the large inputs: once is enough
    return out


@pytest.mark.slow
def test_every_answer_and_the_tool_list_stay_within_budget(
    pg: Cluster, project: Path, tmp_path: Path
) -> None:
    seeded = seed_registry(project)
    reads, writes = seed_files(project)
    reg = seeded.registry
    tables = big_tables()
    for name, table in tables.items():
        reg.put(table, name=name, source=f"{name} generated")
    for i in range(300):
        reg.put(pa.table({"x": [i]}), name=f"many_{i:03d}", source="many " + "s" * 100)
    data = project / "data"
    pacsv.write_csv(tables["big_1m"], data / "big.csv")
    pacsv.write_csv(tables["wide_200"], data / "wide.csv")
    pq.write_table(tables["cell_10k"], data / "cell.parquet")
    (data / "cell.json").write_text(json.dumps([{"id": i, "t": "x" * 10_000} for i in range(5)]))
    url = scratch_database(pg, "dp_harden_budget")
    prepare_database(url)
    dbt_project = generated_dbt_project(tmp_path, models=DBT_MODELS, schema="harden_budget")
    env = {**pg_env(url), **dbt_env(dbt_project), "DATA_PLATFORM_DBT_TIMEOUT": "900"}
    pools = pools_for(seeded, reads, writes, None)
    sizes: dict[str, list[tuple[int, bool, int]]] = {}
    over: list[str] = []
    with live_server(project, env, log_name="budget") as server:
        tools = server.tools()
        facing = model_facing_size(tools)
        # Destructive tools last, so that drop_data & co. do not take the large inputs from the others.
        ordered = sorted(tools, key=lambda t: bool((t.get("annotations") or {}).get("destructiveHint")))
        for tool in ordered:
            for args in variants(tool, pools, project):
                o = server.call(tool["name"], args, timeout=900)
                structured = len(json.dumps(o.structured, default=str)) if o.structured is not None else 0
                sizes.setdefault(tool["name"], []).append((len(o.text), o.ok, structured))
                if o.problem(MAX_OUTPUT) or structured > STRUCTURED_LIMIT:
                    why = o.problem(MAX_OUTPUT) or f"structured content {structured:,} chars"
                    over.append(f"{why}: {o.describe()}")
        assert server.alive()
    largest_tool, largest = max(((n, max(s[0] for s in v)) for n, v in sizes.items()), key=lambda x: x[1])
    print(f"\n{'tool':<22} {'calls':>5} {'ok':>3} {'largest text':>12} {'largest structured':>18}")
    for name in sorted(sizes):
        v = sizes[name]
        ok, text, structured = sum(s[1] for s in v), max(s[0] for s in v), max(s[2] for s in v)
        print(f"{name:<22} {len(v):>5} {ok:>3} {text:>12,} {structured:>18,}")
    print(f"largest result: {largest:,} characters ({largest_tool}; limit {MAX_OUTPUT:,})")
    print(
        f"tool list: {len(tools)} tools, model-facing size {facing:,} characters "
        f"(budget {TOOL_LIST_BUDGET:,})"
    )
    never_ok = sorted(n for n, v in sizes.items() if not any(s[1] for s in v))
    if never_ok:
        print(f"tools that answered only errors on these inputs (still bounded): {never_ok}")
    assert not over, "\n".join(over)
    assert facing <= TOOL_LIST_BUDGET, (
        f"the tool list is {facing:,} characters for the model (budget {TOOL_LIST_BUDGET:,})"
    )
    assert any(s[1] for s in sizes["list_data"]), "list_data must work on a registry of 300+ refs"
