"""completion/complete through the SDK's client: refs, columns, tables, dbt nodes, paths, choices."""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio
import psycopg
import pyarrow as pa
import pytest
from mcp.client.client import Client
from mcp.types import Completion, PromptReference, ResourceTemplateReference

from data_platform.registry import Registry
from harness import call, connect, inmemory
from pgcluster import Cluster
from shopproject import copy_shop, dbt_env

pytestmark = pytest.mark.anyio

REF_TEMPLATE = ResourceTemplateReference(type="ref/resource", uri="dataref://{name}")


def prompt(name: str) -> PromptReference:
    return PromptReference(type="ref/prompt", name=name)


async def complete(
    client: Client,
    ref: PromptReference | ResourceTemplateReference,
    argument: str,
    value: str,
    context: dict[str, str] | None = None,
) -> Completion:
    result = await client.complete(ref, {"name": argument, "value": value}, context)
    return result.completion


async def values(
    client: Client, ref: PromptReference | ResourceTemplateReference, argument: str, value: str
) -> list[str]:
    return (await complete(client, ref, argument, value)).values


async def test_the_server_advertises_completions(project: Path) -> None:
    async with inmemory(project) as client:
        assert client.server_capabilities is not None
        assert client.server_capabilities.completions is not None


async def test_ref_names_for_the_prompt_and_the_resource_template(project: Path) -> None:
    (project / "sales.csv").write_text("order_id,region,amount\n1,EU,120.5\n2,US,80\n")
    async with inmemory(project) as client:
        for name in ("sales_2024", "sales_2025", "customers", "big_sales"):
            await call(client, "read_csv", path="sales.csv", name=name)
        assert await values(client, prompt("profile"), "data_ref", "sal") == [
            "sales_2024",
            "sales_2025",
            "big_sales",
        ]
        assert await values(client, REF_TEMPLATE, "name", "cu") == ["customers"]
        assert await values(client, REF_TEMPLATE, "name", "") == [
            "big_sales",
            "customers",
            "sales_2024",
            "sales_2025",
        ]
        assert await values(client, prompt("profile"), "data_ref", "nothing_like_it") == []
        # A dropped ref is gone from the next answer.
        await call(client, "drop_data", data_ref="customers")
        assert await values(client, REF_TEMPLATE, "name", "cu") == []
        # The columns of the ref named so far, keeping the columns already typed.
        cols = await complete(client, prompt("profile"), "columns", "region, am", {"data_ref": "sales_2024"})
        assert cols.values == ["region, amount"]
        cols = await complete(client, prompt("profile"), "columns", "", {"data_ref": "sales_2024"})
        assert cols.values == ["order_id", "region", "amount"]
        assert (
            await complete(client, prompt("profile"), "columns", "a", {"data_ref": "no_such_ref"})
        ).values == []


async def test_at_most_100_values_with_has_more(project: Path) -> None:
    registry = Registry(project / ".data-platform")
    for i in range(130):
        registry.put(pa.table({"x": [i]}), name=f"ref_{i:03d}", source="test")
    registry.close()
    async with inmemory(project) as client:
        many = await complete(client, REF_TEMPLATE, "name", "ref_")
        assert len(many.values) == 100 and many.has_more is True and many.total == 130
        assert many.values[:2] == ["ref_000", "ref_001"]
        few = await complete(client, REF_TEMPLATE, "name", "ref_12")
        assert few.values == [f"ref_{i}" for i in range(120, 130)] and few.has_more is False


async def test_data_files_under_the_project(project: Path) -> None:
    (project / "data" / "raw" / "2024").mkdir(parents=True)
    (project / "data" / "sales_2025.csv").write_text("a\n1\n")
    (project / "data" / "raw" / "2024" / "sales_old.parquet").write_bytes(b"PAR1")
    (project / "data" / "raw" / "events.jsonl.gz").write_bytes(b"")
    (project / "notes.md").write_text("not data")
    (project / ".hidden").mkdir()
    (project / ".hidden" / "secret.csv").write_text("a\n")
    async with inmemory(project) as client:
        ingest = prompt("ingest")
        assert await values(client, ingest, "source", "da") == ["data/"]
        assert await values(client, ingest, "source", "data/") == ["data/raw/", "data/sales_2025.csv"]
        assert await values(client, ingest, "source", "data/raw/ev") == ["data/raw/events.jsonl.gz"]
        # Without a folder, data files a few levels down whose name starts with the partial.
        found = await values(client, ingest, "source", "sal")
        assert sorted(found) == ["data/raw/2024/sales_old.parquet", "data/sales_2025.csv"]
        assert await values(client, ingest, "source", "no") == []  # notes.md is not a data file
        assert await values(client, ingest, "source", "sec") == []  # nor is a hidden folder searched
        assert await values(client, ingest, "source", "../") == []  # never outside the project
        assert await values(client, ingest, "source", "/etc/") == []
        assert await values(client, ingest, "source", "select * from da") == []


