"""dbt tools through the real MCP client, on the suite's PostgreSQL, with the real shop project."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import psycopg
import pytest

from harness import call, call_error, connect, inmemory, text_of
from pgcluster import Cluster
from shopproject import (
    add_slow_model,
    break_jinja,
    break_yaml,
    copy_shop,
    dbt_env,
    make_deprecated,
    missing_ref,
    replace,
    undefined_macro,
)
from suitepaths import TESTS

pytestmark = pytest.mark.anyio

DBT_TOOLS = (
    "dbt_parse",
    "dbt_run",
    "dbt_test",
    "dbt_build",
    "dbt_compile",
    "dbt_ls",
    "dbt_docs_generate",
    "dbt_lineage",
)
REQUIRED_ARGS = {"dbt_compile": {"select": "x"}, "dbt_lineage": {"node": "x"}}
DEPRECATIONS = {
    "MissingArgumentsPropertyInGenericTestDeprecation": "models/staging/schema.yml",
    "PropertyMovedToConfigDeprecation": "models/staging/schema.yml",
    "DuplicateYAMLKeysDeprecation": "models/staging/schema.yml",
    "UnexpectedJinjaBlockDeprecation": "macros/cents_to_dollars.sql",
}


async def test_without_a_project_the_server_starts_and_every_dbt_tool_says_how_to_set_it(
    project: Path,
) -> None:
    async with inmemory(project) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert set(DBT_TOOLS) <= names
        await call(client, "list_data")
        for name in DBT_TOOLS:
            err = await call_error(client, name, **REQUIRED_ARGS.get(name, {}))
            assert "No dbt project found" in err and "DBT_PROJECT_DIR" in err, (name, err)


@pytest.mark.slow  # the fast tier's dbt: test_dbt_every_tool.py
async def test_the_shop_project_builds_lists_compiles_documents_and_has_lineage(
    tmp_path: Path, pg: Cluster
) -> None:
    root = copy_shop(tmp_path)
    # A column documented in YAML that the model does not build: docs must say so.
    replace(
        root / "models" / "marts" / "schema.yml",
        "      - name: total_amount\n",
        "      - name: loyalty_tier\n        description: Not built yet.\n      - name: total_amount\n",
    )
    env = dbt_env(pg, root)
    async with inmemory(tmp_path, env=env) as client:
        parsed = await call(client, "dbt_parse")
        assert parsed.structured_content["ok"] is True
        assert parsed.structured_content["deprecations"] == []

        steps: list[tuple[float, float | None, str | None]] = []

        async def progress(done: float, total: float | None, message: str | None) -> None:
            steps.append((done, total, message))

        built = await client.call_tool("dbt_build", {}, progress_callback=progress)
        assert not built.is_error, text_of(built)
        data = built.structured_content
        assert data["success"] is True
        assert data["counts"] == {"success": 8, "pass": 15, "no-op": 1}
        by_name = {n["name"]: n for n in data["nodes"]}
        assert by_name["customer_orders"]["status"] == "success"
        assert by_name["customer_orders"]["rows_affected"] == 5
        assert by_name["raw_payments"]["rows_affected"] == 8
        assert by_name["assert_no_negative_totals"]["status"] == "pass"
        assert "dbt build succeeded" in text_of(built)
        assert steps and all(total == 24 for _, total, _ in steps)
        assert any("customer_orders" in (m or "") for _, _, m in steps)
        with psycopg.connect(pg.url) as conn:
            rows = conn.execute(
                f'select count(*) from "{env["DP_TEST_PG_SCHEMA"]}".revenue_by_country'
            ).fetchone()
        assert rows == (3,)

        tested = (await call(client, "dbt_test", select="stg_orders")).structured_content
        assert tested["success"] and tested["nodes_total"] == 4
        assert {n["resource_type"] for n in tested["nodes"]} == {"test"}

        ls = (
            await call(client, "dbt_ls", select="+customer_orders", resource_type="model")
        ).structured_content
        assert {(r["name"], r["materialized"]) for r in ls["resources"]} == {
            ("customer_orders", "table"),
            ("stg_customers", "view"),
            ("stg_orders", "view"),
            ("stg_payments", "view"),
        }
        assert ls["resources"][0]["path"].startswith("models/")

        compiled = await call(client, "dbt_compile", select="stg_payments")
        sql = compiled.structured_content["nodes"][0]["sql"]
        assert "round((amount_cents / 100.0)::numeric, 2)" in sql and "{{" not in sql
        assert '"raw_payments"' in sql

        with_vars = await call(client, "dbt_compile", select="revenue_by_country", vars={"min_orders": 2})
        assert "where orders >= 2" in with_vars.structured_content["nodes"][0]["sql"]

        docs = (await call(client, "dbt_docs_generate")).structured_content
        assert Path(docs["index"]).is_file() and Path(docs["catalog"]).is_file()
        assert docs["missing_columns"] == ["customer_orders.loyalty_tier"], docs

        lineage = await call(client, "dbt_lineage", node="revenue_by_country")
        up = {(n["resource_type"], n["name"]) for n in lineage.structured_content["upstream"]}
        assert {("seed", "raw_customers"), ("seed", "raw_orders"), ("seed", "raw_payments")} <= up
        assert ("source", "shop_raw.payments") in up and ("model", "customer_orders") in up
        down = {(n["resource_type"], n["name"]) for n in lineage.structured_content["downstream"]}
        assert ("exposure", "sales_dashboard") in down
        text = text_of(lineage)
        assert "```mermaid\ngraph LR" in text and "raw_payments" in text

        # The project changes: lineage re-parses instead of answering from the old manifest.
        (root / "models" / "marts" / "top_countries.sql").write_text(
            "select * from {{ ref('revenue_by_country') }} order by revenue desc limit 3\n"
        )
        fresh = await call(client, "dbt_lineage", node="revenue_by_country", direction="down", tests=False)
        assert {n["name"] for n in fresh.structured_content["downstream"]} == {
            "sales_dashboard",
            "top_countries",
        }


@pytest.mark.slow
async def test_deprecations_are_reported_on_every_parse_and_before_every_run(
    tmp_path: Path, pg: Cluster
) -> None:
    root = copy_shop(tmp_path)
    make_deprecated(root)
    env = dbt_env(pg, root)

    def check(content: dict) -> None:
        assert content["ok"] is True
        found = {(d["event"], d["file"]) for d in content["deprecations"]}
        assert found == set(DEPRECATIONS.items()), found
        codes = {d["event"]: d["code"] for d in content["deprecations"]}
        assert codes["MissingArgumentsPropertyInGenericTestDeprecation"] == "D039"
        for d in content["deprecations"]:
            assert "\x1b" not in d["message"] and "\n" not in d["message"] and d["fix"]
        dup = next(d for d in content["deprecations"] if d["event"] == "DuplicateYAMLKeysDeprecation")
        assert dup["line"] == 34

    async with connect(tmp_path, env=env, log_name="dbt") as client:
        for _ in range(3):  # the first parse, then partial parses of the same files
            check((await call(client, "dbt_parse")).structured_content)
        # An edit elsewhere: dbt would only re-parse that file; we still report all four.
        (root / "models" / "marts" / "revenue_by_country.sql").write_text(
            (root / "models" / "marts" / "revenue_by_country.sql").read_text() + "\n-- edited\n"
        )
        check((await call(client, "dbt_parse")).structured_content)

        run = await call(client, "dbt_build", select="raw_customers")
        assert run.structured_content["success"] is True
        assert {d["event"] for d in run.structured_content["deprecations"]} == set(DEPRECATIONS)
        assert text_of(run).splitlines()[1].startswith("WARNING: 4 dbt deprecation(s)")

        refused = await call_error(client, "dbt_build", strict=True)
        assert "refused (strict mode)" in refused and "DuplicateYAMLKeysDeprecation" in refused

    # A new server process finds dbt's partial-parse state and the findings of the last full
    # parse on disk: a partial parse (cached), still all four. This one is in strict mode
    # (DATA_PLATFORM_DBT_STRICT), so runs are refused.
    async with connect(tmp_path, env={**env, "DATA_PLATFORM_DBT_STRICT": "1"}, log_name="dbt") as client:
        parsed = (await call(client, "dbt_parse")).structured_content
        check(parsed)
        assert parsed["cached"] is True
        assert "strict mode" in await call_error(client, "dbt_run")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("breakage", "expected", "file"),
    [
        (break_jinja, "Compilation Error", "models/staging/stg_orders.sql"),
        (break_yaml, "mapping values are not allowed", "models/marts/schema.yml"),
        (missing_ref, "customer_order", "models/marts/revenue_by_country.sql"),
    ],
)
async def test_a_broken_project_gets_a_clear_error_and_no_run(
    tmp_path: Path, pg: Cluster, breakage, expected: str, file: str
) -> None:
    root = copy_shop(tmp_path)
    breakage(root)
    async with inmemory(tmp_path, env=dbt_env(pg, root)) as client:
        parsed = (await call(client, "dbt_parse")).structured_content
        assert parsed["ok"] is False
        error = parsed["errors"][0]
        assert expected in error["message"] and error["fix"], error
        assert error["file"] == file, error
        for tool in ("dbt_run", "dbt_build"):
            err = await call_error(client, tool)
            assert "did not start" in err and expected in err and "Fix:" in err
        assert not (root / "target" / "run_results.json").exists()
        assert await call_error(client, "dbt_lineage", node="customer_orders")


@pytest.mark.slow
async def test_an_undefined_macro_passes_parse_and_fails_at_compile(tmp_path: Path, pg: Cluster) -> None:
    root = copy_shop(tmp_path)
    undefined_macro(root)
    async with inmemory(tmp_path, env=dbt_env(pg, root)) as client:
        assert (await call(client, "dbt_parse")).structured_content["ok"] is True
        err = await call_error(client, "dbt_compile", select="stg_payments")
        assert "cents_to_euros" in err and "undefined" in err and "Define the macro" in err


@pytest.mark.slow
async def test_a_long_run_can_be_cancelled_and_the_server_keeps_answering(
    tmp_path: Path, pg: Cluster
) -> None:
    root = copy_shop(tmp_path)
    add_slow_model(root, 60)
    env = dbt_env(pg, root)
    async with inmemory(tmp_path, env=env) as client:
        await call(client, "dbt_parse")  # warm the in-process dbt
        done = anyio.Event()
        outcome: dict[str, object] = {}

        async def long_run(scope: anyio.CancelScope) -> None:
            with scope:
                outcome["result"] = await client.call_tool("dbt_run", {"select": "slow_report"})
            done.set()

        scope = anyio.CancelScope()
        async with anyio.create_task_group() as tg:
            tg.start_soon(long_run, scope)
            # Wait until PostgreSQL is really running the slow model.
            deadline = time.monotonic() + 60
            while not _sleeping(pg) and time.monotonic() < deadline:
                await anyio.sleep(0.3)
            assert _sleeping(pg), "the slow model never started"
            started = time.monotonic()
            listed = await call(client, "list_data")
            assert "No data_refs yet" in text_of(listed)
            ls = await call(client, "dbt_ls", select="slow_report")
            assert ls.structured_content["total"] == 1
            assert time.monotonic() - started < 30  # answered during the run, not after it
            assert not done.is_set()
            scope.cancel()  # the client cancels the request: notifications/cancelled
        assert "result" not in outcome
        # dbt was interrupted and cancelled its query: nothing sleeps in PostgreSQL any more.
        deadline = time.monotonic() + 20
        while _sleeping(pg) and time.monotonic() < deadline:
            await anyio.sleep(0.3)
        assert not _sleeping(pg)
        # The server is fine and accepts the next run.
        again = await call(client, "dbt_build", select="raw_customers")
        assert again.structured_content["success"] is True


@pytest.mark.slow
async def test_a_run_over_the_timeout_is_stopped_with_a_clear_error(tmp_path: Path, pg: Cluster) -> None:
    root = copy_shop(tmp_path)
    add_slow_model(root, 60)
    env = {**dbt_env(pg, root), "DATA_PLATFORM_DBT_TIMEOUT": "8"}
    async with inmemory(tmp_path, env=env) as client:
        err = await call_error(client, "dbt_run", select="slow_report")
        assert "timed out after 8 s" in err and "DATA_PLATFORM_DBT_TIMEOUT" in err
        deadline = time.monotonic() + 20
        while _sleeping(pg) and time.monotonic() < deadline:
            await anyio.sleep(0.3)
        assert not _sleeping(pg)


@pytest.mark.slow
async def test_database_down_and_missing_target_give_dbts_message_and_what_to_do(
    tmp_path: Path, pg: Cluster
) -> None:
    root = copy_shop(tmp_path)
    env = {**dbt_env(pg, root), "DP_TEST_PG_PORT": "1"}  # nothing listens there
    async with inmemory(tmp_path, env=env) as client:
        err = await call_error(client, "dbt_run", select="stg_customers")
        assert "failed before running any node" in err and "connection" in err.lower()
        assert "Check the database is running" in err
        err = await call_error(client, "dbt_run", target="nope")
        assert "nope" in err and "target" in err.lower()
    no_profile = copy_shop(tmp_path, "shop2")
    (no_profile / "profiles.yml").unlink()
    env = {**dbt_env(pg, no_profile), "DBT_PROFILES_DIR": str(tmp_path / "empty")}
    (tmp_path / "empty").mkdir()
    async with inmemory(tmp_path, env=env) as client:
        parsed = (await call(client, "dbt_parse")).structured_content
        assert parsed["ok"] is False
        assert "shop" in parsed["errors"][0]["message"] and parsed["errors"][0]["fix"]


def _sleeping(pg: Cluster) -> bool:
    with psycopg.connect(pg.url, autocommit=True) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity where query like '%pg_sleep(60)%' "
            "and pid <> pg_backend_pid() and state = 'active'"
        ).fetchone()
    return bool(row and row[0])


def test_the_shop_project_has_no_package_dependencies() -> None:
    """dbt cannot download packages from the hub here: the test project must not need any."""
    shop = TESTS / "projects" / "shop"
    assert not (shop / "packages.yml").exists() and not (shop / "dependencies.yml").exists()
    assert (shop / "dbt_project.yml").is_file() and len(list(shop.rglob("*.sql"))) >= 7
