"""How long the server takes from spawn to an answered tools/list, against a minimal MCP server.

Both are started by the same Python (this venv's) and listed through the same SDK stdio client,
alternately, in this run: `python -m data_platform serve` against a one-tool `MCPServer` script.
The ratio of the medians is the figure (goal: at most 1.5x, issue 27). Also prints what the
server's import leaves in `sys.modules` that the minimal server does not have (the heavy
libraries are imported when a call needs them).

`--against REV` also starts the server of a git revision (its source extracted into a temp
folder and put first on PYTHONPATH), in the same rounds: before and after in one run.
`first start` is the server with no tool list kept from an earlier start of the same code
(server/toolcache.py: the kept file is removed before each of its runs), as after an install or
an edit; `data-platform` lists the kept one, as every later start does. With `--against`, the
revision's server is timed both ways too.

    .venv/bin/python bench/bench_start.py [--runs 7] [--against main]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

REPO = Path(__file__).resolve().parents[3]

MINIMAL = '''\
from mcp.server.mcpserver import MCPServer

server = MCPServer(name="minimal")


@server.tool()
def echo(text: str) -> str:
    """Say it back."""
    return text


server.run("stdio")
'''

HEAVY = (
    "dbt", "sqlglot", "vl_convert", "duckdb", "psycopg", "pglast", "pandas", "yaml",
    "pyarrow.compute", "pyarrow.dataset", "pyarrow.acero", "pyarrow.parquet",
)  # fmt: skip


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's children that ended and were waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def time_to_tools(command: list[str], env: dict[str, str], cwd: str) -> tuple[float, float, int]:
    """Seconds from spawn to an answered tools/list, the server process's CPU seconds (from its
    start to its exit right after: steadier than wall time on a loaded machine), and how many
    tools it listed."""
    params = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=cwd)
    cpu = children_cpu()
    with open(os.devnull, "w") as errlog:
        start = time.perf_counter()
        async with Client(stdio_client(params, errlog=errlog), cache=None) as client:
            listed = await client.list_tools()
            seconds = time.perf_counter() - start
    return seconds, children_cpu() - cpu, len(listed.tools)


def imported_heavy(env: dict[str, str]) -> list[str]:
    """The heavy libraries in sys.modules after building the server and listing its tools."""
    code = (
        "import sys, anyio\n"
        "from mcp.client.client import Client\n"
        "from data_platform.server import build_server\n"
        "async def main():\n"
        "    async with Client(build_server()) as c:\n"
        "        await c.list_tools()\n"
        "anyio.run(main)\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    with tempfile.TemporaryDirectory(prefix="dp-bench-start-") as cwd:
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True
        )
    return out.stdout.split()


def source_of(rev: str, into: Path) -> Path:
    """The package source of git revision `rev`, extracted under `into`."""
    sub = "mcp-servers/data-platform/src"
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, sub], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / sub


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--against", metavar="REV", help="also start the server of this git revision")
    args = parser.parse_args()
    cwd = tempfile.mkdtemp(prefix="dp-bench-start-")
    minimal_py = Path(cwd) / "minimal_server.py"
    minimal_py.write_text(MINIMAL)
    # The registry goes into cwd/.data-platform. Bytecode is written (the plugin's launcher
    # compiles it at install): a start that compiles every module measures the compiler.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    commands = {
        "data-platform": [sys.executable, "-m", "data_platform", "serve"],
        "minimal": [sys.executable, str(minimal_py)],
    }
    commands["first start"] = commands["data-platform"]
    envs = {name: env for name in commands}
    from data_platform.server.toolcache import CACHE_FILE

    kept = {"first start": CACHE_FILE}  # the tool list each first start removes before its runs
    if args.against:
        name = f"at {args.against}"
        src = source_of(args.against, Path(cwd))
        for label in (name, f"first start at {args.against}"):
            commands[label] = commands["data-platform"]
            envs[label] = {**env, "PYTHONPATH": str(src)}
        kept[f"first start at {args.against}"] = src / CACHE_FILE.relative_to(CACHE_FILE.parents[3])
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    counts: dict[str, int] = {}

    for name, command in commands.items():  # warm the file cache and write bytecode, not counted
        await time_to_tools(command, envs[name], cwd)
    for _ in range(args.runs):
        for name, command in commands.items():
            if name in kept:
                kept[name].unlink(missing_ok=True)
            seconds, cpu, counts[name] = await time_to_tools(command, envs[name], cwd)
            times[name].append(seconds)
            cpus[name].append(cpu)
    for name, values in times.items():
        print(
            f"{name:>21}: spawn to tools/list ({counts[name]} tools) "
            f"median {statistics.median(values):.2f} s, min {min(values):.2f} s "
            f"({' '.join(f'{v:.2f}' for v in values)}); "
            f"CPU median {statistics.median(cpus[name]):.2f} s (start to exit)"
        )
    for name in commands:
        if name == "minimal":
            continue
        ratio = statistics.median(times[name]) / statistics.median(times["minimal"])
        best = min(times[name]) / min(times["minimal"])
        print(f"{name} / minimal MCP server: {ratio:.2f}x (medians), {best:.2f}x (best); goal: at most 1.5x")
    heavy = imported_heavy(env)
    print(f"heavy libraries imported at start: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    anyio.run(main)
