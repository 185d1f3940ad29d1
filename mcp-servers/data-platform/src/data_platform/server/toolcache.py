"""The `tools/list` answer kept between starts, so a start does not rebuild every tool's schemas.

Building a tool's argument model and its input and output JSON schemas with pydantic costs about
3 ms a tool: with 48 tools, a third of what the server adds to a bare MCP server's start (issue
27). The answer depends on the code only, so it is kept beside the bytecode
(`server/__pycache__/tool-list.json`) under a stamp of what it was built from: the Python,
pydantic and mcp versions, the served tools' declarations, and the size and modification time of
every source file of the package (and of any other file declaring a served tool). A start whose
stamp is kept lists the kept answer; any other start lists every tool from its signature
(`boundary.listed_tool`: its argument model and JSON schemas, each output schema once per result
type, no validators: ~1.5 ms a tool) and keeps that answer. Either way each tool is built when it
is first called (`CompactMCPServer`). A folder that cannot be written just means no cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import data_platform
from data_platform.errors import StorageError
from data_platform.pictures.files import write_atomic
from data_platform.server.declare import ToolDef

CACHE_FILE = Path(__file__).parent / "__pycache__" / "tool-list.json"
KEEP = 4  # answers kept: served tool selections differ (DATA_PLATFORM_TOOLS, families switched off)
PACKAGE = Path(data_platform.__file__).parent


def _sources(tools: Sequence[ToolDef]) -> list[str]:
    """The package's source files, and those of tools declared outside it (e.g. by a test)."""
    files: set[str] = set()
    for folder, dirs, names in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        files.update(os.path.join(folder, n) for n in names if n.endswith(".py"))
    for decl in tools:
        code = getattr(inspect.unwrap(decl.fn), "__code__", None)
        if code is not None:
            files.add(code.co_filename)
    return sorted(files)


def stamp(tools: Sequence[ToolDef]) -> str:
    """What the listed tools were built from; any change gives another stamp."""
    digest = hashlib.sha256(sys.version.encode())
    for dist in ("mcp", "mcp-types", "pydantic", "pydantic-core"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            digest.update(f"\0{dist} {metadata.version(dist)}".encode())
    for d in tools:
        fn = d.fn
        digest.update(
            f"\0{d.name} {fn.__module__}.{fn.__qualname__} {d.read_only} {d.destructive} "
            f"{d.idempotent} {d.open_world}".encode()
        )
    for path in _sources(tools):
        try:
            st = os.stat(path)
        except OSError:
            digest.update(f"\0{path} missing".encode())
            continue
        digest.update(f"\0{path} {st.st_size} {st.st_mtime_ns}".encode())
    return digest.hexdigest()


def _read(path: Path) -> dict[str, Any]:
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return kept if isinstance(kept, dict) else {}


def load(path: Path, key: str) -> list[dict[str, Any]] | None:
    """The tools kept under `key` (as `tools/list` gives them), or None."""
    tools = _read(path).get(key)
    return tools if isinstance(tools, list) else None


def save(path: Path, key: str, tools: list[dict[str, Any]]) -> None:
    """Keep `tools` under `key`, with the last few other answers; failing to write is no error."""
    kept = {k: v for k, v in _read(path).items() if k != key}
    kept = dict(list(kept.items())[-(KEEP - 1) :])
    kept[key] = tools
    with contextlib.suppress(StorageError):
        write_atomic(path, json.dumps(kept, separators=(",", ":")).encode())
