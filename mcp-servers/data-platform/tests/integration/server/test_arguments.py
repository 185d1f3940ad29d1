"""The argument boundary: synonyms, forgiving shapes, strict refusal, errors in the project's shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from data_platform.errors import InputError
from data_platform.server.arguments import prepare, validation_message
from data_platform.server.synonyms import markdown
from harness import call, call_error, inmemory, text_of
from suitepaths import REPO

ROOT = REPO

HEAD = {
    "properties": {"data_ref": {"type": "string"}, "n": {"default": 10, "type": "integer", "minimum": 1}},
    "required": ["data_ref"],
}
SORT = {
    "properties": {
        "data_ref": {"type": "string"},
        "by": {"type": "array", "items": {"type": "string"}},
        "name": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
    },
    "required": ["data_ref", "by"],
}
RUN = {"properties": {"select": {"type": "string"}, "vars": {"type": "object", "additionalProperties": True}}}


def test_synonyms_are_read_and_said() -> None:
    p = prepare("head", HEAD, {"df": "sales", "rows": 3})
    assert p.args == {"data_ref": "sales", "n": 3}
    assert p.notes == ["read `df` as `data_ref`", "read `rows` as `n`"]
    p = prepare("dbt_run", RUN, {"models": "orders", "vars": '{"env": "dev"}'})
    assert p.args == {"select": "orders", "vars": {"env": "dev"}}
    assert prepare("dbt_run", RUN, {"vars": "{env: dev, n: 3}"}).args["vars"] == {"env": "dev", "n": 3}


def test_a_synonym_only_where_the_tool_has_its_target() -> None:
    # `rows` means n for head, nothing for a tool without n: refused, never dropped.
    with pytest.raises(InputError, match=r"dbt_run does not take `rows`") as err:
        prepare("dbt_run", RUN, {"rows": 3})
    assert "Its arguments: select, vars" in str(err.value)


def test_shapes_scalar_for_list_and_json_strings() -> None:
    assert prepare("sort", SORT, {"data_ref": "a", "by": "region"}).args["by"] == ["region"]
    assert prepare("sort", SORT, {"data_ref": "a", "by": '["region", "-amount"]'}).args["by"] == [
        "region",
        "-amount",
    ]
    # a string that is not JSON stays a one-element list (a column may well start with "[")
    assert prepare("sort", SORT, {"data_ref": "a", "by": "[odd"}).args["by"] == ["[odd"]


def test_sort_direction_from_pandas_habits() -> None:
    p = prepare("sort", SORT, {"data_ref": "a", "by": ["amount", "id"], "ascending": [False, True]})
    assert p.args["by"] == ["-amount", "id"]
    p = prepare("sort", SORT, {"data_ref": "a", "by": "amount", "descending": True})
    assert p.args["by"] == ["-amount"] and "descending=true" in p.notes[0]
    with pytest.raises(InputError, match="does not match"):
        prepare("sort", SORT, {"data_ref": "a", "by": ["a", "b"], "ascending": [True]})


def test_unknown_conflicting_and_missing_arguments() -> None:
    with pytest.raises(InputError) as err:
        prepare("head", HEAD, {"data_ref": "a", "nn": 3})
    assert "did you mean `n`?" in str(err.value) and "Call as head(data_ref, n=10)" in str(err.value)
    with pytest.raises(InputError, match="got `n` twice"):
        prepare("head", HEAD, {"data_ref": "a", "n": 3, "limit": 4})
    assert prepare("head", HEAD, {"data_ref": "a", "n": 3, "limit": 3}).args == {"data_ref": "a", "n": 3}
    with pytest.raises(InputError, match="head needs `data_ref`"):
        prepare("head", HEAD, {"rows": 3})


def test_validation_message_shows_the_form_that_works() -> None:
    text = validation_message(
        "head", HEAD, [{"loc": ("n",), "type": "int_parsing", "input": "ten", "msg": "Input should..."}]
    )
    assert text == 'head: `n` must be an integer of at least 1; got "ten". Call as head(data_ref, n=10).'


def test_docs_list_every_synonym() -> None:
    doc = (ROOT / "docs" / "arguments.md").read_text()
    assert markdown() in doc, "docs/arguments.md is stale: regenerate its synonym tables"


def _bad_value(prop: dict[str, Any]) -> Any:
    """A value of a type the property does not take."""
    kinds = {prop.get("type")} | {s.get("type") for s in prop.get("anyOf", ())}
    return {"not": "a scalar"} if "object" not in kinds else 12345


@pytest.mark.anyio
async def test_every_tool_refuses_an_unknown_argument_and_a_wrong_type(project: Path) -> None:
    async with inmemory(project) as client:
        tools = (await client.list_tools()).tools
        assert len(tools) >= 37
        for t in tools:
            props = t.input_schema.get("properties", {})
            text = await call_error(client, t.name, bogus_option=1)
            assert text.startswith(f"Error: {t.name} does not take `bogus_option`."), text
            assert "Its arguments: " + (", ".join(props) or "none") in text, text
            for arg, prop in props.items():
                text = await call_error(client, t.name, **{arg: _bad_value(prop)})
                assert text.startswith("Error: "), text
                for leak in ("pydantic", "validation error", "Input should", "Arguments"):
                    assert leak not in text, f"{t.name}({arg}=...): {text}"


@pytest.mark.anyio
async def test_notes_reach_the_answer_and_meta(project: Path) -> None:
    (project / "a.csv").write_text("region,amount\nEU,3\nUS,1\nEU,2\n")
    async with inmemory(project) as client:
        await call(client, "read_csv", file="a.csv", name="a")
        result = await call(client, "sort", df="a", by="amount", ascending=False)
        text = text_of(result)
        assert text.startswith("Arguments: read `df` as `data_ref`; read `ascending=false` as by=")
        assert result.meta and result.meta["data-platform/arguments"][0] == "read `df` as `data_ref`"
        top = await call(client, "head", data_ref=result.structured_content["data_ref"], rows=1)
        assert "| EU | 3 |" in text_of(top) and "(1 of 3 rows" in text_of(top)
        text = await call_error(client, "haed", data_ref="a")
        assert text.startswith("Error: No tool named `haed`. Did you mean head")


def test_a_comma_separated_string_of_columns_is_the_list_it_names() -> None:
    p = prepare("sort", SORT, {"data_ref": "a", "by": "region, -amount"})
    assert p.args["by"] == ["region", "-amount"]
    assert p.notes == ['read `by="region, -amount"` as `by=["region", "-amount"]`']


@pytest.mark.anyio
async def test_one_local_file_read_with_where_or_pyarrows_filters(project: Path) -> None:
    """A `where` on one local file used to fail ("Cannot list directory ..."): the dataset path listed
    it as a folder. pyarrow's `filters` (and of conditions; a list of such lists: or) is the same."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({"id": [1, 2, 3, 4], "sp": ["a", "b", "it's", "a"], "my col": [1.5, 2.5, 3.5, 4.5]}),
        project / "p.parquet",
    )
    (project / "p.csv").write_text("id,sp\n1,a\n2,b\n3,a\n")

    async def ids(tool: str, **args: Any) -> list[int]:
        result = await call(client, tool, **args)
        data_ref = result.structured_content["data_ref"]
        rows = await call(client, "head", data_ref=data_ref, n=50)
        return [r["id"] for r in rows.structured_content["preview"]]

    async with inmemory(project) as client:
        assert await ids("read_parquet", path="p.parquet", where="id > 2") == [3, 4]
        assert await ids("read_csv", path="p.csv", where="sp == 'a'") == [1, 3]
        assert await ids("read_parquet", path="p.parquet", filters=[["sp", "==", "a"], ["id", ">", 1]]) == [4]
        either = [[["sp", "in", ["b"]]], [["sp", "=", "it's"]]]
        assert await ids("read_parquet", path="p.parquet", filters=either) == [2, 3]
        assert await ids("read_parquet", path="p.parquet", filters=["my col", "<", 2]) == [1]
        result = await call(
            client, "read_parquet", path="p.parquet", filters=[["id", "=", 2]], columns="id, sp"
        )
        text = text_of(result)
        assert 'read `where=[["id", "=", 2]]` as `where="id == 2"`' in text
        assert [c["name"] for c in result.structured_content["columns"]] == ["id", "sp"], text
        text = await call_error(client, "read_parquet", path="p.parquet", filters=[["sp", "like", "a%"]])
        assert (
            text.startswith("Error: filters=") and "where=" in text and '["species", "==", "Adelie"]' in text
        )


def test_table_version_spellings_are_as_of() -> None:
    schema = {
        "properties": {
            "path": {"type": "string"},
            "as_of": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        }
    }
    for key in ("version", "snapshot_id", "timestamp_as_of", "version_as_of"):
        p = prepare("read_parquet", schema, {"path": "t", key: 3})
        assert p.args == {"path": "t", "as_of": 3} and p.notes == [f"read `{key}` as `as_of`"]
