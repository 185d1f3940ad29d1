"""A tool call's blocking work in a worker thread, with its progress and cancellation on MCP.

The core knows only `data_platform.work` (progress steps, cancel hooks). Here the call's
`Work` is forwarded to the protocol: its latest step becomes `notifications/progress`
once a period while it advances (the SDK sends nothing unless the client asked for progress
with a token), and a cancelled request (`notifications/cancelled`, or the caller's own
cancel scope) runs the work's cancel hooks, which cancel a running PostgreSQL statement,
while a load stops at its next batch and publishes nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver import Context

from data_platform.work import Running, Step, Work

log = logging.getLogger("data_platform")
T = TypeVar("T")

PROGRESS_PERIOD_S = 1.0  # a notification at most this often, and at least every 2 s while work advances

_CTX: contextvars.ContextVar[Context | None] = contextvars.ContextVar("data_platform_ctx", default=None)


@contextlib.contextmanager
def calling(ctx: Context) -> Iterator[None]:
    """While inside, work run by `run_work` reports its progress to this request's caller."""
    token = _CTX.set(ctx)
    try:
        yield
    finally:
        _CTX.reset(token)


async def run_work(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in a worker thread; progress forwarded; on cancel, the work is stopped."""
    work = Work()
    ctx = _CTX.get()
    running = _running(ctx)
    error: Exception | None = None
    result: Any = None
    async with anyio.create_task_group() as tg:
        if ctx is not None:
            tg.start_soon(_forward, work, ctx)
        try:
            if running is not None:  # counted until the thread returns, even once abandoned
                call = functools.partial(running.run, work, fn, *args, **kwargs)
            else:
                call = functools.partial(work.run, fn, *args, **kwargs)
            result = await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                # The abandoned thread keeps running: stop its I/O now (a cancel request is a
                # network round trip, so off the event loop).
                await anyio.to_thread.run_sync(work.cancel)
            log.info("call cancelled; its work was stopped")
            raise
        except Exception as exc:  # raised after the task group, not wrapped in an ExceptionGroup
            error = exc
        finally:
            tg.cancel_scope.cancel()
    if error is not None:
        raise error
    return result


def _running(ctx: Context | None) -> Running | None:
    """The server's record of running calls (its lifespan state's), when called from a tool."""
    if ctx is None:
        return None
    try:
        return getattr(ctx.request_context.lifespan_context, "running", None)
    except (AttributeError, LookupError, ValueError):
        return None


async def _forward(work: Work, ctx: Context) -> None:
    sent: Step | None = None
    while True:
        await anyio.sleep(PROGRESS_PERIOD_S)
        step = await anyio.to_thread.run_sync(work.latest) if work.probe else work.step
        if step is None or (sent is not None and step.done <= sent.done):
            continue  # the protocol wants progress to increase with each notification
        try:
            await ctx.report_progress(step.done, step.total, step.message)
        except Exception:  # a client gone or a closed stream must not fail the call
            log.debug("progress notification not sent", exc_info=True)
        sent = step
