"""Tell the client when the registry's refs changed, and which refs a tool call created.

Clients that show resources (Claude Desktop, the Inspector, VS Code) cache `resources/list`;
`notifications/resources/list_changed` tells them to list again. The registry is a folder that
other processes (a second server, the CLI) share, so a change is found by comparing the folder's
fingerprint (names and inodes, one directory read) with what this server last told its client:
after every tool call, and when the client lists resources itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mcp.server.mcpserver import Context

from data_platform.server.state import AppState

log = logging.getLogger("data_platform")
URI_SCHEME = "dataref"


def ref_uri(name: str) -> str:
    return f"{URI_SCHEME}://{name}"


@dataclass
class RefWatch:
    """The registry as this server's client last knew it (None: not looked yet)."""

    seen: dict[str, int] | None = None


def watch_of(state: AppState) -> RefWatch:
    return state.service("ref-watch", RefWatch)


def fingerprint(state: AppState) -> dict[str, int]:
    try:
        return state.registry.fingerprint()
    except OSError:  # an unreadable folder: the tools say so; the watch stays quiet
        return {}


def before_call(state: AppState) -> dict[str, int]:
    """The fingerprint before a call; the first one is also what the client is assumed to know."""
    now = fingerprint(state)
    watch = watch_of(state)
    if watch.seen is None:
        watch.seen = now
    return now


async def after_call(ctx: Context, state: AppState, before: dict[str, int]) -> set[str]:
    """Names created or replaced during the call; sends list_changed if the registry moved on
    since the client last heard (this call's work, or another process's since the last call)."""
    after = fingerprint(state)
    watch = watch_of(state)
    if after != watch.seen:
        watch.seen = after
        await send_list_changed(ctx)
    return {name for name, inode in after.items() if before.get(name) != inode}


async def send_list_changed(ctx: Context) -> None:
    """Both ways the SDK delivers it: on the session (handshake-era clients, e.g. Claude Code)
    and on the subscription bus (2026-07-28 clients, which get it on `subscriptions/listen`)."""
    try:
        await ctx.session.send_resource_list_changed()
    except Exception as exc:  # a closed connection must not fail the tool call it follows
        log.debug("resources/list_changed not sent on the session: %s", exc)
    try:
        await ctx.notify_resources_changed()
    except Exception as exc:
        log.debug("resources/list_changed not published: %s", exc)
