"""The tool surface is a contract: names, descriptions, schemas, annotations.

Regenerate after an intended change with:
    data-platform tools > tests/contract/tools.json
"""

from __future__ import annotations

import json
from pathlib import Path

from data_platform.config import load_settings
from data_platform.contract import (
    model_facing_size,
    resource_surface,
    surface_size,
    tool_surface,
    toolset_names,
    toolset_sizes,
)
from suitepaths import TESTS

SNAPSHOT = TESTS / "contract" / "tools.json"
BUDGET_CHARS = 18_000  # what the model reads: names, descriptions, input schemas, every tool served
MAX_TOOLS = 50  # the budget holds at up to this many tools
FULL_LIST_CHARS = 62_000  # the whole tools/list, output schemas included (clients keep those; 48 tools)


def test_tool_surface_matches_snapshot(tmp_path: Path) -> None:
    surface = tool_surface(load_settings(tmp_path, {}, tmp_path / "none.env"))
    committed = json.loads(SNAPSHOT.read_text())
    print(
        f"\ntool list: {len(surface)} tools; model-facing {model_facing_size(surface):,} characters "
        f"(budget {BUDGET_CHARS:,}); whole tools/list {surface_size(surface):,} characters"
    )
    assert [t["name"] for t in surface] == [t["name"] for t in committed], (
        "tool names drifted; regenerate with: data-platform tools > tests/contract/tools.json"
    )
    for now, then in zip(surface, committed, strict=True):
        assert now == then, (
            f"tool {now['name']} drifted from the contract snapshot; if intended, regenerate with: "
            "data-platform tools > tests/contract/tools.json"
        )


def test_every_tool_is_annotated_and_described(tmp_path: Path) -> None:
    for t in tool_surface(load_settings(tmp_path, {}, tmp_path / "none.env")):
        ann = t.get("annotations", {})
        assert "readOnlyHint" in ann and "destructiveHint" in ann, t["name"]
        assert t["description"] and len(t["description"]) <= 600, t["name"]
        assert "outputSchema" in t, t["name"]
        if ann["readOnlyHint"]:
            assert not ann["destructiveHint"], t["name"]


def test_tool_list_budget(tmp_path: Path) -> None:
    surface = tool_surface(load_settings(tmp_path, {}, tmp_path / "none.env"))
    assert len(surface) <= MAX_TOOLS
    assert model_facing_size(surface) <= BUDGET_CHARS
    assert surface_size(surface) <= FULL_LIST_CHARS


TOOLSETS_SNAPSHOT = TESTS / "contract" / "toolsets.json"


def test_each_toolset_matches_its_snapshot_and_fits(tmp_path: Path) -> None:
    """Regenerate after an intended change with:
    data-platform tools --toolsets > tests/contract/toolsets.json"""
    settings = load_settings(tmp_path, {}, tmp_path / "none.env")
    surface = tool_surface(settings)
    sizes = toolset_sizes(settings, surface)
    print("\ntoolsets: " + "; ".join(f"{n}: {k} tools, {c:,} characters" for n, (k, c) in sizes.items()))
    assert toolset_names(settings) == json.loads(TOOLSETS_SNAPSHOT.read_text()), (
        "a toolset's tools drifted; if intended, regenerate with: "
        "data-platform tools --toolsets > tests/contract/toolsets.json"
    )
    assert sizes["all"] == (len(surface), model_facing_size(surface))
    for name, (count, chars) in sizes.items():
        assert 0 < count <= MAX_TOOLS and chars <= BUDGET_CHARS, name


RESOURCES_SNAPSHOT = TESTS / "contract" / "resources.json"
RESOURCES_BUDGET_CHARS = 1_000  # resource templates: shown by clients, not in the tool list's budget


def test_resource_templates_match_snapshot_and_budget(tmp_path: Path) -> None:
    """Regenerate after an intended change with: data-platform resources > tests/contract/resources.json"""
    surface = resource_surface(load_settings(tmp_path, {}, tmp_path / "none.env"))
    assert surface == json.loads(RESOURCES_SNAPSHOT.read_text())
    assert [t["uriTemplate"] for t in surface] == ["dataref://{name}"]
    assert surface_size(surface) <= RESOURCES_BUDGET_CHARS


# -- prompts: the plugin's commands; their own budget, outside the tool list's ---------------
# Regenerate after an intended change with: data-platform prompts > tests/contract/prompts.json

PROMPTS_SNAPSHOT = TESTS / "contract" / "prompts.json"
PROMPT_LIST_CHARS = 3_000  # the whole prompts/list (names, descriptions, arguments)
PROMPT_TEXT_CHARS = 2_500  # one rendered prompt's instructions


def test_prompt_surface_matches_snapshot_and_budget(tmp_path: Path) -> None:
    from data_platform.commands import COMMANDS
    from data_platform.contract import prompt_surface

    surface = prompt_surface(load_settings(tmp_path, {}, tmp_path / "none.env"))
    size = surface_size(surface)
    print(f"\nprompts: {len(surface)}; prompts/list {size:,} characters (budget {PROMPT_LIST_CHARS:,})")
    assert surface == json.loads(PROMPTS_SNAPSHOT.read_text()), (
        "prompts drifted from the contract snapshot; if intended, regenerate with: "
        "data-platform prompts > tests/contract/prompts.json"
    )
    assert size <= PROMPT_LIST_CHARS
    for c in COMMANDS:
        assert len(c.body) <= PROMPT_TEXT_CHARS, c.name
