"""gs:// through the real server: Google Cloud Storage on loopback (gcp-storage-emulator,
tests/gcsserver.py) named by STORAGE_EMULATOR_HOST or a [storage.NAME] entry; a prefix read with
pruning, listed, written back partitioned and read back identical; missing credentials refused
before any request; a Delta table refused with the reason (deltalake speaks the XML API)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness import call, call_error, inmemory
from loopserver import new_bucket
from test_lake_datasets import penguins, prefix_round_trip, put_hive
from test_lake_tables import catalog_file, warehouse_round_trip

pytestmark = pytest.mark.anyio


def bucket(gcs) -> str:  # type: ignore[no-untyped-def]
    return new_bucket(gcs.create_bucket)


async def test_gs_prefix_read_with_pruning_listed_and_written_back(project: Path, gcs) -> None:  # type: ignore[no-untyped-def]
    b = bucket(gcs)
    put_hive(gcs.filesystem(), f"{b}/penguins")
    async with inmemory(project, gcs.env()) as client:
        await prefix_round_trip(client, project, f"gs://{b}")


async def test_gs_storage_entry_anonymous_and_read_only(project: Path, gcs) -> None:  # type: ignore[no-untyped-def]
    b = bucket(gcs)
    put_hive(gcs.filesystem(), f"{b}/penguins")
    (project / ".data-platform").mkdir()
    (project / ".data-platform" / "connections.toml").write_text(
        f'[storage.public]\nurl = "gs://{b}/"\nendpoint = "{gcs.endpoint}"\n'
        "anonymous = true\nread_only = true\n",
        encoding="utf-8",
    )
    async with inmemory(project, {"HOME": str(project)}) as client:
        r = await call(
            client, "read_parquet", path=f"gs://{b}/penguins", where="species = 'Adelie'", name="a"
        )
        assert r.structured_content["rows"] == 300
        err = await call_error(client, "to_parquet", data_ref="a", path=f"gs://{b}/copy.parquet")
        assert "read-only" in err and "public" in err


async def test_gs_missing_credentials_say_what_to_do(project: Path) -> None:
    async with inmemory(project, {"HOME": str(project)}) as client:
        err = await call_error(client, "read_parquet", path="gs://somebucket/data/")
        assert "No credentials for Google Cloud Storage" in err and "GOOGLE_APPLICATION_CREDENTIALS" in err


async def test_a_delta_table_on_gs_is_refused_with_the_reason(project: Path, gcs) -> None:  # type: ignore[no-untyped-def]
    """deltalake's Google client speaks the XML API, which the emulator lacks: refused, never read
    as plain files (which would include files the log removed)."""
    b = bucket(gcs)
    fs = gcs.filesystem()
    pq.write_table(penguins(), f"{b}/orders/part-0.parquet", filesystem=fs)
    with fs.open_output_stream(f"{b}/orders/_delta_log/00000000000000000000.json") as f:
        f.write(b"{}")
    async with inmemory(project, gcs.env()) as client:
        err = await call_error(client, "read_parquet", path=f"gs://{b}/orders")
        assert "Delta tables are read and written in local folders, s3:// and az://" in err
        assert "XML API" in err and "not gs://" in err
        err = await call_error(client, "read_parquet", path=f"gs://{b}/orders/*.parquet")  # its files
        assert "inside the Delta table" in err  # nor as plain files
        pq.write_table(penguins(), project / "p.parquet")
        await call(client, "read_parquet", path="p.parquet", name="files")
        err = await call_error(client, "write_table", data_ref="files", table=f"gs://{b}/orders")
        assert "not gs://" in err


async def test_an_iceberg_warehouse_on_gs(project: Path, gcs) -> None:  # type: ignore[no-untyped-def]
    """pyiceberg's Cloud Storage FileIO gets the emulator's endpoint (and, as it has no anonymous
    mode, a placeholder token the emulator ignores)."""
    b = bucket(gcs)
    async with inmemory(project, {**gcs.env(), "HOME": str(project)}) as client:
        await warehouse_round_trip(client, project, f"gs://{b}/wh", gcs.filesystem(), f"{b}/wh")


async def test_an_iceberg_warehouse_on_a_public_gs_bucket_says_what_it_needs(project: Path) -> None:
    catalog_file(
        project,
        '[iceberg.lake]\nuri = "sqlite:///iceberg.db"\nwarehouse = "gs://public-lake/wh"\n\n'
        '[storage.public]\nurl = "gs://public-lake/"\nanonymous = true\n',
    )
    async with inmemory(project, {"HOME": str(project)}) as client:
        pq.write_table(penguins(3), project / "p.parquet")
        await call(client, "read_parquet", path="p.parquet", name="p")
        err = await call_error(client, "write_table", data_ref="p", table="lake.sales.penguins")
        assert "needs credentials" in err and "no anonymous mode" in err and "GOOGLE_APPLICATION" in err
