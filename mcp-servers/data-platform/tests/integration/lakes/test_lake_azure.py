"""az:// through the real server: Azure Blob Storage on loopback (Azurite, tests/azserver.py), the
account from a connection string or a [storage.NAME] entry, a prefix read with pruning, listed,
written back partitioned and read back identical; missing credentials refused before any request.
No account key in any output or log."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from azserver import ACCOUNT, ACCOUNT_KEY
from harness import call, call_error, inmemory, log_mark, log_since, text_of
from loopserver import new_bucket
from test_lake_datasets import penguins, put_hive, same_rows

pytestmark = pytest.mark.anyio


def container(azure) -> str:  # type: ignore[no-untyped-def]
    return new_bucket(azure.filesystem().create_dir)


async def test_az_prefix_read_with_pruning_listed_and_written_back(project: Path, azure) -> None:  # type: ignore[no-untyped-def]
    c = container(azure)
    put_hive(azure.filesystem(), f"{c}/penguins")
    mark = log_mark()
    async with inmemory(project, azure.env()) as client:
        r = await call(client, "read_parquet", path=f"az://{c}/penguins", where="year = 2009", name="y9")
        sc = r.structured_content
        assert sc["rows"] == 300 and (sc["scan"]["files_read"], sc["scan"]["files_total"]) == (3, 9)
        assert sc["source"] == f"az://{c}/penguins" and {"species", "year"} <= {
            x["name"] for x in sc["columns"]
        }
        listed = text_of(await call(client, "list_files", path=f"az://{c}/penguins/"))
        assert "9 files" in listed and "species" in listed and "mass" in listed

        pq.write_table(penguins(), project / "p.parquet")
        await call(client, "read_parquet", path="p.parquet", name="p")
        w = await call(client, "to_parquet", data_ref="p", path=f"az://{c}/out/p", partition_by=["species"])
        assert w.structured_content["path"] == f"az://{c}/out/p"
        await call(client, "read_parquet", path=f"az://{c}/out/p", name="back")
        assert await same_rows(client, "p", "back") == [{"missing": 0, "n": 900}]
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


async def test_a_delta_table_on_az_is_refused_not_read_as_files(project: Path, azure) -> None:  # type: ignore[no-untyped-def]
    c = container(azure)
    fs = azure.filesystem()
    pq.write_table(penguins(), f"{c}/orders/part-0.parquet", filesystem=fs)
    with fs.open_output_stream(f"{c}/orders/_delta_log/00000000000000000000.json") as f:
        f.write(b"{}")
    async with inmemory(project, azure.env()) as client:
        err = await call_error(client, "read_parquet", path=f"az://{c}/orders")
        assert "Delta tables are read and written in local folders and s3://" in err
        await call(
            client, "read_parquet", path=f"az://{c}/orders/*.parquet", name="files"
        )  # its files, by name
        err = await call_error(client, "write_table", data_ref="files", table=f"az://{c}/orders")
        assert "not az://" in err


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
