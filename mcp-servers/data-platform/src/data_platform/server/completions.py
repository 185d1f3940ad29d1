"""`completion/complete`: values for the prompts' arguments and the `dataref://{name}` template.

What each argument completes is declared with the command (`Arg.completes`): ref names from
the registry, a ref's column names, `schema.table` names from the PostgreSQL catalogue, dbt
node names from the manifest the last parse left (dbt is never run for this), data files
under the project. A completion answers while the person types, so every source is cheap or
cached, and none can fail the request: a database that is down or slow gives no table names
(for a while) instead of an error or a wait. At most 100 values, best first, with `hasMore`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.types import (
    CompleteRequestParams,
    CompleteResult,
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)

from data_platform.commands import COMMANDS, Arg
from data_platform.config import Settings
from data_platform.errors import DataPlatformError
from data_platform.server import sdk
from data_platform.server.state import AppState

log = logging.getLogger("data_platform")
MAX_VALUES = 100  # the protocol's cap per answer
REF_TEMPLATE = "dataref://{name}"
PG_WAIT_S = 0.5  # how long one request waits for the catalogue before answering without it
PG_FRESH_S = 30.0  # table names are reused this long, then refreshed behind the answer
PG_DOWN_S = 10.0  # after a failure, no new attempt for this long
DBT_LOCATE_S = 10.0  # where the dbt project is, re-checked this often
WALK_ENTRIES = 2_000  # directory entries a path completion may look at, at most
WALK_DEPTH = 4
DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".json", ".jsonl", ".ndjson")
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".data-platform", "target", "logs"}
_ARGS = {(c.name, a.name): a for c in COMMANDS for a in c.args}


def rank(candidates: Iterable[str], partial: str) -> list[str]:
    """Matches of `partial`, case-insensitive: whole-value prefix first, then a prefix of a
    dotted/underscored/slashed part (`ord` finds `public.orders`, `stg_orders`), then anywhere."""
    needle = partial.lower()
    tiers: tuple[list[str], list[str], list[str]] = ([], [], [])
    for value in dict.fromkeys(candidates):
        low = value.lower()
        if low.startswith(needle):
            tiers[0].append(value)
        elif needle in low:
            parts = low.replace("/", ".").replace("_", ".").split(".")
            tiers[1 if any(p.startswith(needle) for p in parts) else 2].append(value)
    return tiers[0] + tiers[1] + tiers[2]


def capped(values: list[str]) -> Completion:
    return Completion(values=values[:MAX_VALUES], total=len(values), has_more=len(values) > MAX_VALUES)


def is_data_file(name: str) -> bool:
    low = name.lower().removesuffix(".gz").removesuffix(".zip")
    return low.endswith(DATA_SUFFIXES)


def project_paths(project: Path, partial: str) -> list[str]:
    """Data files and folders under `project` for a partial relative path, bounded.

    The folder the partial names is listed (folders end in `/`); a partial without `/` also
    finds data files whose name starts with it a few folders down. Never outside `project`.
    """
    folder_part, _, base = partial.rpartition("/")
    root = project.resolve()
    try:
        folder = (root / folder_part).resolve()
        folder.relative_to(root)
    except (OSError, ValueError):
        return []
    found: list[str] = []
    low = base.lower()
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for i, entry in enumerate(entries):
            if i >= WALK_ENTRIES:
                break
            if not entry.name.lower().startswith(low) or (
                entry.name.startswith(".") and not base.startswith(".")
            ):
                continue
            rel = f"{folder_part}/{entry.name}" if folder_part else entry.name
            with contextlib.suppress(OSError):
                if entry.is_dir():
                    if entry.name not in SKIP_DIRS:
                        found.append(rel + "/")
                elif is_data_file(entry.name):
                    found.append(rel)
    found.sort()
    if "/" not in partial and partial:
        found += sorted(_walk_for(root, low))
    return found


def _walk_for(root: Path, low: str) -> list[str]:
    found: list[str] = []
    budget = WALK_ENTRIES
    level = [root]
    for _ in range(WALK_DEPTH):
        below: list[Path] = []
        for folder in level:
            with contextlib.suppress(OSError), os.scandir(folder) as entries:
                for entry in entries:
                    budget -= 1
                    if budget < 0:
                        return found
                    if entry.name.startswith(".") or entry.name in SKIP_DIRS:
                        continue
                    with contextlib.suppress(OSError):
                        if entry.is_dir(follow_symlinks=False):
                            below.append(Path(entry.path))
                        elif (
                            folder != root and entry.name.lower().startswith(low) and is_data_file(entry.name)
                        ):
                            found.append(Path(entry.path).relative_to(root).as_posix())
        level = below
    return found


class Sources:
    """Where values come from, with this server's caches (one per server, never global)."""

    def __init__(self) -> None:
        self._pg: tuple[float, list[str], list[str]] | None = None  # (when, schemas, tables)
        self._pg_failed = 0.0
        self._pg_fetch: threading.Event | None = None
        self._dbt: tuple[float, list[Path]] = (0.0, [])  # (when located, manifest paths)
        self._manifest: tuple[Path, int, list[str]] | None = None

    # -- registry ------------------------------------------------------------
    @staticmethod
    def refs(state: AppState) -> list[str]:
        return state.registry.names()

    @staticmethod
    def columns(state: AppState, ref: str | None) -> list[str]:
        """The ref's column names, from its file's footer (no wait on a ref being written)."""
        if not ref:
            return []
        try:
            with pa.memory_map(str(state.registry.path(ref))) as source:
                return list(pa.ipc.open_file(source).schema.names)
        except (DataPlatformError, OSError, pa.ArrowException):
            return []

    # -- PostgreSQL ------------------------------------------------------------
    async def tables(self, settings: Settings) -> tuple[list[str], list[str]]:
        """(schemas, schema.table names): cached, refreshed behind the answer, never an error."""
        if settings.postgres is None or "postgres" in settings.disabled:
            return [], []
        now = time.monotonic()
        cached = self._pg
        stale = cached is None or now - cached[0] > PG_FRESH_S
        fetch = self._pg_fetch  # the thread clears the attribute when done: keep our own reference
        if stale and fetch is None and now - self._pg_failed > PG_DOWN_S:
            fetch = self._pg_fetch = threading.Event()
            threading.Thread(target=self._fetch_tables, args=(settings, fetch), daemon=True).start()
        if cached is None and fetch is not None:
            await anyio.to_thread.run_sync(fetch.wait, PG_WAIT_S)
            cached = self._pg
        return (cached[1], cached[2]) if cached else ([], [])

    def _fetch_tables(self, settings: Settings, done: threading.Event) -> None:
        from data_platform.postgres.catalog import table_names

        try:
            schemas, tables = table_names(settings)
            self._pg = (time.monotonic(), schemas, tables)
        except Exception:  # down, refused, misconfigured: no names for a while, never an error
            self._pg_failed = time.monotonic()
        finally:
            self._pg_fetch = None
            done.set()

    # -- dbt ---------------------------------------------------------------------
    def dbt_nodes(self, settings: Settings) -> list[str]:
        """Models, seeds, snapshots and `source.table` names from the newest manifest on disk."""
        paths = [] if "dbt" in settings.disabled else self._manifest_paths(settings)
        existing = [(p.stat().st_mtime_ns, p) for p in paths if p.is_file()]
        if not existing:
            return []
        mtime, path = max(existing)
        if self._manifest and self._manifest[:2] == (path, mtime):
            return self._manifest[2]
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return []
        names = sorted(
            {
                str(n.get("name"))
                for n in (data.get("nodes") or {}).values()
                if n.get("resource_type") in ("model", "seed", "snapshot")
            }
            | {f"{s.get('source_name')}.{s.get('name')}" for s in (data.get("sources") or {}).values()}
        )
        self._manifest = (path, mtime, names)
        return names

    def _manifest_paths(self, settings: Settings) -> list[Path]:
        when, paths = self._dbt
        if time.monotonic() - when < DBT_LOCATE_S:
            return paths
        from data_platform.dbtools.project import locate

        try:
            project = locate(settings.dbt_project_dir, settings.dbt_profiles_dir, settings.project_dir)
            paths = [project.validation_path / "manifest.json", project.target_path / "manifest.json"]
        except (DataPlatformError, OSError):
            paths = []
        self._dbt = (time.monotonic(), paths)
        return paths


