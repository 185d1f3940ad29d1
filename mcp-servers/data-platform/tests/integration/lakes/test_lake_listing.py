"""list_files through the real server (issue 23's agent trial): every next step names a served tool."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness import call, call_error, inmemory, text_of
from test_lake_dataset_files import delta_orders
from test_lake_datasets import SPECIES, penguins, write_hive
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
        assert [(v["id"], v["operation"]) for v in r.structured_content["snapshots"]] == [
            (2, "write (overwrite)"), (1, "write (append)"), (0, "write (errorifexists)"),
        ]  # fmt: skip
        assert "| version | time (UTC) |" in text_of(r)


async def test_a_glob_lists_its_matches(project: Path) -> None:
    write_hive(project / "penguins_ds", penguins())
    (project / "csvs").mkdir()
    for i in range(3):
        (project / "csvs" / f"prices_{i}.csv").write_text("id,price\n1,2.5\n")
    (project / "csvs" / "other.txt").write_text("x\n1\n")
    async with inmemory(project) as client:
        r = await call(client, "list_files", path="penguins_ds/*/year=2008/*.parquet")
        sc = r.structured_content
        assert sc["kind"] == "glob" and sc["files_total"] == 3 and sc["bytes_total"] > 0
        assert sc["partitions"] == {"species": SPECIES, "year": ["2008"]}
        assert "mass" in sc["columns"] and sc["files"][0]["path"] == "species=Adelie/year=2008/part-0.parquet"
        assert await next_tools(client, r) == ["read_parquet"]
        assert sc["next"][0].startswith(f'read_parquet "{project}/penguins_ds/*/year=2008/*.parquet"')
        r = await call(client, "list_files", path="csvs/prices_*.csv")
        assert r.structured_content["files_total"] == 3 and r.structured_content["formats"] == {"csv": 3}
        assert await next_tools(client, r) == ["read_csv"]
        err = await call_error(client, "list_files", path="csvs/*.parquet")
        assert "No file matches" in err and "prices_0.csv" in err


async def test_iceberg_names_list_their_table_or_namespace(project: Path) -> None:
    catalog_file(project, '[iceberg.lake]\nuri = "sqlite:///iceberg.db"\nwarehouse = "wh"\n')
    async with inmemory(project) as client:
        await load_penguins(client, project)
        w1 = await call(client, "write_table", data_ref="p", table="lake.shop.items")
        w2 = await call(client, "write_table", data_ref="p9", table="lake.shop.items")
        await call(client, "write_table", data_ref="p", table="lake.other.t")
        first, second = (int(w.structured_content["version"].split()[-1]) for w in (w1, w2))

        r = await call(client, "list_files", path="lake.shop.items")
        sc, text = r.structured_content, text_of(r)
        assert sc["kind"] == "iceberg table" and "species" in sc["columns"] and sc["files_total"] == 2
        assert [s["id"] for s in sc["snapshots"]] == [second, first]
        assert [s["rows"] for s in sc["snapshots"]] == [1200, 900]
        assert sc["snapshots"][0]["time"].endswith("+00:00") and sc["snapshots"][0]["operation"] == "append"
        assert str(first) in text and str(second) in text and "time (UTC)" in text
        assert f"as_of={first}" in text and await next_tools(client, r) == ["read_parquet"]

        r = await call(client, "list_files", path="lake.shop")
        assert r.structured_content["kind"] == "iceberg namespace"
        assert r.structured_content["tables"] == ["lake.shop.items"]
        assert await next_tools(client, r) == ["read_parquet"]
        r = await call(client, "list_files", path="lake")
        assert sorted(r.structured_content["tables"]) == ["lake.other.t", "lake.shop.items"]
        err = await call_error(client, "list_files", path="lake.shop.nope")
        assert "No Iceberg table or namespace lake.shop.nope" in err and "lake.shop.items" in err
