"""Choosing what is served: toolsets and tool names (DATA_PLATFORM_TOOLS, `serve --tools`).

Through the in-memory client: one toolset lists exactly its tools, `read-only` lists nothing that
writes a database or a file outside the registry. Through the CLI process: an unknown name stops
the start with the real names.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from data_platform.commands import COMMANDS
from data_platform.config import load_settings
from data_platform.errors import InputError
from data_platform.server import app, toolsets
from data_platform.server.declare import ToolDef, ToolList
from harness import inmemory, server_env

# Tools that write a database, a file outside the registry, or delete a ref: never read-only.
WRITERS = {
    "to_csv", "to_parquet", "write_table", "drop_data", "pg_execute", "pg_load", "dbt_run", "dbt_build",
    "dbt_test", "dbt_docs_generate", "dbt_parse", "dbt_compile", "dbt_ls", "dbt_lineage", "dbt_show",
    "dbt_compare", "dbt_impact",
}  # fmt: skip
POSTGRES = {
    "list_data", "drop_data", "diff", "pg_connect", "pg_query", "pg_execute", "pg_schemas", "pg_tables",
    "pg_columns", "pg_explain", "pg_load", "st_tables", "st_geometry_type", "st_srid", "st_extent",
    "pg_top_queries", "pg_index_advice", "pg_health",
}  # fmt: skip


def _declared(tmp_path: Path, env: dict[str, str] | None = None) -> list[ToolDef]:
    return app.declared_tools(load_settings(tmp_path, env or {}, tmp_path / "none.env"))


def _names(tmp_path: Path, *names: str) -> list[str]:
    return [t.name for t in toolsets.select(_declared(tmp_path), names)]


@pytest.mark.anyio
@pytest.mark.parametrize("toolset", ["analyst", "frames", "postgres", "dbt", "read-only"])
async def test_serving_one_toolset_lists_exactly_its_tools(project: Path, toolset: str) -> None:
    expected = {t.name for t in toolsets.members(toolset, _declared(project))}
    async with inmemory(project, {"DATA_PLATFORM_TOOLS": toolset}) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        prompts = {p.name for p in (await client.list_prompts()).prompts}
    assert set(listed) == expected
    if toolset == "dbt":  # a command whose family serves no tool is no prompt either
        assert prompts == {c.name for c in COMMANDS if c.family == "dbt"} and prompts
    if toolset == "postgres":
        assert set(listed) == POSTGRES
    if toolset == "read-only":
        assert not set(listed) & WRITERS
        assert {"pg_query", "read_csv", "filter", "sql", "diff", "profile"} <= set(listed)
        for tool in listed.values():
            assert tool.annotations.read_only_hint is True, tool.name
            assert tool.annotations.destructive_hint is False, tool.name


def test_every_writer_is_labelled_so_and_every_read_only_tool_is_not_destructive(tmp_path: Path) -> None:
    declared = {t.name: t for t in _declared(tmp_path)}
    assert set(declared) >= WRITERS
    for name, tool in declared.items():  # a new tool that writes: add it to WRITERS
        assert tool.read_only == (name not in WRITERS), name
    assert declared["drop_data"].destructive and declared["pg_load"].destructive


def test_names_exclusions_and_read_only_narrowing(tmp_path: Path) -> None:
    everything = _names(tmp_path)
    assert _names(tmp_path, "all") == everything and len(everything) == len(set(everything))
    assert _names(tmp_path, "-dbt") == [n for n in everything if not n.startswith("dbt_") and n not in (
        "list_data", "drop_data")]  # fmt: skip
    assert set(_names(tmp_path, "postgres", "read-only")) == POSTGRES - {"drop_data", "pg_execute", "pg_load"}
    assert set(_names(tmp_path, "frames", "pg_query", "-sample")) == {
        "list_data", "drop_data", "describe", "head", "tail", "filter", "select", "groupby", "join",
        "sql", "sort", "diff", "pg_query",
    }  # fmt: skip
    assert _names(tmp_path, "analyst", "postgres") == [
        n for n in everything if n in set(_names(tmp_path, "analyst")) | POSTGRES
    ]


def test_an_unknown_name_is_an_error_listing_the_real_ones(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"names unknown tool\(s\) or toolset\(s\): pg_querry, -nope") as err:
        _names(tmp_path, "analyst", "pg_querry", "-nope")
    assert "Toolsets: all, analyst, frames, postgres, dbt, read-only." in str(err.value)
    assert "pg_query" in str(err.value) and "read_csv" in str(err.value)
    off = _declared(tmp_path, {"DATA_PLATFORM_DISABLE": "dbt"})
    with pytest.raises(InputError, match="families turned off by DATA_PLATFORM_DISABLE: dbt"):
        toolsets.select(off, ["dbt_run"], disabled={"dbt"})
    with pytest.raises(InputError, match="leaves no tool to serve"):
        _names(tmp_path, "dbt", "-dbt")


async def _a_tool() -> None:
    """Not served: a declaration's check."""


def test_a_declaration_names_a_real_toolset() -> None:
    with pytest.raises(ValueError, match="unknown toolset"):
        ToolList("frames", toolsets=("analysts",))
    with pytest.raises(ValueError, match="unknown toolset"):
        ToolList("frames", toolsets=()).declare(read_only=True, toolsets=("read-only",))(_a_tool)


def _cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "data_platform", *args],
        cwd=tmp_path,
        env=server_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_an_unknown_name_stops_serve_with_the_real_names(tmp_path: Path) -> None:
    for args, env, source in (
        (("serve", "--tools", "analyst,pg_querry"), None, "--tools"),
        (("serve",), {"DATA_PLATFORM_TOOLS": "analysts"}, "DATA_PLATFORM_TOOLS"),
    ):
        done = _cli(tmp_path, *args, env=env)
        assert done.returncode == 2, done.stderr
        assert f"data-platform: {source} names unknown tool(s) or toolset(s)" in done.stderr
        assert "Toolsets: all, analyst, frames, postgres, dbt, read-only." in done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""


def test_tools_and_doctor_show_what_is_served(tmp_path: Path) -> None:
    chosen = ("postgres", "-pg_execute", "-pg_load", "-drop_data")
    done = _cli(tmp_path, "tools", "--check-budget", "--tools=" + ",".join(chosen))
    assert done.returncode == 0 and done.stdout.startswith(f"{len(_names(tmp_path, *chosen))} tools;"), (
        done.stderr
    )
    done = _cli(tmp_path, "doctor", env={"DATA_PLATFORM_TOOLS": "dbt"})
    served = _names(tmp_path, "dbt")
    line = f"[ok] tools: {len(served)} of {len(_names(tmp_path))} served (DATA_PLATFORM_TOOLS=dbt): "
    assert line + ", ".join(served) in done.stdout