async def complete(
    sources: Sources,
    state: AppState,
    ref: PromptReference | ResourceTemplateReference,
    argument: CompletionArgument,
    context: CompletionContext | None = None,
) -> Completion:
    """The values for one argument; empty for an argument with nothing to offer."""
    partial = argument.value
    if isinstance(ref, ResourceTemplateReference):
        if ref.uri == REF_TEMPLATE and argument.name == "name":
            return capped(rank(sources.refs(state), partial))
        return capped([])
    arg = _ARGS.get((ref.name, argument.name))
    if arg is None or arg.completes is None:
        return capped([])
    given = context.arguments if context and context.arguments else {}
    return capped(await _values(sources, state, arg, partial, given))


async def _values(
    sources: Sources, state: AppState, arg: Arg, partial: str, given: dict[str, str]
) -> list[str]:
    settings = state.settings
    kind = arg.completes
    if kind == "choices":
        return rank(("true", "false") if arg.kind == "flag" else arg.choices, partial)
    if kind == "ref":
        return rank(sources.refs(state), partial)
    if kind == "columns":
        # Complete the last of the columns typed so far, keeping the ones before it.
        head, sep, last = max((partial.rpartition(s) for s in (",", " ")), key=lambda p: len(p[0]))
        done = {c.strip() for c in head.replace(",", " ").split()}
        names = [c for c in sources.columns(state, given.get("data_ref")) if c not in done]
        return [head + sep + c for c in rank(names, last)]
    if kind == "dbt_node":
        return rank(await anyio.to_thread.run_sync(sources.dbt_nodes, settings), partial)
    schemas, tables = await sources.tables(settings)
    if kind == "table":
        return rank([*schemas, *tables], partial)
    # "source": a file under the project or a table; a query is not completed.
    if partial.lstrip().lower().startswith(("select", "with")):
        return []
    files = await anyio.to_thread.run_sync(project_paths, settings.project_dir, partial)
    return rank(files, partial) + rank(tables, partial)


def register(server: MCPServer) -> None:
    """Answer `completion/complete` (and so advertise the `completions` capability).

    The SDK's `@server.completion()` does not pass the request context, and every source
    here needs this server's state: the handler goes in at the protocol layer instead.
    """
    sources = Sources()

    async def handler(ctx: ServerRequestContext[Any], params: CompleteRequestParams) -> CompleteResult:
        state: AppState = ctx.lifespan_context
        try:
            found = await complete(sources, state, params.ref, params.argument, params.context)
        except Exception:  # a completion is a convenience: log it, answer with nothing
            log.warning("completion of %r failed", params.argument.name, exc_info=True)
            found = capped([])
        return CompleteResult(completion=found)

    sdk.add_request_handler(server, "completion/complete", CompleteRequestParams, handler)
