"""Tools as declarations: a tool is a module-level coroutine plus one `ToolDef` in its module's `TOOLS`.

Where things are: a family's tools live in `server/<family>_tools.py` (frames: frame_tools,
diff_tools, picture_tools, lake_tools; postgres_tools, doctor_tools; dbt_tools; registry_tools),
each calling its core function in `data_platform/<area>/`; `build_server` registers every served
module's `TOOLS`.
Their tests through the protocol, in tests/integration/<family>/: test_frames_server.py,
test_diff.py, test_profile.py, test_chart.py, test_pg_tools.py, test_doctor.py, test_dbt_tools.py
(and test_dbt_every_tool.py), test_server.py (registry); what is served: test_toolsets.py.

Adding a tool: in its family's module (or a new module listed in `app.FAMILY_MODULES`), write

    @TOOLS.declare(read_only=True, idempotent=True, toolsets=("frames",))
    async def my_tool(data_ref: str, ctx: Context) -> MyResult:
        \"\"\"What the model reads.\"\"\"

The name is the function's, the description its docstring, the schema its signature; the
module's `ToolList` gives the family and the sets every tool of it is in (server/toolsets.py
lists the sets). The annotations are promises to the client (docs/toolsets.md):
- read_only: nothing changes outside the registry (no database write, no file outside the
  registry folder, no session-wide setting), whatever the arguments. Making refs is fine.
- destructive: may delete or overwrite what exists (a table, a file, a ref).
- idempotent: calling twice with the same arguments leaves what once leaves.
- open_world: reaches a system outside this process (PostgreSQL, the warehouse through dbt).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from data_platform.server.toolsets import DECLARED

Tool = Callable[..., Awaitable[Any]]
F = TypeVar("F", bound=Tool)


@dataclass(frozen=True)
class ToolDef:
    """One tool: its function, family (switched off together), toolsets and annotations."""

    fn: Tool
    family: str
    toolsets: frozenset[str]
    read_only: bool
    destructive: bool = False
    idempotent: bool = False
    open_world: bool = False

    def __post_init__(self) -> None:
        if self.read_only and self.destructive:
            raise ValueError(f"tool {self.name}: a read-only tool cannot be destructive")

    @property
    def name(self) -> str:
        return self.fn.__name__


def _checked(toolsets: frozenset[str]) -> frozenset[str]:
    """A declared set must be one of toolsets.TOOLSETS (`all` and `read-only` are computed)."""
    if toolsets - DECLARED:
        raise ValueError(
            f"unknown toolset(s) {sorted(toolsets - DECLARED)}; declare one of {sorted(DECLARED)}"
        )
    return toolsets


class ToolList(list[ToolDef]):
    """A module's declared tools, in order; `declare` adds one and returns the function unchanged."""

    def __init__(self, family: str, toolsets: tuple[str, ...]) -> None:
        super().__init__()
        self.family = family
        self.toolsets = _checked(frozenset(toolsets))  # every tool of the module is in these

    def declare(
        self,
        *,
        read_only: bool,
        destructive: bool = False,
        idempotent: bool = False,
        open_world: bool = False,
        toolsets: tuple[str, ...] = (),
    ) -> Callable[[F], F]:
        def add(fn: F) -> F:
            self.append(
                ToolDef(
                    fn,
                    self.family,
                    self.toolsets | _checked(frozenset(toolsets)),
                    read_only=read_only,
                    destructive=destructive,
                    idempotent=idempotent,
                    open_world=open_world,
                )
            )
            return fn

        return add
