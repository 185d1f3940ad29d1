"""Which files a folder, glob or list read takes, through the real server (issue 23's agent trial):
never the files of a Delta or Iceberg table, only the format's extensions, and a scan that stops
at nrows saying what it read."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from harness import call, call_error, inmemory, text_of
from test_lake_datasets import penguins, write_hive

pytestmark = pytest.mark.anyio


def delta_orders(folder: Path) -> None:
    """Three versions: 3 rows, 2 appended, then overwritten by 1 row (6 Parquet files, 1 current)."""
    from deltalake import write_deltalake

    write_deltalake(folder, pa.table({"id": [1, 2, 3], "v": [10.0, 20.0, 30.0]}))
    write_deltalake(folder, pa.table({"id": [4, 5], "v": [40.0, 50.0]}), mode="append")
    write_deltalake(folder, pa.table({"id": [9], "v": [99.0]}), mode="overwrite")


async def test_files_inside_a_delta_table_are_not_read_as_plain_files(project: Path) -> None:
    delta_orders(project / "delta_orders")
    delta_orders(project / "tables" / "orders")  # a folder holding a Delta table
    from deltalake import write_deltalake

    write_deltalake(project / "parted", penguins(30), partition_by=["species"])
    async with inmemory(project) as client:
        for path in ("delta_orders/*.parquet", ["delta_orders", "parted"], "parted/species=Adelie", "tables"):
            err = await call_error(client, "read_parquet", path=path)
            assert "inside the Delta table" in err, path
        err = await call_error(client, "read_parquet", path="delta_orders/*.parquet")
        assert 'read_parquet "delta_orders"' in err and "as_of" in err
        err = await call_error(client, "read_parquet", path="tables/*/*.parquet")
        assert 'read_parquet "tables/orders"' in err
        err = await call_error(client, "read_parquet", path="parted/species=Adelie/*.parquet")
        assert 'read_parquet "parted"' in err
        r = await call(client, "read_parquet", path="delta_orders")  # the table itself: version 2
        assert r.structured_content["rows"] == 1


async def test_files_inside_an_iceberg_table_folder_are_refused(project: Path) -> None:
    from test_lake_tables import catalog_file, load_penguins

    catalog_file(project, '[iceberg.lake]\nuri = "sqlite:///iceberg.db"\nwarehouse = "wh"\n')
    async with inmemory(project) as client:
        await load_penguins(client, project)
        await call(client, "write_table", data_ref="p", table="lake.sales.penguins")
        for path in ("wh/sales/penguins/data", "wh/sales/penguins/data/*.parquet", "wh/sales/penguins"):
            err = await call_error(client, "read_parquet", path=path)
            assert "inside the Iceberg table folder" in err and "catalog" in err, path


async def test_nrows_stops_the_scan_and_the_counts_say_what_was_read(project: Path) -> None:
    write_hive(project / "penguins_ds", penguins())  # 9 files of 2 row groups
    async with inmemory(project) as client:
        r = await call(client, "read_parquet", path="penguins_ds", nrows=10)
        sc = r.structured_content
        assert sc["rows"] == 10 and sc["scan"]["files_total"] == 9 and sc["scan"]["row_groups_total"] == 18
        assert (sc["scan"]["files_read"], sc["scan"]["row_groups_read"]) == (1, 1)
        assert "Read 1 of 9 files" in text_of(r) and "(1 of 18 row groups)" in text_of(r)
        r = await call(client, "read_parquet", path="penguins_ds", nrows=150, name="more")
        assert (
            r.structured_content["scan"]["files_read"],
            r.structured_content["scan"]["row_groups_read"],
        ) == (
            2,
            3,
        )
        err = await call_error(client, "read_parquet", path="penguins_ds", nrows=10, max_rows=5)
        assert "has 900 rows" in err  # the guard counts the dataset, not the groups planned
        r = await call(client, "read_parquet", path="penguins_ds", nrows=10, where="mass > 0", name="f")
        sc = r.structured_content
        assert sc["rows"] == 10 and sc["scan"]["files_read"] < 9
        assert sc["scan"]["bytes_read"] < sc["scan"]["bytes_total"] / 3


async def test_a_folder_read_takes_only_the_formats_extensions_and_says_what_it_skipped(
    project: Path,
) -> None:
    (project / "csvs").mkdir()
    for i in range(3):
        rows = "".join(f"{i * 100 + j},Paris,{j}.5\n" for j in range(100))
        (project / "csvs" / f"prices_{i}.csv").write_text("id,city,price\n" + rows)
    (project / "csvs" / "other.txt").write_text("x\n1\n")
    (project / "txts").mkdir()
    (project / "txts" / "a.txt").write_text("x\n1\n")
    async with inmemory(project) as client:
        r = await call(client, "read_csv", path="csvs")
        assert r.structured_content["rows"] == 300 and r.structured_content["scan"]["files_total"] == 3
        assert "Skipped 1 file not csv by extension (other.txt)." in text_of(r)
        err = await call_error(client, "read_csv", path="txts")
        assert "has no csv files" in err and "1 other files (.txt)" in err and "/*.txt" in err
        r = await call(client, "read_csv", path="txts/*.txt")  # named by a glob: read
        assert r.structured_content["rows"] == 1
