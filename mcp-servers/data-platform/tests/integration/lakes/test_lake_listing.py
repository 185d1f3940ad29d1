"""list_files through the real server (issue 23's agent trial): every next step names a served tool."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness import call, inmemory, text_of
from test_lake_dataset_files import delta_orders
from test_lake_datasets import penguins, write_hive
from test_lake_tables import catalog_file, load_penguins

pytestmark = pytest.mark.anyio


async def next_tools(client, result) -> list[str]:  # type: ignore[no-untyped-def]
    """The tool each `Next:` step names, checked against the served tools."""
    served = {t.name for t in (await client.list_tools()).tools}
    steps = result.structured_content["next"]
    assert steps and f"Next: {'; '.join(steps)}." in text_of(result)
    named = [re.match(r"[a-z_]+", step).group(0) for step in steps]
    assert set(named) <= served, f"{named} are not all tools"
    return named


async def test_every_next_step_names_a_served_tool(project: Path) -> None:
    catalog_file(project, '[iceberg.lake]\nuri = "sqlite:///iceberg.db"\nwarehouse = "wh"\n')
    delta_orders(project / "delta_orders")
    write_hive(project / "penguins_ds", penguins())
    async with inmemory(project) as client:
        await load_penguins(client, project)
        await call(client, "write_table", data_ref="p", table="lake.sales.penguins")
        for path in ("delta_orders", "lake", "wh/sales/penguins", "penguins_ds"):
            r = await call(client, "list_files", path=path)
            assert await next_tools(client, r) == ["read_parquet"], path
        r = await call(client, "list_files", path="delta_orders")
        assert 'read_parquet "delta_orders" (version 2; as_of=N' in text_of(r)
