"""Refs as MCP resources through the SDK's in-memory client: list, template, read, links, list_changed."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from mcp import types
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourcesListChanged

from data_platform.registry import Registry
from data_platform.render import MAX_CELL, MAX_PREVIEW_COLUMNS, PREVIEW_ROWS, type_name
from harness import call, connect, inmemory, text_of

pytestmark = pytest.mark.anyio
BOUND = 8000  # the default max_output_chars: a resource read answers within it, as a tool does


def registry_of(project: Path) -> Registry:
    return Registry(project / ".data-platform")


def links(result: types.CallToolResult) -> list[str]:
    return [str(c.uri) for c in result.content if isinstance(c, types.ResourceLink)]


def contents(read: types.ReadResourceResult) -> tuple[str, dict[str, Any]]:
    by_type = {c.mime_type: c for c in read.contents}
    assert set(by_type) == {"text/csv", "application/json"}
    return by_type["text/csv"].text, json.loads(by_type["application/json"].text)


def write_sales(project: Path, rows: int = 120, columns: int = 15) -> None:
    header = ["id", "region", "amount"] + [f"extra_{i}" for i in range(columns - 3)]
    lines = [",".join(header)]
    for i in range(rows):
        amount = "" if i % 7 == 0 else f"{i * 1.25:.2f}"
        region = ["EU", "US, east", 'say "hi"'][i % 3]
        region = f'"{region.replace(chr(34), chr(34) * 2)}"'
        lines.append(",".join([str(i), region, amount] + [str(i * k) for k in range(columns - 3)]))
    (project / "sales.csv").write_text("\n".join(lines) + "\n")


async def test_a_ref_is_listed_and_read_as_a_csv_preview_with_its_schema(project: Path) -> None:
    write_sales(project)
    async with inmemory(project) as client:
        made = await call(client, "read_csv", path="sales.csv")
        assert links(made) == ["dataref://sales"]
        listed = (await client.list_resources()).resources
        assert [(str(r.uri), r.name, r.mime_type) for r in listed] == [
            ("dataref://sales", "sales", "text/csv")
        ]
        assert listed[0].description.startswith("120 rows x 15 columns, from ")
        templates = (await client.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["dataref://{name}"]

        csv_text, doc = contents(await client.read_resource("dataref://sales"))

    stored = registry_of(project).get("sales")
    expected = stored.slice(0, PREVIEW_ROWS).select(stored.column_names[:MAX_PREVIEW_COLUMNS])
    back = pacsv.read_csv(
        io.BytesIO(csv_text.encode()),
        convert_options=pacsv.ConvertOptions(column_types=expected.schema, strings_can_be_null=True),
    )
    assert back.equals(expected)  # the preview is the ref's first rows and columns, value for value
    assert doc["data_ref"] == "sales" and doc["rows"] == 120 and doc["columns"] == 15
    assert doc["schema"] == [{"name": f.name, "type": type_name(f.type)} for f in stored.schema]
    assert doc["preview"]["rows"] == PREVIEW_ROWS and doc["preview"]["columns"] == MAX_PREVIEW_COLUMNS
    assert "50 of 120 rows and 12 of 15 columns" in doc["preview"]["note"]
    assert len(csv_text) + len(json.dumps(doc)) <= BOUND


async def test_a_long_wide_ref_reads_within_the_bound(project: Path) -> None:
    n_rows, n_cols = 500, 300
    long_text = "x" * 90
    values = [f"{long_text}{r}" for r in range(n_rows)]
    table = pa.table({f"a_rather_long_column_name_{i:03d}": values for i in range(n_cols)})
    pq.write_table(table, project / "wide.parquet")
    async with inmemory(project) as client:
        await call(client, "read_parquet", path="wide.parquet", name="wide")
        read = await client.read_resource("dataref://wide")
    csv_text, doc = contents(read)
    assert sum(len(c.text) for c in read.contents) <= BOUND
    shown = doc["preview"]["rows"]
    assert 0 < shown < PREVIEW_ROWS and doc["rows"] == n_rows and doc["columns"] == n_cols
    assert len(doc["schema"]) + doc["schema_not_listed"] == n_cols
    back = pacsv.read_csv(io.BytesIO(csv_text.encode()))
    assert back.num_rows == shown and back.num_columns == MAX_PREVIEW_COLUMNS
    # Cells are cut as in the tools' previews: the first MAX_CELL characters of the stored value.
    assert back.column(0).to_pylist() == [f"{long_text}{r}"[: MAX_CELL - 1] + "…" for r in range(shown)]


async def test_an_unknown_ref_is_a_clean_error_naming_the_refs(project: Path) -> None:
    (project / "a.csv").write_text("x\n1\n")
    async with inmemory(project) as client:
        await call(client, "read_csv", path="a.csv", name="alpha")
        with pytest.raises(MCPError) as caught:
            await client.read_resource("dataref://alpah")
        with pytest.raises(MCPError) as escaped:  # a URI is a name, never a path
            await client.read_resource("dataref://../../etc/passwd")
    assert caught.value.code == types.INVALID_PARAMS
    message = caught.value.error.message
    assert "No data_ref named `alpah`" in message and "alpha" in message and "Traceback" not in message
    assert escaped.value.code == types.INVALID_PARAMS
    assert "Invalid data_ref name" in escaped.value.error.message


async def test_only_answers_that_create_a_ref_link_to_it(project: Path) -> None:
    write_sales(project, rows=10, columns=4)
    async with inmemory(project) as client:
        await call(client, "read_csv", path="sales.csv", name="s")
        assert links(await call(client, "head", data_ref="s", n=3)) == []
        assert links(await call(client, "describe", data_ref="s")) == []
        made = await call(client, "filter", data_ref="s", where="id > 4", name="big")
        assert links(made) == ["dataref://big"]
        assert "big" in text_of(made)
        replaced = await call(client, "filter", data_ref="s", where="id > 7", name="big", overwrite=True)
        assert links(replaced) == ["dataref://big"]
        _, doc = contents(await client.read_resource("dataref://big"))
        assert doc["rows"] == 2


async def test_list_changed_on_the_subscription_stream(project: Path) -> None:
    (project / "a.csv").write_text("x\n1\n2\n")
    async with inmemory(project) as client:
        assert client.protocol_version == "2026-07-28"
        async with client.listen(resources_list_changed=True) as sub:
            await call(client, "read_csv", path="a.csv", name="one")
            with anyio.fail_after(5):
                assert isinstance(await sub.__anext__(), ResourcesListChanged)
            await call(client, "drop_data", data_ref="one")
            with anyio.fail_after(5):
                assert isinstance(await sub.__anext__(), ResourcesListChanged)
        assert (await client.list_resources()).resources == []


async def test_list_changed_for_handshake_clients_and_other_processes(project: Path) -> None:
    (project / "a.csv").write_text("x\n1\n2\n")
    seen: list[Any] = []

    async def handler(message: Any) -> None:
        if isinstance(message, types.ResourceListChangedNotification):
            seen.append(message)

    async def changes(count: int) -> None:
        with anyio.fail_after(5):
            while len(seen) < count:
                await anyio.sleep(0.01)

    async with inmemory(project, mode="legacy", message_handler=handler) as client:
        assert client.server_capabilities.resources.list_changed is True
        await call(client, "read_csv", path="a.csv", name="one")
        await changes(1)
        await call(client, "head", data_ref="one")  # nothing changed: nothing sent
        await call(client, "list_data")
        await anyio.sleep(0.1)
        assert len(seen) == 1
        # Another process (here another Registry on the same folder) adds a ref between calls:
        registry_of(project).put(pa.table({"y": [1, 2, 3]}), name="from_elsewhere", source="cli")
        await call(client, "list_data")  # noticed at the next call
        await changes(2)
        names = [r.name for r in (await client.list_resources()).resources]
        assert names == ["from_elsewhere", "one"]
        registry_of(project).drop("from_elsewhere")
        await call(client, "head", data_ref="one")
        await changes(3)


@pytest.mark.slow  # a process: the in-memory tests cover the fast tier
async def test_resources_over_stdio(project: Path) -> None:
    """The same through a real server process, as an MCP host starts it."""
    write_sales(project, rows=60, columns=3)
    async with connect(project, log_name="resources") as client:
        assert client.server_capabilities.resources.list_changed is True
        made = await call(client, "read_csv", path="sales.csv", name="sales")
        assert links(made) == ["dataref://sales"]
        assert [r.name for r in (await client.list_resources()).resources] == ["sales"]
        csv_text, doc = contents(await client.read_resource("dataref://sales"))
    back = pacsv.read_csv(io.BytesIO(csv_text.encode()))
    assert back.column("id").to_pylist() == list(range(PREVIEW_ROWS))
    assert doc["rows"] == 60 and doc["preview"]["rows"] == PREVIEW_ROWS


async def test_resources_list_pages_by_name_with_a_cursor(project: Path) -> None:
    """450 refs come in pages of 200 with a nextCursor; a ref made between pages shifts no one;
    a made-up cursor is a clean invalid-params error."""
    registry = registry_of(project)
    names = [f"r{i:03d}" for i in range(450)]
    for name in names:
        registry.put(pa.table({"x": [1]}), name=name, source="test")
    async with inmemory(project) as client:
        first = await client.list_resources(cache_mode="refresh")
        assert [r.name for r in first.resources] == names[:200] and first.next_cursor
        registry.put(pa.table({"x": [1]}), name="r000a", source="test")  # behind the cursor
        second = await client.list_resources(cursor=first.next_cursor, cache_mode="refresh")
        third = await client.list_resources(cursor=second.next_cursor, cache_mode="refresh")
        assert [r.name for r in second.resources] == names[200:400]
        assert [r.name for r in third.resources] == names[400:] and third.next_cursor is None
        with pytest.raises(MCPError, match="Unknown cursor"):
            await client.list_resources(cursor="page-2", cache_mode="refresh")
