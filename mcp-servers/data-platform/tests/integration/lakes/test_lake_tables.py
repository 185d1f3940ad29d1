"""Iceberg and Delta tables through the real server: real pyiceberg (SQL catalog on SQLite and on the
suite's PostgreSQL) and real deltalake, locally and on the loopback S3 server."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path

import anyio
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from harness import call, call_error, inmemory, text_of
from loopserver import new_bucket
from test_lake_datasets import penguins

pytestmark = pytest.mark.anyio


def catalog_file(project: Path, body: str) -> None:
    (project / ".data-platform").mkdir(exist_ok=True)
    (project / ".data-platform" / "connections.toml").write_text(body, encoding="utf-8")


async def load_penguins(client, project: Path) -> None:  # type: ignore[no-untyped-def]
    pq.write_table(penguins(), project / "p.parquet")
    await call(client, "read_parquet", path="p.parquet", name="p")
    await call(client, "sql", query="SELECT * FROM p WHERE year = 2009", name="p9")
    await call(client, "sql", query="SELECT *, 1 AS extra FROM p9", name="wider")


async def warehouse_round_trip(client, project: Path, warehouse: str, fs, folder: str) -> str:  # type: ignore[no-untyped-def]
    """An Iceberg table in a SQL catalog whose warehouse is `warehouse`: written, appended to, read
    with a filter (600 rows), its two data files on `fs` under `folder`; the read's answer text."""
    catalog_file(project, f'[iceberg.lake]\nuri = "sqlite:///iceberg.db"\nwarehouse = "{warehouse}"\n')
    await load_penguins(client, project)
    await call(client, "write_table", data_ref="p", table="lake.sales.penguins")
    w = await call(client, "write_table", data_ref="p9", table="lake.sales.penguins")
    assert w.structured_content["done"] == "appended to"
    r = await call(client, "read_parquet", path="lake.sales.penguins", where="year = 2009")
    assert r.structured_content["rows"] == 600
    listed = fs.get_file_info(pafs.FileSelector(folder, recursive=True))
    assert sum(i.path.endswith(".parquet") for i in listed) == 2
    return text_of(r)


async def iceberg_round_trip(client, catalog: str) -> None:  # type: ignore[no-untyped-def]
    w = await call(client, "write_table", data_ref="p", table=f"{catalog}.sales.penguins")
    assert w.structured_content["done"] == "created" and w.structured_content["rows"] == 900
    first = re.search(r"snapshot (\d+)", w.structured_content["version"]).group(1)

    r = await call(client, "list_files", path=catalog)
    assert r.structured_content["namespaces"] == ["sales"]
    assert r.structured_content["tables"] == [f"{catalog}.sales.penguins"]

    r = await call(
        client, "read_parquet", path=f"{catalog}.sales.penguins", where="species = 'Gentoo'", name="g"
    )
    assert r.structured_content["rows"] == 300 and r.structured_content["scan"]["files_total"] == 1

    await anyio.sleep(1.1)
    between = dt.datetime.now(dt.UTC).isoformat()
    await anyio.sleep(1.1)
    w = await call(client, "write_table", data_ref="p9", table=f"{catalog}.sales.penguins")
    assert w.structured_content["done"] == "appended to"
    r = await call(client, "read_parquet", path=f"{catalog}.sales.penguins", as_of=between, name="then")
    assert r.structured_content["rows"] == 900
    r = await call(
        client, "read_parquet", path=f"{catalog}.sales.penguins", name="now", columns=["id", "year"]
    )
    assert r.structured_content["rows"] == 1200 and len(r.structured_content["columns"]) == 2
    r = await call(client, "read_parquet", path=f"{catalog}.sales.penguins", as_of=first, name="before")
    assert r.structured_content["rows"] == 900 and f"snapshot {first}" in text_of(r)

    err = await call_error(client, "write_table", data_ref="wider", table=f"{catalog}.sales.penguins")
    assert "extra" in err and "merge_schema" in err
    w = await call(
        client,
        "write_table",
        data_ref="wider",
        table=f"{catalog}.sales.penguins",
        overwrite=True,
        merge_schema=True,
    )
    assert w.structured_content["done"] == "overwrote"
    r = await call(client, "read_parquet", path=f"{catalog}.sales.penguins", name="after")
    assert r.structured_content["rows"] == 300 and "extra" in [
        c["name"] for c in r.structured_content["columns"]
    ]


async def test_iceberg_sql_catalog_on_sqlite(project: Path) -> None:
    catalog_file(
        project, '[iceberg.lake]\nuri = "sqlite:///.data-platform/iceberg.db"\nwarehouse = "warehouse"\n'
    )
    async with inmemory(project) as client:
        await load_penguins(client, project)
        await iceberg_round_trip(client, "lake")
        err = await call_error(client, "read_parquet", path="lake.sales.nope")
        assert "No Iceberg table lake.sales.nope" in err and "lake.sales.penguins" in err


async def test_iceberg_sql_catalog_on_postgresql(project: Path, pg) -> None:  # type: ignore[no-untyped-def]
    schema = f"ice_{uuid.uuid4().hex[:8]}"
    catalog_file(project, f'[iceberg.pgcat]\nconnection = "default"\nwarehouse = "wh_{schema}"\n')
    async with inmemory(project, {"POSTGRES_URL": pg.url}) as client:
        await load_penguins(client, project)
        await iceberg_round_trip(client, "pgcat")


