"""Drive the real server over stdio with the SDK's client, as an MCP host would."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import CallToolResult, TextContent

# Variables a developer's shell may carry that would change what the server sees.
_SCRUB = (
    "POSTGRES_URL",
    "DATABASE_URL",
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "DBT_PROJECT_DIR",
    "DBT_PROFILES_DIR",
    "DBT_TARGET",
)


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB and not k.startswith("DATA_PLATFORM_")}
    env["HOME"] = env.get("HOME", "/root")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def server_params(cwd: Path, env: dict[str, str] | None = None) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "data_platform", "serve", "--log-level", "INFO"],
        env=server_env(env),
        cwd=str(cwd),
    )


@contextlib.asynccontextmanager
async def inmemory(
    cwd: Path, env: dict[str, str] | None = None, **client_options: Any
) -> AsyncIterator[Client]:
    """A fresh `build_server(...)` for project `cwd`, driven through the SDK's in-memory client.

    The same protocol as stdio (schemas, validation, isError, structured content) without a
    process: use it for every adapter test; keep `connect` for what needs a process.
    `env` is the server's whole environment (scrubbed like a subprocess's); no system file.
    `client_options` go to the SDK's `Client` (e.g. `mode="legacy"`, `message_handler=...`).
    """
    from data_platform.config import load_settings
    from data_platform.server import build_server

    LOG_DIR.mkdir(parents=True, exist_ok=True)  # the transcript of answers goes there
    settings = load_settings(cwd, server_env(env), system_file=cwd / ".no-system-postgres.env")
    # Subprocesses the server starts (the dbt worker) inherit the process environment, as in a
    # real server process: give them `env` for the client's lifetime.
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        with _server_log(settings):
            async with Client(build_server(settings), cache=None, **client_options) as client:
                _record_outputs(client)
                yield client
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _server_log(settings: Any) -> Iterator[None]:
    """The in-process server's log lines, as `serve` writes them (redacted), into LOG_DIR,
    so that the session's secret scan reads them as it reads a subprocess's stderr."""
    from data_platform.cli import log_secrets
    from data_platform.redact import RedactingFilter

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(INMEMORY_LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(log_secrets(settings)))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


LOG_DIR = Path(os.environ.get("DATA_PLATFORM_TEST_LOG_DIR", Path(__file__).parent / ".logs"))
INMEMORY_LOG = LOG_DIR / f"inmemory-{os.getpid()}.log"  # this process's in-memory servers


def log_mark() -> int:
    """Where the in-memory servers' log ends now (give it to `log_since`)."""
    return INMEMORY_LOG.stat().st_size if INMEMORY_LOG.exists() else 0


def log_since(mark: int) -> str:
    """What the in-memory servers logged after `log_mark()` gave `mark`."""
    return INMEMORY_LOG.read_bytes()[mark:].decode("utf-8", "replace")


@contextlib.asynccontextmanager
async def connect(
    cwd: Path, env: dict[str, str] | None = None, log_name: str = "server"
) -> AsyncIterator[Client]:
    """A live server subprocess in `cwd` and a connected client; stderr goes to tests/.logs/."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    params = server_params(cwd, env)
    with open(LOG_DIR / f"{log_name}.log", "a", encoding="utf-8") as log:
        async with Client(stdio_client(params, errlog=log), cache=None) as client:
            _record_outputs(client)
            yield client


# Every tool answer of the session is kept in tests/.logs/transcript-<pid>.jsonl so that the
# session-end secret scan (tests/secret_scan.py) can prove no output ever carried a password.
TRANSCRIPT = LOG_DIR / f"transcript-{os.getpid()}.jsonl"


def record_output(tool: str, result: CallToolResult) -> None:
    line = {"tool": tool, "is_error": result.is_error, "text": text_of(result)}
    if result.structured_content is not None:
        line["structured"] = result.structured_content
    TRANSCRIPT.parent.mkdir(parents=True, exist_ok=True)  # an in-memory-only session makes no log first
    with open(TRANSCRIPT, "a", encoding="utf-8") as out:
        out.write(json.dumps(line, default=str) + "\n")


def _record_outputs(client: Client) -> None:
    original = client.call_tool

    @functools.wraps(original)
    async def recording(name: str, *args: Any, **kwargs: Any) -> CallToolResult:
        result = await original(name, *args, **kwargs)
        record_output(name, result)
        return result

    client.call_tool = recording  # type: ignore[method-assign]


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def call(client: Client, tool: str, **arguments: Any) -> CallToolResult:
    """Call a tool; assert it succeeded and return the result."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, f"{tool} failed: {text_of(result)}"
    return result


async def call_error(client: Client, tool: str, **arguments: Any) -> str:
    """Call a tool that must fail cleanly; return its error text."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} should have failed but returned: {text_of(result)[:500]}"
    text = text_of(result)
    assert "Traceback" not in text
    return text
