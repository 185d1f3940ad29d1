"""The tool surface as data: what `tools/list` advertises, for the contract snapshot."""

from __future__ import annotations

import json
from typing import Any

import anyio

from data_platform.config import Settings


def tool_surface(settings: Settings) -> list[dict[str, Any]]:
    """Every tool's name, description, schemas and annotations, sorted by name."""
    from data_platform.server import build_server

    server = build_server(settings)
    tools = anyio.run(server.list_tools)
    return sorted(
        (t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools),
        key=lambda t: t["name"],
    )


def surface_size(surface: list[dict[str, Any]]) -> int:
    """Characters of the whole tool list as a client receives it (compact JSON)."""
    return len(json.dumps(surface, separators=(",", ":")))


def model_facing_size(surface: list[dict[str, Any]]) -> int:
    """Characters of what a host puts in the model's context: name, description, input schema.

    Hosts such as Claude Code give the model each tool's name, description and input
    schema; output schemas and annotations stay with the client. This is the budget.
    """
    seen = [{k: t.get(k) for k in ("name", "description", "inputSchema")} for t in surface]
    return len(json.dumps(seen, separators=(",", ":")))


def toolset_names(settings: Settings) -> dict[str, list[str]]:
    """Each toolset's tool names (sorted) among the families switched on: `tools --toolsets`."""
    from data_platform.server.app import declared_tools
    from data_platform.server.toolsets import TOOLSETS, select

    declared = declared_tools(settings)
    return {name: sorted(t.name for t in select(declared, [name])) for name in TOOLSETS}


def toolset_sizes(settings: Settings, surface: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """toolset -> (tools, model-facing characters), measured on `surface` (every tool listed)."""
    out = {}
    for name, names in toolset_names(settings).items():
        chosen = [t for t in surface if t["name"] in set(names)]
        out[name] = (len(chosen), model_facing_size(chosen))
    return out


def resource_surface(settings: Settings) -> list[dict[str, Any]]:
    """What `resources/templates/list` advertises (refs themselves are data, not contract).

    Clients show templates to people, not to the model's tool list: their own budget.
    """
    from data_platform.server import build_server

    server = build_server(settings)
    templates = anyio.run(server.list_resource_templates)
    return sorted(
        (t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in templates),
        key=lambda t: t["uriTemplate"],
    )


# -- prompts: not in the tool list's budget; their own, in tests/integration/server/test_contract.py


def prompt_surface(settings: Settings) -> list[dict[str, Any]]:
    """Every prompt's name, description and arguments as `prompts/list` gives them, by name."""
    from data_platform.server import build_server

    server = build_server(settings)
    prompts = anyio.run(server.list_prompts)
    return sorted(
        (p.model_dump(mode="json", by_alias=True, exclude_none=True) for p in prompts),
        key=lambda p: p["name"],
    )
