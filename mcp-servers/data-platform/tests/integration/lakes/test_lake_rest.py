"""An Iceberg REST catalog through the real server: SeaweedFS's catalog and S3 warehouse on loopback
(tests/restserver.py), declared as users declare one ([iceberg.NAME] with the catalog's URL and a
client credential from ${VAR}, a [storage.NAME] entry for the warehouse's S3 endpoint): a table
created, listed, read with a filter, appended to and read at its previous snapshot; no secret in
any answer or log. An unreachable catalog URL is a clear error."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from data_platform.config import load_settings
from data_platform.lakes import catalogs
from data_platform.lakes.storage import Storage
from harness import call, call_error, inmemory, log_mark, log_since, text_of
from restserver import SECRET
from test_lake_tables import catalog_file, load_penguins

pytestmark = pytest.mark.anyio


@pytest.mark.slow
async def test_rest_catalog_listed_read_appended_and_read_at_the_previous_snapshot(
    project: Path, rest_catalog
) -> None:  # type: ignore[no-untyped-def]
    ns = f"sales_{uuid.uuid4().hex[:8]}"
    catalog_file(project, rest_catalog.connections())
    mark = log_mark()
    async with inmemory(project, {**rest_catalog.env(), "HOME": str(project)}) as client:
        await load_penguins(client, project)
        w = await call(client, "write_table", data_ref="p", table=f"rest.{ns}.penguins")
        assert w.structured_content["done"] == "created" and w.structured_content["rows"] == 900
        first = re.search(r"snapshot (\d+)", w.structured_content["version"]).group(1)
        listed = await call(client, "list_files", path="rest")
        assert ns in listed.structured_content["namespaces"]
        assert f"rest.{ns}.penguins" in listed.structured_content["tables"]

        r = await call(client, "read_parquet", path=f"rest.{ns}.penguins", where="species = 'Gentoo'")
        assert r.structured_content["rows"] == 300
        w = await call(client, "write_table", data_ref="p9", table=f"rest.{ns}.penguins")
        assert w.structured_content["done"] == "appended to"
        r = await call(client, "read_parquet", path=f"rest.{ns}.penguins", name="now")
        assert r.structured_content["rows"] == 1200
        r = await call(client, "read_parquet", path=f"rest.{ns}.penguins", as_of=first, name="before")
        assert r.structured_content["rows"] == 900 and f"snapshot {first}" in text_of(r)
        refs = await call(client, "list_data")
        shown = str(refs.structured_content) + text_of(refs) + text_of(listed)
    assert SECRET not in shown and SECRET not in log_since(mark)


async def test_an_unreachable_rest_catalog_is_a_clear_error(project: Path) -> None:
    catalog_file(project, '[iceberg.rest]\nuri = "http://127.0.0.1:1"\ncredential = "${REST_CREDENTIAL}"\n')
    secret = "unreachable-rest-secret-8c1d"
    env = {"REST_CREDENTIAL": f"client:{secret}"}
    assert secret in Storage(load_settings(project, env, system_file=project / "none.env")).secrets()
    async with inmemory(project, env) as client:
        for tool, args in (("list_files", {"path": "rest"}), ("read_parquet", {"path": "rest.sales.t"})):
            err = await call_error(client, tool, **args)
            assert "Cannot reach the Iceberg REST catalog 'rest' at http://127.0.0.1:1" in err, err
            assert "connection refused" in err and "[iceberg.rest]" in err
            assert secret not in err


async def test_a_rest_catalogs_warehouse_name_is_not_a_local_folder(project: Path) -> None:
    catalog_file(project, '[iceberg.rest]\nuri = "http://127.0.0.1:1"\nwarehouse = "analytics"\n')
    settings = load_settings(project, {}, system_file=project / "none.env")
    props = catalogs.properties("rest", Storage(settings), settings, write=True)
    assert props["warehouse"] == "analytics" and not (project / "analytics").exists()