async def test_choices_and_arguments_with_nothing_to_offer(project: Path) -> None:
    async with inmemory(project) as client:
        assert await values(client, prompt("run"), "command", "b") == ["build"]
        assert await values(client, prompt("run"), "command", "") == ["run", "build", "test"]
        assert await values(client, prompt("lineage"), "direction", "d") == ["downstream"]
        assert await values(client, prompt("explain"), "analyze", "t") == ["true"]
        assert await values(client, prompt("explain"), "query", "sel") == []
        assert await values(client, prompt("no_such_prompt"), "x", "a") == []
        other = ResourceTemplateReference(type="ref/resource", uri="other://{name}")
        assert await values(client, other, "name", "") == []


async def _eventually(client: Client, ref: PromptReference, argument: str, value: str) -> list[str]:
    """The catalogue is fetched behind the first answers: ask until it is there (at most 10 s)."""
    for _ in range(100):
        found = await values(client, ref, argument, value)
        if found:
            return found
        await anyio.sleep(0.1)
    return []


async def test_table_names_from_the_catalogue(project: Path, pg: Cluster) -> None:
    schema = f"compl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')
        for table in ("orders", "order_items", "customers"):
            conn.execute(f'create table "{schema}"."{table}" (id int)')
    async with inmemory(project, env=pg.env()) as client:
        found = await _eventually(client, prompt("schema"), "target", f"{schema}.ord")
        assert found == [f"{schema}.order_items", f"{schema}.orders"]
        assert schema in await values(client, prompt("schema"), "target", schema[:7])
        # The ingest source offers tables too (a prefix of the table part is enough).
        assert f"{schema}.customers" in await values(client, prompt("ingest"), "source", "custo")
    # The postgres family turned off: the catalogue is not asked (the same calls stay empty).
    async with inmemory(project, env={**pg.env(), "DATA_PLATFORM_DISABLE": "postgres"}) as client:
        for _ in range(10):
            assert await values(client, prompt("ingest"), "source", "custo") == []
            await anyio.sleep(0.1)


async def test_a_database_that_is_down_gives_no_tables_and_no_error(project: Path) -> None:
    (project / "sales.csv").write_text("a\n1\n")
    env = {"POSTGRES_URL": "postgresql://nobody:pw@127.0.0.1:9/nodb"}  # port 9: nothing listens
    async with inmemory(project, env=env) as client:
        await call(client, "read_csv", path="sales.csv", name="sales")
        for _ in range(3):
            assert await values(client, prompt("schema"), "target", "pub") == []
        assert await values(client, prompt("ingest"), "source", "sal") == ["sales.csv"]
        assert await values(client, REF_TEMPLATE, "name", "s") == ["sales"]


async def test_dbt_node_names_from_the_manifest(tmp_path: Path, pg: Cluster) -> None:
    root = copy_shop(tmp_path)
    async with inmemory(tmp_path, env=dbt_env(pg, root)) as client:
        # No manifest yet: nothing, and dbt is not run for a completion.
        assert await values(client, prompt("lineage"), "node", "stg") == []
        assert not (root / "target").exists()
        await call(client, "dbt_parse")
        assert await values(client, prompt("lineage"), "node", "stg_") == [
            "stg_customers",
            "stg_orders",
            "stg_payments",
        ]
        payments = await values(client, prompt("lineage"), "node", "pay")
        assert set(payments) == {"stg_payments", "raw_payments", "shop_raw.payments"}, payments
        assert "customer_orders" in await values(client, prompt("run"), "selection", "cust")


@pytest.mark.slow  # a process: the in-memory tests cover the fast tier
async def test_over_stdio_prompts_render_and_refs_complete(project: Path) -> None:
    """The same through a server process, as Claude Desktop or VS Code start it."""
    (project / "sales.csv").write_text("order_id,amount\n1,2.5\n")
    async with connect(project, log_name="completions") as client:
        assert client.server_capabilities is not None and client.server_capabilities.completions is not None
        await call(client, "read_csv", path="sales.csv", name="sales_eu")
        assert await values(client, prompt("profile"), "data_ref", "sales") == ["sales_eu"]
        assert await values(client, REF_TEMPLATE, "name", "s") == ["sales_eu"]
        assert await values(client, prompt("ingest"), "source", "sal") == ["sales.csv"]
        got = await client.get_prompt("profile", {"data_ref": "sales_eu", "columns": "amount"})
        assert got.messages[0].content.text.startswith(  # type: ignore[union-attr]
            "Profile this data_ref from the data-platform registry: sales_eu amount\n"
        )
