"""The six commands as MCP prompts (`prompts/list`, `prompts/get`), from `data_platform.commands`.

Clients other than Claude Code (Claude Desktop, VS Code, Cursor, the Inspector) offer these
where Claude Code offers the plugin's slash commands; both come from the same source, and
tests/integration/plugin/test_prompts.py proves they agree. Arguments arrive as strings (the protocol has no
other type); each is checked against its declared kind and refused in the project's
`Error: ...` shape, as an unknown argument is.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import Message, Prompt, PromptArgument, UserMessage
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS
from pydantic import Field

from data_platform.commands import COMMANDS, Command
from data_platform.errors import InputError


class CommandPrompt(Prompt):
    """A prompt rendered by its command: the SDK's own checks would answer a missing argument
    with a Python set and a bad one with "Error rendering prompt"; ours say what to send."""

    fn: Callable[..., str] = Field(exclude=True)  # the command's text

    async def render(self, arguments: dict[str, Any] | None, context: Any) -> list[Message]:
        return [UserMessage(self.fn(**(arguments or {})))]


def _renderer(cmd: Command) -> Callable[..., str]:
    def render(**values: Any) -> str:
        try:
            return cmd.render(values)
        except InputError as exc:
            raise MCPError(INVALID_PARAMS, f"Error: {exc}") from None

    return render


def prompt_for(cmd: Command) -> CommandPrompt:
    return CommandPrompt(
        name=cmd.name,
        description=cmd.description,
        arguments=[
            PromptArgument(name=a.name, description=a.description, required=a.required) for a in cmd.args
        ],
        fn=_renderer(cmd),
    )


def register(server: MCPServer, disabled: Collection[str] = ()) -> None:
    """Every command's prompt, but those of a tool family turned off (their tools are absent)."""
    for cmd in COMMANDS:
        if cmd.family not in disabled:
            server.add_prompt(prompt_for(cmd))
