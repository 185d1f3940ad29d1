"""az:// through the real server: Azure Blob Storage on loopback (Azurite, tests/azserver.py), the
account from a connection string or a [storage.NAME] entry, a prefix read with pruning, listed,
written back partitioned and read back identical; a Delta table written and read at two versions;
missing credentials refused before any request.
No account key in any output or log."""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from azserver import ACCOUNT, ACCOUNT_KEY
from harness import call, call_error, inmemory, log_mark, log_since, text_of
from loopserver import new_bucket
from test_lake_datasets import penguins, prefix_round_trip, put_hive
from test_lake_tables import warehouse_round_trip

pytestmark = pytest.mark.anyio


def container(azure) -> str:  # type: ignore[no-untyped-def]
    return new_bucket(azure.filesystem().create_dir)


async def test_az_prefix_read_with_pruning_listed_and_written_back(project: Path, azure) -> None:  # type: ignore[no-untyped-def]
    c = container(azure)
    put_hive(azure.filesystem(), f"{c}/penguins")
    mark = log_mark()
    async with inmemory(project, azure.env()) as client:
        listed = await prefix_round_trip(client, project, f"az://{c}")
        refs = await call(client, "list_data")
        assert ACCOUNT_KEY not in str(refs.structured_content) + text_of(refs) + listed
    assert ACCOUNT_KEY not in log_since(mark)


async def test_az_storage_entry_with_a_variable_and_read_only(project: Path, azure) -> None:  # type: ignore[no-untyped-def]
    c = container(azure)
    put_hive(azure.filesystem(), f"{c}/penguins")
    (project / ".data-platform").mkdir()
    (project / ".data-platform" / "connections.toml").write_text(
        f"""
[storage.blobs]
url = "az://{c}/"
endpoint = "{azure.endpoint}"
key = "{ACCOUNT}"
secret = "${{BLOB_KEY}}"
read_only = true
""",
        encoding="utf-8",
    )
    async with inmemory(project, {"BLOB_KEY": ACCOUNT_KEY, "HOME": str(project)}) as client:
        r = await call(
            client, "read_parquet", path=f"az://{c}/penguins", where="species = 'Adelie'", name="a"
        )
        assert r.structured_content["rows"] == 300
        err = await call_error(client, "to_parquet", data_ref="a", path=f"az://{c}/copy.parquet")
        assert "read-only" in err and "blobs" in err


async def test_az_delta_table_written_appended_overwritten_and_read_at_a_version(
    project: Path, azure
) -> None:  # type: ignore[no-untyped-def]
    """deltalake gets the storage entry's account, key (from ${VAR}) and emulator endpoint."""
    c = container(azure)
    (project / ".data-platform").mkdir()
    (project / ".data-platform" / "connections.toml").write_text(
        f'[storage.blobs]\nurl = "az://{c}/"\nendpoint = "{azure.endpoint}"\nkey = "{ACCOUNT}"\n'
        'secret = "${BLOB_KEY}"\n',
        encoding="utf-8",
    )
    pq.write_table(penguins(), project / "p.parquet")
    mark = log_mark()
    async with inmemory(project, {"BLOB_KEY": ACCOUNT_KEY, "HOME": str(project)}) as client:
        await call(client, "read_parquet", path="p.parquet", name="p")
        await call(client, "sql", query="SELECT * FROM p WHERE year = 2009", name="p9")
        table = f"az://{c}/delta/penguins"
        w = await call(client, "write_table", data_ref="p", table=table)
        assert (w.structured_content["done"], w.structured_content["version"]) == ("created", "version 0")
        w = await call(client, "write_table", data_ref="p9", table=table)
        assert (w.structured_content["done"], w.structured_content["version"]) == ("appended to", "version 1")
        r = await call(client, "read_parquet", path=table, as_of="0", name="v0")
        assert r.structured_content["rows"] == 900 and "Delta version 0" in text_of(r)
        r = await call(client, "read_parquet", path=table, where="year = 2009", name="v1")
        assert r.structured_content["rows"] == 600 and "Delta version 1" in text_of(r)
        listed = await call(client, "list_files", path=table)
        assert listed.structured_content["kind"] == "delta table"
        w = await call(client, "write_table", data_ref="p9", table=table, overwrite=True)
        assert (w.structured_content["done"], w.structured_content["version"]) == ("overwrote", "version 2")
        r = await call(client, "read_parquet", path=table, name="v2")
        assert r.structured_content["rows"] == 300
        refs = await call(client, "list_data")
        assert ACCOUNT_KEY not in str(refs.structured_content) + text_of(refs) + text_of(listed)
    assert ACCOUNT_KEY not in log_since(mark)
    assert any(i.path.endswith("00000000000000000002.json") for i in azure.filesystem().get_file_info(
        pafs.FileSelector(f"{c}/delta/penguins/_delta_log")))  # fmt: skip


async def test_az_missing_credentials_say_what_to_do(project: Path) -> None:
    async with inmemory(project, {"HOME": str(project)}) as client:
        err = await call_error(client, "read_parquet", path="az://somecontainer/data/")
        assert "No Azure storage account" in err and "AZURE_STORAGE_ACCOUNT_NAME" in err
    env = {"HOME": str(project), "AZURE_STORAGE_ACCOUNT_NAME": ACCOUNT}  # an account, no key: no request
    async with inmemory(project, env) as client:
        err = await call_error(client, "read_parquet", path="az://somecontainer/data/")
        assert (
            f"No credentials for Azure storage account '{ACCOUNT}'" in err
            and "AZURE_STORAGE_ACCOUNT_KEY" in err
        )


async def test_an_iceberg_warehouse_on_az(project: Path, azure) -> None:  # type: ignore[no-untyped-def]
    """pyiceberg's Azure FileIO gets the account, key and emulator endpoint; az:// is handed to it
    as abfs://."""
    c = container(azure)
    mark = log_mark()
    async with inmemory(project, {**azure.env(), "HOME": str(project)}) as client:
        text = await warehouse_round_trip(client, project, f"az://{c}/wh", azure.filesystem(), f"{c}/wh")
        assert ACCOUNT_KEY not in text
    assert ACCOUNT_KEY not in log_since(mark)
