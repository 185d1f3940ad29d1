"""Everything the server takes from the MCP SDK beyond its documented API, in one place.

Each function below leans on an SDK detail; tests/integration/server/test_sdk.py pins every one of
them, so an SDK upgrade that moves one fails that test, naming the detail, instead of failing the server in
odd places. The rest of the server uses only the public API (`MCPServer.add_tool`,
`add_prompt`, `resource`, `Context`, `mcp.types`).

What is relied on:
- the tool manager (`MCPServer._tool_manager`): a tool's input schema (`Tool.parameters`) and
  the tool names, so the argument boundary can run before the SDK validates;
- a refused argument is raised as `ToolError` whose `__cause__` is pydantic's ValidationError;
- `MCPServer._tool_input_schema(name)`, which the HTTP transport asks for a tool's schema:
  `CompactMCPServer` overrides it to build a tool listed from the kept tool list first;
- the low-level server (`MCPServer._lowlevel_server`): `add_request_handler` for
  `resources/list`, `resources/read` and `completion/complete` (the SDK's decorators pass no
  request context), `create_initialization_options` to advertise `resources.listChanged`,
  and `MCPServer._handle_read_resource` for URIs that are not refs;
- a `Prompt` subclass's `render(arguments, context)` is what `prompts/get` calls;
- how `Tool.from_function` makes a tool's listed schemas (`listed_tool`): the argument model of
  `func_metadata` without the context parameter, and the output schema of the return type made
  by `StrictJsonSchema` with its root `$ref` inlined; `listed_tool` makes the same without
  building the tool, for a start with no kept tool list (server/toolcache.py).

Not taken from the SDK: its JSON pre-parse (`FuncMetadata.pre_parse_json`). The argument
boundary (`arguments.coerce`) decodes a list or object sent as a string itself, because it must
do so before a single value is wrapped into a list and after a synonym is renamed, and the SDK's
runs later, inside the call, on the tool's own argument names only. It then finds nothing left
to decode in what the boundary prepared (tests/integration/server/test_sdk.py checks that too).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.context_injection import find_context_parameter
from mcp.server.mcpserver.utilities.func_metadata import StrictJsonSchema, _inline_root_ref, func_metadata
from mcp.types import Tool, ToolAnnotations
from pydantic import TypeAdapter, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue

Handler = Callable[[Any, Any], Awaitable[Any]]


def tool_schema(server: MCPServer, name: str) -> dict[str, Any] | None:
    """The input schema of a registered tool (as the SDK validates it), or None if unknown."""
    found = server._tool_manager.get_tool(name)
    return None if found is None else found.parameters


def tool_names(server: MCPServer) -> list[str]:
    return [t.name for t in server._tool_manager.list_tools()]


def validation_errors(exc: ToolError) -> Sequence[Mapping[str, Any]] | None:
    """The validator's errors when the SDK refused the arguments, else None (another failure)."""
    cause = exc.__cause__
    if isinstance(cause, ValidationError):
        return list(cause.errors(include_url=False))
    return None


def add_request_handler(server: MCPServer, method: str, params_type: type, handler: Handler) -> None:
    """Answer `method` at the protocol layer, where the handler gets the request context."""
    server._lowlevel_server.add_request_handler(method, params_type, handler)


def sdk_read_resource(server: MCPServer) -> Handler:
    """The SDK's own `resources/read` handler, for URIs the server does not answer itself."""
    return server._handle_read_resource


def advertise_resources_list_changed(server: MCPServer) -> None:
    """Advertise `resources.listChanged` on every transport: the SDK builds the initialize answer
    from `create_initialization_options()`, called without options by each runner."""
    low = server._lowlevel_server
    original = low.create_initialization_options

    def create(notification_options: NotificationOptions | None = None, *args: Any, **kwargs: Any) -> Any:
        options = notification_options or NotificationOptions()
        options.resources_changed = True
        return original(options, *args, **kwargs)

    low.create_initialization_options = create  # type: ignore[method-assign]  # the SDK has no hook for it


_PLAIN = (str, int, bool, type(None))


class _PlainDefaults:
    """pydantic encodes each default through a new TypeAdapter (a third of a schema's cost);
    a str, int, bool, None or finite float encodes as itself, so those skip it."""

    def encode_default(self, dft: Any) -> Any:
        if type(dft) in _PLAIN or (type(dft) is float and math.isfinite(dft)):
            return dft
        return super().encode_default(dft)  # type: ignore[misc]  # the generator's own


class _InputSchema(_PlainDefaults, GenerateJsonSchema):
    pass


class _OutputSchema(_PlainDefaults, StrictJsonSchema):
    pass


def listed_tool(
    fn: Callable[..., Any],
    *,
    name: str,
    description: str,
    annotations: ToolAnnotations,
    output_type: Any,
    outputs: dict[Any, JsonSchemaValue],
) -> Tool:
    """What `tools/list` gives for `fn` once `add_tool(..., structured_output=True)` registered it
    returning `output_type`, made without registering it (no validators, no result conversion):
    each output schema is made once per type and kept in `outputs`."""
    context = find_context_parameter(fn)
    arguments = func_metadata(fn, skip_names=[context] if context else [], structured_output=False).arg_model
    output = outputs.get(output_type)
    if output is None:
        output = outputs[output_type] = _inline_root_ref(
            TypeAdapter(output_type).json_schema(schema_generator=_OutputSchema)
        )
    return Tool(
        name=name,
        description=description,
        input_schema=arguments.model_json_schema(by_alias=True, schema_generator=_InputSchema),
        output_schema=output,
        annotations=annotations,
    )
