"""`build_server`: a fresh MCP server with its state in a lifespan."""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from collections.abc import AsyncIterator

import anyio
from mcp.server.mcpserver import MCPServer

from data_platform import __version__
from data_platform.config import Settings, load_settings
from data_platform.registry import Registry
from data_platform.server import completions, prompts, registry_tools, resources, toolcache, toolsets
from data_platform.server.declare import ToolDef
from data_platform.server.schema import CompactMCPServer
from data_platform.server.state import AppState
from data_platform.work import Running

log = logging.getLogger("data_platform")
WARM_AFTER_S = 3.0  # dbt's warm-up starts this long after start when no tools/list came
SHUTDOWN_WAIT_S = 10.0  # for running calls to stop once cancelled, before what they use is closed
# The picture renderer starts in the background this long after the server, once a client has
# listed the tools (then normally idle): the first chart then skips V8's start (pictures/render.py).
# Not at `tools/list` itself: its CPU (~0.4 s) would slow that answer. A picture asked sooner starts it.
WARM_RENDERER_AFTER_S = 1.0

INSTRUCTIONS = """\
data-platform keeps every loaded or computed table in a registry under a name (data_ref) that \
survives between calls and restarts. Chain refs instead of passing rows: read_csv -> filter -> \
groupby -> to_parquet, or pg_query -> join -> describe. Results show a small preview; ask head/tail \
for more rows. Writes happen only where a tool says so (pg_execute, pg_load, to_csv, dbt_run...)."""

# A family's tools are declared in these modules (`TOOLS`, server/declare.py); a family can be
# switched off with DATA_PLATFORM_DISABLE to save the model's context. The registry's tools
# (list_data, drop_data) are always served.
FAMILY_MODULES: dict[str, tuple[str, ...]] = {
    "frames": (
        "data_platform.server.frame_tools",
        "data_platform.server.diff_tools",  # diff compares refs too
        "data_platform.server.picture_tools",  # profile and chart draw from refs
        "data_platform.server.lake_tools",  # datasets and tables load into refs (docs/lakes.md)
    ),
    "postgres": (
        "data_platform.server.postgres_tools",
        "data_platform.server.doctor_tools",  # the PostgreSQL doctor: top queries, index advice, health
    ),
    "dbt": ("data_platform.server.dbt_tools", "data_platform.server.dbt_impact_tools"),
}


def declared_tools(settings: Settings) -> list[ToolDef]:
    """Every tool of the families switched on, in declaration order (modules imported here)."""
    tools: list[ToolDef] = list(registry_tools.TOOLS)
    for family, module_names in FAMILY_MODULES.items():
        if family in settings.disabled:
            continue
        for module_name in module_names:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                # A renamed or missing module is a broken install, not a family to skip quietly.
                raise ModuleNotFoundError(
                    f"Tool family {family!r} cannot start: {exc} (module {module_name}). "
                    f"Reinstall data-platform, or turn the family off with DATA_PLATFORM_DISABLE={family}.",
                    name=exc.name,
                ) from exc
            tools.extend(module.TOOLS)
    return tools


def served_tools(settings: Settings, source: str = "DATA_PLATFORM_TOOLS") -> list[ToolDef]:
    """The tools this server serves: the families switched on, narrowed by DATA_PLATFORM_TOOLS."""
    return toolsets.select(
        declared_tools(settings), settings.tools, source=source, disabled=settings.disabled
    )


def _warm_dbt(state: AppState, server: CompactMCPServer) -> None:
    """The first dbt call of a session paid dbt's imports and a parse (4 s): do them in the
    background, after `tools/list` so the start is not slowed (or after WARM_AFTER_S without one)."""
    from data_platform.dbtools import early
    from data_platform.dbtools.service import DbtService

    service = state.service("dbt", lambda: DbtService(state.settings))  # on the loop: no race
    listed = server.listed

    def run() -> None:
        if listed is not None:
            listed.wait(WARM_AFTER_S)
        early.hurry()  # a first parse started with the server (dbtools/early.py): the start is over
        service.warm()

    threading.Thread(target=run, name="dbt-warm", daemon=True).start()


def build_server(
    settings: Settings | None = None, *, registry: Registry | None = None, warm: bool = False
) -> MCPServer:
    """A new server; each call has its own state (tests build as many as they like).

    `registry`: the one to serve (`serve` passes it to also finish its writes on SIGTERM); by
    default each run of the server makes its own. Either way it is closed at shutdown.
    `warm` (`serve`): once `tools/list` is answered, parse the dbt project in a thread (docs/dbt.md),
    and start the picture renderer WARM_RENDERER_AFTER_S after start (pictures/render.py).
    """
    settings = settings or load_settings()
    tools = served_tools(settings)  # an unknown name stops here, before anything starts
    running = Running()  # every run of the lifespan records its calls here (server.running)

    @contextlib.asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[AppState]:
        served = registry or Registry(settings.registry_dir, sync_writes=settings.sync_writes)
        state = AppState(settings=settings, registry=served, running=running)
        # Closed after every service (added later, closed first) and before the sandbox, whose
        # result streams the registry's writer may still be copying.
        state.closers.append(served.close)
        # Once per process over stdio and over HTTP (every HTTP session shares this state).
        log.info("server state opened: registry %s", served.root)
        # Temp files of a server killed mid-write go at the next start, not at the next write.
        with contextlib.suppress(OSError):
            removed = state.registry.remove_stale_temps()
            if removed:
                log.info("removed %d temp file(s) left by an interrupted write", removed)
        if warm and {"chart", "profile"} & {t.name for t in tools}:
            from data_platform.pictures.render import warm_up_soon

            warming = threading.Timer(WARM_RENDERER_AFTER_S, warm_up_soon)
            warming.daemon = True  # never holds the exit
            warming.start()
            state.closers.append(warming.cancel)
        if warm and any(t.family == "dbt" for t in tools):
            _warm_dbt(state, server)
        try:
            yield state
        finally:
            # Nothing is closed under a running call: cancel them all, wait for their threads.
            with anyio.CancelScope(shield=True):  # a shutdown under cancellation still waits
                left = await anyio.to_thread.run_sync(state.running.stop, SHUTDOWN_WAIT_S)
            if left:
                log.warning(
                    "shutdown: %d call(s) still running; their DuckDB is left to the process exit", left
                )
                state.closers.remove(state.sandbox.close)
            for close in reversed(state.closers):
                with contextlib.suppress(Exception):
                    result = close()
                    if hasattr(result, "__await__"):
                        with anyio.move_on_after(5):
                            await result

    server = CompactMCPServer(
        name="data-platform",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
    )
    server.max_output_chars = settings.max_output_chars
    server.listed = threading.Event()
    server.running = running
    server.serve_tools(tools, toolcache.CACHE_FILE)  # listed as kept when the code is the same
    resources.register(server)  # refs as resources: not a tool family, never switched off
    if settings.prompts:  # off in the plugin: Claude Code has the same commands as its own files
        # A command whose family serves no tool is left out, as when the family is turned off.
        prompts.register(server, {"frames", "postgres", "dbt"} - {t.family for t in tools})
    completions.register(server)
    return server
