"""The `data-platform` command: `serve` (stdio or HTTP), `doctor`, `tools`, `resources`, `prompts`."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data_platform import __version__
from data_platform.config import Settings, comma_list, load_settings, merged_environment
from data_platform.errors import DataPlatformError
from data_platform.redact import RedactingFilter

if TYPE_CHECKING:
    from data_platform.registry import Registry


def log_secrets(settings: Settings) -> Callable[[], list[str]]:
    """Every secret a log line could carry, read when asked: the settings' own, each named
    connection's password, each storage entry's secret and the AWS profile's (their files can
    change while the server runs). Built on the first record, so start-up imports nothing more."""
    sources: list[Any] = []

    def secrets() -> list[str]:
        if not sources:
            from data_platform.lakes.storage import Storage
            from data_platform.postgres.connections import Connections

            sources.extend((Connections(settings), Storage(settings)))
        # As the server's own list (AppState.secrets); the connections' includes the settings' own.
        return sorted({s for src in sources for s in src.secrets()}, key=len, reverse=True)

    return secrets


def setup_logging(settings: Settings | None, level: str = "INFO") -> None:
    """Logs go to stderr (stdout is the MCP channel), always redacted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(log_secrets(settings) if settings else []))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def finish_writes_on_sigterm(registry: Registry) -> None:
    """A client stopping the server with SIGTERM must not cut a ref still being written: the
    served registry's pending writes and fsyncs finish first (a clean exit waits for them anyway)."""

    def stop(signum: int, _frame: object) -> None:
        registry.close()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, stop)


def export_env_files(project_dir: Path) -> None:
    """Give dbt what the settings read: values of the env files the environment does not set.

    dbt reads `env_var(...)` in profiles.yml from its process environment, in this process
    (parse) and in its workers; without this, a password in the project's `.env` reached the
    pg_ tools but not dbt. The environment still wins over the files, as in the settings.
    """
    for key, value in merged_environment(project_dir).items():
        os.environ.setdefault(key, value)


def with_tools(settings: Settings, tools: str | None) -> Settings:
    """`--tools` wins over DATA_PLATFORM_TOOLS; an unknown name is refused before anything starts."""
    from data_platform.server.app import served_tools

    if tools is None:
        served_tools(settings)
        return settings
    settings = settings.model_copy(update={"tools": comma_list(tools)})
    served_tools(settings, source="--tools")
    return settings


def starting() -> None:
    """Start-up makes ~200k objects that live as long as the server: looking for garbage cycles
    among them while they are made is wasted (about a tenth of the start, issue 27)."""
    gc.disable()


def started() -> None:
    """The server is built: collect again, leaving what start-up made out of every collection."""
    gc.freeze()
    gc.enable()


def cmd_serve(args: argparse.Namespace) -> int:
    starting()
    settings = load_settings()
    if not args.http:
        export_env_files(settings.project_dir)
        # Before the server's own imports: dbt's import and first parse go on beside them.
        from data_platform.dbtools import early

        early.start(settings)
    from data_platform.registry import Registry
    from data_platform.server import build_server

    settings = with_tools(settings, args.tools)
    setup_logging(settings, args.log_level)
    if args.http:
        return serve_http(args, settings)
    registry = Registry(settings.registry_dir, sync_writes=settings.sync_writes)
    finish_writes_on_sigterm(registry)
    server = build_server(settings, registry=registry, warm=True)
    started()
    server.run("stdio")
    return 0


def serve_http(args: argparse.Namespace, settings: Settings) -> int:
    """`serve --http HOST:PORT`: refused before anything starts when the address or token is wrong."""
    from data_platform.registry import Registry
    from data_platform.server import build_server
    from data_platform.server.http import bind, http_token, parse_address
    from data_platform.server.http import serve_http as run

    host, port = parse_address(args.http)
    token = http_token(settings, host)
    sock = bind(host, port)
    export_env_files(settings.project_dir)
    registry = Registry(settings.registry_dir, sync_writes=settings.sync_writes)
    try:
        server = build_server(settings, registry=registry, warm=True)
        started()
        run(server, sock, host, token, args.log_level)
    finally:
        registry.close()
        sock.close()
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from data_platform.doctor import run_doctor

    settings = load_settings()
    setup_logging(settings, "WARNING")
    report = run_doctor(settings)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.render())
    return 0 if report.ok else 1


