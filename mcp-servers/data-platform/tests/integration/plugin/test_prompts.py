"""The six commands as MCP prompts, and proof that they agree with the plugin's command files.

The plugin's files are read as Claude Code reads them (scripts/check_plugin.py's frontmatter
reader, not our generator), and the prompts through the SDK's client.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from mcp.client.client import Client
from mcp.shared.exceptions import MCPError

from data_platform import commands
from data_platform.commands import COMMANDS
from harness import inmemory
from suitepaths import REPO

pytestmark = pytest.mark.anyio

PLUGIN_COMMANDS = REPO / "plugins" / "data-platform" / "commands"
MCP_JSON = REPO / "plugins" / "data-platform" / ".mcp.json"
NAMES = ["explain", "ingest", "lineage", "profile", "run", "schema"]

# Typed arguments and the line a person would type for them, written out by hand: the
# rendered prompt must be the command file's body with this line for $ARGUMENTS.
CASES: list[tuple[str, dict[str, str], str]] = [
    ("ingest", {"source": "data/sales_2025.csv", "name": "sales"}, "data/sales_2025.csv as sales"),
    ("ingest", {"source": "SELECT * FROM shop.orders"}, "SELECT * FROM shop.orders"),
    ("profile", {"data_ref": "sales", "columns": "region amount"}, "sales region amount"),
    ("schema", {"target": "public.orders"}, "public.orders"),
    ("schema", {}, ""),
    (
        "explain",
        {"query": "select * from t where id = 1", "analyze": "true"},
        "select * from t where id = 1 analyze",
    ),
    ("explain", {"query": "select 1", "analyze": "false"}, "select 1"),
    ("lineage", {"node": "stg_orders", "direction": "downstream", "depth": "2"}, "stg_orders downstream 2"),
    (
        "run",
        {"selection": "stg_orders+", "full_refresh": "yes", "command": "build"},
        "stg_orders+ --full-refresh build",
    ),
    ("run", {}, ""),
]


def _check_plugin() -> ModuleType:
    path = REPO / "scripts" / "check_plugin.py"
    spec = importlib.util.spec_from_file_location("check_plugin", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _text(result: object) -> str:
    messages = result.messages  # type: ignore[attr-defined]
    assert len(messages) == 1 and messages[0].role == "user"
    return messages[0].content.text


async def _get_error(client: Client, name: str, args: dict[str, str]) -> str:
    with pytest.raises(MCPError) as caught:
        await client.get_prompt(name, args)
    message = caught.value.message
    assert message.startswith("Error: "), message
    assert "validation" not in message and "Traceback" not in message, message
    return message


async def test_prompts_list_the_six_commands_with_typed_arguments(project: Path) -> None:
    async with inmemory(project) as client:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
    assert sorted(listed) == NAMES
    lineage = listed["lineage"]
    assert lineage.description == "Show a dbt node's upstream and downstream lineage as a Mermaid diagram"
    assert [(a.name, a.required) for a in lineage.arguments] == [
        ("node", True),
        ("direction", False),
        ("depth", False),
    ]
    assert [(a.name, a.required) for a in listed["ingest"].arguments] == [("source", True), ("name", False)]
    assert [(a.name, a.required) for a in listed["run"].arguments] == [
        ("selection", False),
        ("full_refresh", False),
        ("command", False),
    ]
    for prompt in listed.values():
        assert all(a.description for a in prompt.arguments), prompt.name


async def test_plugin_command_files_and_prompts_agree(project: Path) -> None:
    """Same names, descriptions, arguments (in the hint, in order) and body, through the client."""
    check = _check_plugin()
    files = {p.stem: check.frontmatter(str(p)) for p in sorted(PLUGIN_COMMANDS.glob("*.md"))}
    assert sorted(files) == NAMES
    async with inmemory(project) as client:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
        assert sorted(listed) == sorted(files)
        for name, (meta, body) in files.items():
            assert listed[name].description == meta["description"], name
            hint = meta["argument-hint"]
            source = commands.command(name)
            assert [a.name for a in listed[name].arguments] == [a.name for a in source.args], name
            # Each argument's part of the hint, in the arguments' order.
            at = 0
            for arg in source.args:
                found = hint.find(arg.hint, at)
                assert found >= at, (name, arg.name, hint)
                at = found + len(arg.hint)
            assert hint == " ".join(a.hint for a in source.args), name
            assert body.count("$ARGUMENTS") == 1, name
        for name, args, line in CASES:
            body = files[name][1].removeprefix("\n")  # the blank line after the frontmatter
            assert _text(await client.get_prompt(name, args)) == body.replace("$ARGUMENTS", line), (
                name,
                args,
            )


def test_committed_command_files_are_the_generated_ones() -> None:
    assert commands.plugin_commands_dir() == PLUGIN_COMMANDS
    assert commands.plugin_drift(PLUGIN_COMMANDS) == []
    for c in COMMANDS:
        assert (PLUGIN_COMMANDS / f"{c.name}.md").read_text(encoding="utf-8") == c.command_file()


def test_generator_writes_and_checks_the_plugin_files(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "data_platform", "prompts"]
    out = subprocess.run([*cli, "--write-plugin", str(tmp_path)], capture_output=True, text=True, check=True)
    assert "6 command file(s) written" in out.stdout
    for name in NAMES:
        assert (tmp_path / f"{name}.md").read_bytes() == (PLUGIN_COMMANDS / f"{name}.md").read_bytes()
    ok = subprocess.run([*cli, "--check-plugin", str(tmp_path)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
    # A hand edit in the generated file, and a stray command, are both drift.
    run = tmp_path / "run.md"
    run.write_text(run.read_text().replace("Validate first", "Check first"))
    (tmp_path / "extra.md").write_text("---\ndescription: x\n---\n")
    drift = subprocess.run([*cli, "--check-plugin", str(tmp_path)], capture_output=True, text=True)
    assert drift.returncode == 1
    assert "run.md: differs" in drift.stdout and "extra.md: not a command" in drift.stdout
    again = subprocess.run(
        [*cli, "--write-plugin", str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert "1 command file(s) written" in again.stdout
    assert run.read_bytes() == (PLUGIN_COMMANDS / "run.md").read_bytes()


async def test_prompt_arguments_are_checked_and_refused_in_the_error_shape(project: Path) -> None:
    async with inmemory(project) as client:
        msg = await _get_error(client, "lineage", {"node": "stg_orders", "direction": "upstreem"})
        assert "direction is one of upstream, downstream, not 'upstreem'" in msg
        assert 'Did you mean "upstream"' in msg
        # A choice's unique prefix (dbt_lineage's own words are up/down) is that choice.
        text = _text(await client.get_prompt("lineage", {"node": "stg_orders", "direction": "up"}))
        assert text.startswith("Show the dbt lineage of: stg_orders upstream\n")
        msg = await _get_error(client, "lineage", {"node": "stg_orders", "depth": "two"})
        assert "depth is a whole number of 1 or more, not 'two'" in msg
        msg = await _get_error(client, "lineage", {"nod": "stg_orders"})
        assert "no argument 'nod'" in msg and 'Did you mean "node"' in msg and "node, direction, depth" in msg
        msg = await _get_error(client, "lineage", {})
        assert "The lineage prompt needs node" in msg
        msg = await _get_error(client, "explain", {"query": "select 1", "analyze": "maybe"})
        assert "analyze is true or false, not 'maybe'" in msg
        msg = await _get_error(client, "ingest", {"source": "  "})
        assert "source is required" in msg
        # The server keeps serving after refusals.
        assert "Run dbt for: tag:daily" in _text(await client.get_prompt("run", {"selection": "tag:daily"}))


async def test_a_disabled_family_has_no_prompts(project: Path) -> None:
    async with inmemory(project, env={"DATA_PLATFORM_DISABLE": "dbt,postgres"}) as client:
        names = sorted(p.name for p in (await client.list_prompts()).prompts)
    assert names == ["ingest", "profile"]


async def test_prompts_off_serves_none_and_the_plugin_turns_them_off(project: Path) -> None:
    """Claude Code shows a server's prompts as slash commands beside the plugin's own: the plugin's
    `.mcp.json` turns them off, and then the server lists none (and says it has none to get)."""
    plugin_env = json.loads(MCP_JSON.read_text())["mcpServers"]["data-platform"]["env"]
    assert plugin_env["DATA_PLATFORM_PROMPTS"] == "0"
    async with inmemory(project, env={"DATA_PLATFORM_PROMPTS": "0"}) as client:
        assert (await client.list_prompts()).prompts == []
        with pytest.raises(MCPError):
            await client.get_prompt("profile", {"data_ref": "x"})
