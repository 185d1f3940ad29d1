"""The one place where core results and errors become MCP tool results.

`register_tool(server, decl)` serves a declared tool (server/declare.py) wrapped so
that: expected errors become `isError` results reading `Error: <what went wrong> <what to
do>`; anything else is logged with its traceback (redacted) under a short id and answered as
one generic internal error carrying that id, never the exception's text; every text is
redacted and bounded; and the structured content is the returned model, validated against
the advertised output schema.
"""

from __future__ import annotations

import base64
import functools
import inspect
import logging
import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import (
    CallToolResult,
    ContentBlock,
    ImageContent,
    ResourceLink,
    TextContent,
    Tool,
    ToolAnnotations,
)
from pydantic import BaseModel, ConfigDict

from data_platform.errors import DataPlatformError
from data_platform.redact import redact
from data_platform.render import bound
from data_platform.server import refwatch, sdk
from data_platform.server.calls import calling, run_work
from data_platform.server.declare import ToolDef
from data_platform.server.state import AppState

log = logging.getLogger("data_platform")
T = TypeVar("T")


class ToolResult(BaseModel):
    """Base of every tool's result model: `render()` is the text the model reads."""

    # Validators and serializers are built at a model's first use, not when its module is
    # imported at start (issue 27).
    model_config = ConfigDict(defer_build=True)

    def render(self) -> str:  # pragma: no cover - every subclass overrides
        return self.model_dump_json()

    def ref_names(self) -> list[str]:
        """The data_refs this answer is about: those the call created get a resource link."""
        return []

    def images(self) -> list[bytes]:
        """PNG pictures shown beside the text (kept out of the structured content)."""
        return []


def state_of(ctx: Context[Any, Any]) -> AppState:  # the SDK's Context does not know our lifespan type
    return ctx.request_context.lifespan_context


async def run_sync(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking core work in a worker thread so the server keeps answering (and can cancel it)."""
    return await run_work(fn, *args, **kwargs)


def internal_error_text(tool: str, error_id: str) -> str:
    """The one answer for an unexpected exception: its id, never its text (the log has both)."""
    return (
        f"Internal error {error_id} in {tool}: the server is still running. Retry with different "
        f"arguments; if it persists, report the id {error_id} (the server's log has the details)."
    )


def internal_error_id() -> str:
    return uuid.uuid4().hex[:8]


def error_result(message: str, max_chars: int) -> CallToolResult:
    """A failed call the model can read and correct: `isError` with `Error: ...`."""
    return CallToolResult(
        content=[TextContent(type="text", text=bound("Error: " + message, max_chars))], is_error=True
    )


def ref_link(name: str) -> ResourceLink:
    """A link to a ref the call created: clients that show resources can open its preview."""
    return ResourceLink(type="resource_link", uri=refwatch.ref_uri(name), name=name, mime_type="text/csv")


def register_tool(server: MCPServer, decl: ToolDef) -> None:
    """Serve one declared tool `fn(..., ctx: Context) -> SomeResult` with its honest annotations."""
    fn = decl.fn
    sig = inspect.signature(fn, eval_str=True)
    result_type = sig.return_annotation
    name = decl.name

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> CallToolResult:
        ctx: Context = kwargs["ctx"]
        state = state_of(ctx)
        secrets = state.secrets()
        before = refwatch.before_call(state)
        try:
            with calling(ctx):  # progress of the call's work goes to this request
                result = await fn(*args, **kwargs)
        except DataPlatformError as exc:
            log.info("%s: %s", name, redact(str(exc), secrets))
            await refwatch.after_call(ctx, state, before)
            return error_result(redact(str(exc), secrets), state.settings.max_output_chars)
        except Exception:
            error_id = internal_error_id()
            log.exception("%s failed unexpectedly: internal error %s", name, error_id)  # with the traceback
            await refwatch.after_call(ctx, state, before)
            return error_result(internal_error_text(name, error_id), state.settings.max_output_chars)
        created = await refwatch.after_call(ctx, state, before)
        text = bound(redact(result.render(), secrets), state.settings.max_output_chars)
        data = result.model_dump(mode="json")
        links = [ref_link(n) for n in result.ref_names() if n in created]
        pictures = [
            ImageContent(type="image", data=base64.b64encode(png).decode("ascii"), mime_type="image/png")
            for png in result.images()
        ]
        content: list[ContentBlock] = [TextContent(type="text", text=text), *pictures, *links]
        return CallToolResult(content=content, structured_content=data)

    wrapper.__signature__ = sig.replace(  # type: ignore[attr-defined]  # typeshed: no __signature__
        return_annotation=Annotated[CallToolResult, result_type]
    )
    wrapper.__annotations__ = {**fn.__annotations__, "return": Annotated[CallToolResult, result_type]}
    server.add_tool(
        wrapper,
        name=name,
        description=_description(decl),
        annotations=_annotations(decl),
        structured_output=True,
    )


def listed_tool(decl: ToolDef, outputs: dict[Any, Any]) -> Tool:
    """What `tools/list` gives for `decl` once `register_tool` served it, made without serving it
    (a start with no kept tool list lists these and builds each tool at its first call).
    `outputs`: the output schemas made so far, by result type (many tools share one)."""
    fn = decl.fn
    return sdk.listed_tool(
        fn,
        name=decl.name,
        description=_description(decl),
        annotations=_annotations(decl),
        output_type=inspect.signature(fn, eval_str=True).return_annotation,
        outputs=outputs,
    )


def _description(decl: ToolDef) -> str:
    return inspect.cleandoc(decl.fn.__doc__ or "")


def _annotations(decl: ToolDef) -> ToolAnnotations:
    return ToolAnnotations(
        read_only_hint=decl.read_only,
        destructive_hint=decl.destructive,
        idempotent_hint=decl.idempotent,
        open_world_hint=decl.open_world,
    )