async def test_delta_versions_local_and_on_s3(project: Path, s3) -> None:  # type: ignore[no-untyped-def]
    name = new_bucket(s3.filesystem().create_dir)
    async with inmemory(project, s3.env()) as client:
        await load_penguins(client, project)
        for table in ("tables/penguins_delta", f"s3://{name}/delta/penguins"):
            w = await call(client, "write_table", data_ref="p", table=table)
            assert w.structured_content["version"] == "version 0", table
            await anyio.sleep(1.1)
            between = dt.datetime.now(dt.UTC).isoformat()
            await anyio.sleep(1.1)
            w = await call(client, "write_table", data_ref="p9", table=table)
            assert w.structured_content["version"] == "version 1"
            r = await call(client, "read_parquet", path=table, as_of=between)
            assert r.structured_content["rows"] == 900 and "Delta version 0" in text_of(r)
            r = await call(client, "read_parquet", path=table, name=None, where="year = 2009")
            assert r.structured_content["rows"] == 600 and "Delta version 1" in text_of(r)
            for version in ("0", 0):  # an integer, as a model writes a version, is taken too
                r = await call(client, "read_parquet", path=table, as_of=version)
                assert r.structured_content["rows"] == 900 and "Delta version 0" in text_of(r)
            # issue 23: a time before the table, or a version after its latest, is refused (not version 0)
            err = await call_error(client, "read_parquet", path=table, as_of="2020-01-01")
            assert "no version at or before 2020-01-01T00:00:00+00:00" in err
            assert "earliest is version 0 at 20" in err
            err = await call_error(client, "read_parquet", path=table, as_of=7)
            assert "has no version 7; versions 0 to 1 (latest 1 at 20" in err and "kernel" not in err.lower()
            err = await call_error(client, "write_table", data_ref="wider", table=table)
            assert "merge_schema" in err
        r = await call(client, "list_files", path="tables/penguins_delta")
        assert r.structured_content["kind"] == "delta table" and "species" in r.structured_content["columns"]
        err = await call_error(client, "read_parquet", path="p.parquet", as_of="3")
        assert "as_of" in err and "Delta or Iceberg" in err


async def test_reading_a_catalog_writes_nothing(project: Path) -> None:
    catalog_file(
        project, '[iceberg.lake]\nuri = "sqlite:///cat/iceberg.db"\nwarehouse = "wh"\nread_only = true\n'
    )
    async with inmemory(project) as client:
        err = await call_error(client, "list_files", path="lake")
        assert "has no tables yet" in err and "write_table" in err
        err = await call_error(client, "read_parquet", path="lake.sales.orders")
        assert "has no tables yet" in err
        pq.write_table(penguins(3), project / "p.parquet")
        await call(client, "read_parquet", path="p.parquet", name="p")
        err = await call_error(client, "write_table", data_ref="p", table="lake.sales.orders")
        assert "read-only" in err
    assert not (project / "cat").exists() and not (project / "wh").exists()


async def test_iceberg_warehouse_in_object_storage(project: Path, s3) -> None:  # type: ignore[no-untyped-def]
    name = new_bucket(s3.filesystem().create_dir)
    catalog_file(project, f'[iceberg.lake]\nuri = "sqlite:///iceberg.db"\nwarehouse = "s3://{name}/wh"\n')
    async with inmemory(project, s3.env()) as client:
        await load_penguins(client, project)
        await call(client, "write_table", data_ref="p", table="lake.sales.penguins")
        r = await call(client, "read_parquet", path="sales.penguins", where="year = 2008")
        assert r.structured_content["rows"] == 300
    listed = s3.filesystem().get_file_info(pafs.FileSelector(f"{name}/wh", recursive=True))
    assert any(i.path.endswith(".parquet") for i in listed)


async def test_delta_partition_by_on_create_then_kept(project: Path) -> None:
    catalog_file(project, '[iceberg.lake]\nuri = "sqlite:///.data-platform/iceberg.db"\nwarehouse = "wh"\n')
    async with inmemory(project) as client:
        await load_penguins(client, project)
        w = await call(client, "write_table", data_ref="p", table="tables/parted", partition_by="species")
        assert w.structured_content["done"] == "created"
        assert sorted(p.name for p in (project / "tables/parted").glob("species=*")) == [
            "species=Adelie", "species=Chinstrap", "species=Gentoo",
        ]  # fmt: skip
        w = await call(client, "write_table", data_ref="p9", table="tables/parted", partition_by=["species"])
        assert w.structured_content["done"] == "appended to"  # the table's own partitioning: accepted
        r = await call(client, "read_parquet", path="tables/parted", where="species = 'Gentoo'")
        scan = r.structured_content["scan"]
        assert r.structured_content["rows"] == 400 and scan["files_read"] < scan["files_total"]
        err = await call_error(
            client, "write_table", data_ref="p", table="tables/parted", partition_by=["year"]
        )
        assert "partitioned by species" in err
        err = await call_error(client, "write_table", data_ref="p", table="tables/new", partition_by=["sex"])
        assert 'column "sex" not found' in err and not (project / "tables/new").exists()
        err = await call_error(client, "write_table", data_ref="p", table="lake.s.t", partition_by=["year"])
        assert "partition_by is for Delta tables" in err
