"""Pins every SDK detail the server relies on beyond the documented API (server/sdk.py).

An SDK upgrade that changes one of them fails here, by name. Each test drives a plain
`MCPServer` (not ours) through the SDK's in-memory client, so what is pinned is the SDK's
behaviour, not the server's.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import pytest
from mcp import types
from mcp.client.client import Client
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.prompts.base import Message, Prompt, UserMessage
from pydantic import BaseModel, Field

from data_platform.server import sdk

pytestmark = pytest.mark.anyio


def _server() -> MCPServer:
    @contextlib.asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[str]:
        yield "the-lifespan-state"

    server = MCPServer(name="pin", lifespan=lifespan)

    @server.tool()
    def pick(xs: list[str], n: int = 1) -> str:
        """A tool with a list and a bounded number."""
        return ",".join(xs[:n])

    @server.resource("static://a")
    def static_a() -> str:
        return "a"

    return server


async def test_the_tool_manager_gives_schemas_and_names() -> None:
    server = _server()
    schema = sdk.tool_schema(server, "pick")
    assert schema is not None and set(schema["properties"]) == {"xs", "n"} and schema["required"] == ["xs"]
    assert sdk.tool_schema(server, "nope") is None
    assert sdk.tool_names(server) == ["pick"]


async def test_refused_arguments_are_a_tool_error_caused_by_a_validation_error() -> None:
    server = _server()
    with pytest.raises(ToolError) as err:
        await server.call_tool("pick", {"xs": ["a"], "n": "many"})
    errors = sdk.validation_errors(err.value)
    assert errors is not None and errors[0]["loc"] == ("n",) and "url" not in errors[0]
    assert sdk.validation_errors(ToolError("a tool's own failure")) is None


async def test_the_sdk_pre_parse_leaves_prepared_arguments_alone() -> None:
    """The SDK decodes a JSON list sent as a string by itself (after our boundary, which already
    did): a list the boundary prepared reaches the tool unchanged."""
    server = _server()
    assert await server.call_tool("pick", {"xs": '["a", "b"]', "n": 2}) is not None
    async with Client(server) as client:
        for xs in ('["a", "b"]', ["a", "b"]):
            result = await client.call_tool("pick", {"xs": xs, "n": 2})
            assert not result.is_error and result.content[0].text == "a,b"


async def test_protocol_handlers_get_the_request_context_and_the_sdk_read_is_reachable() -> None:
    server = _server()
    sdk_read = sdk.sdk_read_resource(server)

    async def complete(ctx: Any, params: types.CompleteRequestParams) -> types.CompleteResult:
        return types.CompleteResult(completion=types.Completion(values=[str(ctx.lifespan_context)]))

    async def read(ctx: Any, params: types.ReadResourceRequestParams) -> Any:
        if str(params.uri) == "mine://x":
            return types.ReadResourceResult(contents=[types.TextResourceContents(uri="mine://x", text="x")])
        return await sdk_read(ctx, params)

    sdk.add_request_handler(server, "completion/complete", types.CompleteRequestParams, complete)
    sdk.add_request_handler(server, "resources/read", types.ReadResourceRequestParams, read)
    sdk.advertise_resources_list_changed(server)
    async with Client(server) as client:
        assert client.server_capabilities.resources.list_changed is True
        done = await client.complete(
            types.PromptReference(type="ref/prompt", name="p"), {"name": "a", "value": ""}
        )
        assert done.completion.values == ["the-lifespan-state"]
        assert (await client.read_resource("mine://x")).contents[0].text == "x"
        assert (await client.read_resource("static://a")).contents[0].text == "a"


async def test_a_prompt_subclass_renders_prompts_get() -> None:
    class Fixed(Prompt):
        async def render(self, arguments: dict[str, Any] | None, context: Any) -> list[Message]:
            return [UserMessage(f"rendered {arguments}")]

    server = _server()
    server.add_prompt(Fixed(name="fixed", description="d", arguments=[], fn=lambda: ""))
    async with Client(server) as client:
        got = await client.get_prompt("fixed", {"k": "v"})
    assert got.messages[0].content.text == "rendered {'k': 'v'}"


class _Found(BaseModel):
    """A result with a nested model, defaults of every plain JSON kind, and one that is not."""

    class Row(BaseModel):
        name: str
        score: float = 0.5

    rows: list[Row]
    total: int = 0
    note: str | None = None
    exact: bool = False
    tags: list[str] = Field(default_factory=list)
    when: datetime.date = datetime.date(2026, 1, 2)


async def test_listed_tool_makes_what_the_sdk_lists_once_the_tool_is_added() -> None:
    """`sdk.listed_tool` repeats how `Tool.from_function` makes a tool's schemas (the argument
    model without the context, the output schema by `StrictJsonSchema` with its root inlined)."""

    async def find(
        query: str,
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
        mode: Literal["fast", "exact"] = "fast",
        ratio: float = 0.25,
        columns: list[str] | None = None,
        strict: bool = False,
    ) -> _Found:
        """Find rows."""
        raise NotImplementedError

    annotations = types.ToolAnnotations(read_only_hint=True)
    server = MCPServer(name="pin")
    server.add_tool(
        find, name="find", description="Find rows.", annotations=annotations, structured_output=True
    )
    async with Client(server) as client:
        (added,) = (await client.list_tools()).tools
    outputs: dict[Any, Any] = {}
    listed = sdk.listed_tool(
        find,
        name="find",
        description="Find rows.",
        annotations=annotations,
        output_type=_Found,
        outputs=outputs,
    )
    assert listed.model_dump(mode="json", by_alias=True) == added.model_dump(mode="json", by_alias=True)
    assert set(outputs) == {_Found}  # made once per result type