def cmd_tools(args: argparse.Namespace) -> int:
    from data_platform.contract import (
        model_facing_size,
        surface_size,
        tool_surface,
        toolset_names,
        toolset_sizes,
    )

    settings = with_tools(load_settings(), args.tools)
    surface = tool_surface(settings)
    text = json.dumps(surface, indent=2, sort_keys=True)
    if args.toolsets:
        print(json.dumps(toolset_names(settings), indent=2))
        return 0
    if args.check_budget:
        print(
            f"{len(surface)} tools; model-facing (name, description, input schema): "
            f"{model_facing_size(surface):,} characters; "
            f"whole tools/list: {surface_size(surface):,} characters"
        )
        if not settings.tools:  # every toolset, measured on the whole list
            sizes = toolset_sizes(settings, surface)
            print("toolsets: " + "; ".join(f"{n} {k} tools {c:,}" for n, (k, c) in sizes.items()))
        return 0
    print(text)
    return 0


def cmd_resources(args: argparse.Namespace) -> int:
    from data_platform.contract import resource_surface, surface_size

    surface = resource_surface(load_settings())
    if args.check_budget:
        print(f"{len(surface)} resource template(s): {surface_size(surface):,} characters")
        return 0
    print(json.dumps(surface, indent=2, sort_keys=True))
    return 0


def cmd_prompts(args: argparse.Namespace) -> int:
    from data_platform import commands
    from data_platform.contract import prompt_surface, surface_size

    if args.write_plugin is not None or args.check_plugin is not None:
        given = args.write_plugin or args.check_plugin
        folder = Path(given) if given else commands.plugin_commands_dir()
        if args.check_plugin is not None:
            problems = commands.plugin_drift(folder)
            print("\n".join(problems) or f"{folder}: the command files match data_platform.commands")
            return 1 if problems else 0
        changed = commands.write_plugin(folder)
        print(f"{folder}: {len(changed)} command file(s) written" if changed else f"{folder}: up to date")
        return 0
    surface = prompt_surface(load_settings())
    if args.check_budget:
        print(f"{len(surface)} prompts; prompts/list: {surface_size(surface):,} characters")
        return 0
    print(json.dumps(surface, indent=2, sort_keys=True))
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    from pathlib import Path

    from data_platform.settings_doc import markdown_table, update_readme

    if args.readme:
        changed = update_readme(Path(args.readme))
        print(f"{args.readme}: settings table {'updated' if changed else 'already up to date'}")
    else:
        print(markdown_table())
    return 0


TOOLS_HELP = (
    "toolsets and tools to serve, comma-separated, -name to leave one out (wins over "
    "DATA_PLATFORM_TOOLS): all, analyst, frames, postgres, dbt, read-only; e.g. --tools=analyst,-chart"
)


def main(argv: Sequence[str] | None = None) -> int:
    from data_platform.settings_doc import plain_help

    parser = argparse.ArgumentParser(prog="data-platform", description=__doc__)
    parser.add_argument("--version", action="version", version=f"data-platform {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the MCP server over stdio (or streamable HTTP with --http)")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.add_argument(
        "--http",
        metavar="HOST:PORT",
        help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio; beyond loopback "
        "DATA_PLATFORM_HTTP_TOKEN is required",
    )
    serve.add_argument("--tools", metavar="NAMES", help=TOOLS_HELP)
    serve.set_defaults(func=cmd_serve)
    doctor = sub.add_parser(
        "doctor",
        help="print what is configured and reachable (secrets masked)",
        epilog=plain_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.set_defaults(func=cmd_doctor)
    tools = sub.add_parser("tools", help="print the tool surface (names, schemas, annotations) as JSON")
    tools.add_argument("--check-budget", action="store_true", help="print only the size of the tool list")
    tools.add_argument("--tools", metavar="NAMES", help=TOOLS_HELP)
    tools.add_argument("--toolsets", action="store_true", help="print each toolset's tool names as JSON")
    tools.set_defaults(func=cmd_tools)
    resources = sub.add_parser("resources", help="print the resource templates (dataref://...) as JSON")
    resources.add_argument("--check-budget", action="store_true", help="print only their size")
    resources.set_defaults(func=cmd_resources)
    prompts = sub.add_parser("prompts", help="print the prompts (the plugin's commands) as JSON")
    prompts.add_argument("--check-budget", action="store_true", help="print only the size of prompts/list")
    prompts.add_argument(
        "--write-plugin",
        nargs="?",
        const="",
        metavar="DIR",
        help="write the plugin's command files from the source",
    )
    prompts.add_argument(
        "--check-plugin",
        nargs="?",
        const="",
        metavar="DIR",
        help="exit 1 if the command files differ from the source",
    )
    prompts.set_defaults(func=cmd_prompts)
    settings = sub.add_parser("settings", help="print the settings table (Markdown)")
    settings.add_argument("--readme", metavar="PATH", help="rewrite the generated table in this README")
    settings.set_defaults(func=cmd_settings)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except DataPlatformError as exc:
        print(f"data-platform: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
