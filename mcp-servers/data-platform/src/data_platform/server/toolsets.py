"""Which tools are served: the toolsets, and the one function that resolves a selection.

A selection (`DATA_PLATFORM_TOOLS`, or `serve --tools`, which wins) is a comma-separated list of
toolset and tool names; `-name` leaves a tool or a whole set out. Nothing named but exclusions
means "all, minus these". `read-only` narrows: alone it serves every tool whose readOnlyHint is
true; beside other names, only their read-only tools. Families turned off by
DATA_PLATFORM_DISABLE are never imported, so their tools cannot be named. docs/toolsets.md.

A tool joins a set by its declaration (`@TOOLS.declare(..., toolsets=("frames",))`, plus its
module's `ToolList(..., toolsets=...)`); a new set is one line in TOOLSETS.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from data_platform.errors import InputError

if TYPE_CHECKING:
    from data_platform.server.declare import ToolDef

ALL = "all"
READ_ONLY = "read-only"
# name -> what it holds. `all` and `read-only` are computed; the others come from declarations.
TOOLSETS: dict[str, str] = {
    ALL: "every tool (the default)",
    "analyst": "files (read_*/to_*), frame operations, describe/head/tail, diff, profile, chart",
    "frames": "operations on refs (describe ... sample, diff), no file reads or writes",
    "postgres": "pg_* and st_* tools, and diff",
    "dbt": "dbt_* tools",
    READ_ONLY: "only tools whose readOnlyHint is true (nothing changes outside the registry)",
}
# Every declared set also holds the registry's list_data and drop_data.
DECLARED = frozenset(TOOLSETS) - {ALL, READ_ONLY}


def members(name: str, tools: Sequence[ToolDef]) -> list[ToolDef]:
    if name == ALL:
        return list(tools)
    if name == READ_ONLY:
        return [t for t in tools if t.read_only]
    if name in TOOLSETS:
        return [t for t in tools if name in t.toolsets]
    return [t for t in tools if t.name == name]


def select(
    tools: Sequence[ToolDef],
    names: Sequence[str],
    *,
    source: str = "DATA_PLATFORM_TOOLS",
    disabled: Collection[str] = (),
) -> list[ToolDef]:
    """The tools `names` choose from `tools` (declaration order kept); an unknown name is an error."""
    if not names:
        return list(tools)
    known = set(TOOLSETS) | {t.name for t in tools}
    unknown = [n for n in names if n.removeprefix("-") not in known]
    if unknown:
        off = (
            f" (families turned off by DATA_PLATFORM_DISABLE: {', '.join(sorted(disabled))})"
            if disabled
            else ""
        )
        raise InputError(
            f"{source} names unknown tool(s) or toolset(s): {', '.join(unknown)}.",
            hint=f"Toolsets: {', '.join(TOOLSETS)}. Tools{off}: {', '.join(sorted(t.name for t in tools))}. "
            "Prefix a name with - to leave it out (docs/toolsets.md).",
        )
    wanted = [n for n in names if not n.startswith("-")]
    left_out = {t.name for n in names if n.startswith("-") for t in members(n[1:], tools)}
    sets = [n for n in wanted if n != READ_ONLY]
    chosen = {t.name for n in sets for t in members(n, tools)} if sets else {t.name for t in tools}
    if READ_ONLY in wanted:
        chosen &= {t.name for t in tools if t.read_only}
    served = [t for t in tools if t.name in chosen and t.name not in left_out]
    if not served:
        raise InputError(
            f"{source}={','.join(names)} leaves no tool to serve.", hint="Name a toolset: analyst."
        )
    return served
