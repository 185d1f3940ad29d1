"""Every dbt tool once, on a three-model project, through the in-memory client (the fast tier's dbt).

The shop project (test_dbt_tools.py) checks the answers in depth; this one keeps the fast tier
touching every dbt tool with real results checked against PostgreSQL, in a few seconds. The same
test runs on dbt-duckdb (slow tier): nothing in the family may assume PostgreSQL.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import psycopg
import pytest

from harness import call, inmemory, text_of
from pgcluster import Cluster

pytestmark = pytest.mark.anyio

MODELS = {
    "base_numbers.sql": "select n from (values (1), (2), (3), (4), (5), (6), (7), (8), (9), (10)) as t(n)",
    "even_numbers.sql": "select n from {{ ref('base_numbers') }} where n % 2 = 0",
    "even_total.sql": "{{ config(materialized='table') }}\n"
    "select sum(n) as total from {{ ref('even_numbers') }}",
}
SCHEMA_YML = """\
version: 2
models:
  - name: even_numbers
    columns:
      - name: n
        data_tests: [not_null, unique]
"""


def tiny_project(parent: Path, pg: Cluster | None, schema: str) -> Path:
    root = parent / "tiny_dbt"
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        "name: tiny\nversion: '1.0.0'\nconfig-version: 2\nprofile: tiny\nmodel-paths: ['models']\n"
        "models:\n  tiny:\n    +materialized: view\n"
    )
    for name, sql in MODELS.items():
        (root / "models" / name).write_text(sql + "\n")
    (root / "models" / "schema.yml").write_text(SCHEMA_YML)
    if pg is None:
        (root / "profiles.yml").write_text(
            f"tiny:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
            f"      path: {parent / 'tiny.duckdb'}\n      schema: {schema}\n      threads: 1\n"
        )
        return root
    # Literal credentials: the in-memory server's dbt children inherit this process's environment.
    (root / "profiles.yml").write_text(
        f"tiny:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      host: {pg.host}\n"
        f"      port: {pg.port}\n      user: {pg.user}\n      password: '{pg.password}'\n"
        f"      dbname: {pg.dbname}\n      schema: {schema}\n      threads: 2\n"
    )
    return root


@pytest.mark.parametrize("adapter", ["postgres", pytest.param("duckdb", marks=pytest.mark.slow)])
async def test_every_dbt_tool_once_with_results_checked_in_the_warehouse(
    request: pytest.FixtureRequest, tmp_path: Path, adapter: str
) -> None:
    schema = f"tiny_{uuid.uuid4().hex[:8]}"
    pg: Cluster | None = request.getfixturevalue("pg") if adapter == "postgres" else None
    root = tiny_project(tmp_path, pg, schema)

    def one(sql: str) -> tuple:
        if pg is None:
            with duckdb.connect(str(tmp_path / "tiny.duckdb"), read_only=True) as conn:
                return conn.execute(sql).fetchone()
        with psycopg.connect(pg.url) as conn:
            return tuple(conn.execute(sql).fetchone())

    env = {"DBT_PROJECT_DIR": str(root), "DBT_PROFILES_DIR": str(root)}
    async with inmemory(tmp_path, env) as client:
        parsed = (await call(client, "dbt_parse")).structured_content
        assert parsed["ok"] is True and parsed["deprecations"] == []

        ran = (await call(client, "dbt_run", select="base_numbers")).structured_content
        assert ran["success"] is True and [n["name"] for n in ran["nodes"]] == ["base_numbers"]
        assert one(f'select count(*) from "{schema}".base_numbers') == (10,)
        # The run read the parse validation saved (nothing changed since): it wrote none of its own.
        assert not (root / "target" / "partial_parse.msgpack").exists()

        built = (await call(client, "dbt_build")).structured_content
        assert built["success"] is True
        assert built["counts"] == {"success": 3, "pass": 2}, built["counts"]
        assert one(f'select total from "{schema}".even_total') == (30,)

        tested = (await call(client, "dbt_test", select="even_numbers")).structured_content
        assert tested["success"] and tested["nodes_total"] == 2
        assert {n["resource_type"] for n in tested["nodes"]} == {"test"}

        listed = (await call(client, "dbt_ls", resource_type="model")).structured_content
        assert {(r["name"], r["materialized"]) for r in listed["resources"]} == {
            ("base_numbers", "view"),
            ("even_numbers", "view"),
            ("even_total", "table"),
        }

        compiled = (await call(client, "dbt_compile", select="even_numbers")).structured_content
        sql = compiled["nodes"][0]["sql"]
        assert f'"{schema}"."base_numbers"' in sql and "{{" not in sql

        docs = (await call(client, "dbt_docs_generate")).structured_content
        assert Path(docs["catalog"]).is_file() and Path(docs["index"]).is_file()

        lineage = await call(client, "dbt_lineage", node="even_numbers")
        up = {n["name"] for n in lineage.structured_content["upstream"]}
        down = {n["name"] for n in lineage.structured_content["downstream"]}
        assert "base_numbers" in up and "even_total" in down, lineage.structured_content
        assert "```mermaid" in text_of(lineage)
    if pg is not None:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute(f'drop schema if exists "{schema}" cascade')
