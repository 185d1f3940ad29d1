"""How long the plugin's server takes to answer tools/list, through the launcher and alone.

Starts the server the way Claude Code does (the command of plugins/data-platform/.mcp.json,
`sh launch.sh`) and the same server directly (`<venv>/bin/python -m data_platform serve`),
interleaved, with the SDK's stdio client, and prints the times and their ratio. The
environment is built first if needed (into --data, default a temp folder; a first build
takes 10-60 s). Target: a later start answers tools/list in under 2 s.

    .venv/bin/python bench/plugin_start.py [--runs 5] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import anyio
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

REPO = Path(__file__).resolve().parents[3]
PLUGIN = REPO / "plugins" / "data-platform"


async def time_to_tools(command: list[str], env: dict[str, str], cwd: str) -> float:
    params = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=cwd)
    with open(os.devnull, "w") as errlog:
        start = time.perf_counter()
        async with Client(stdio_client(params, errlog=errlog), cache=None) as client:
            await client.list_tools()
            return time.perf_counter() - start


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", help="the plugin data folder (default: a new temp folder)")
    args = parser.parse_args()
    data = args.data or tempfile.mkdtemp(prefix="dp-bench-plugin-")
    env = {**os.environ, "DATA_PLATFORM_PLUGIN_DATA": data}
    start = time.perf_counter()
    venv = subprocess.run(
        ["python3", str(PLUGIN / "scripts" / "launch.py"), "--build"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"environment ready in {time.perf_counter() - start:.1f} s: {venv}")
    entry = json.loads((PLUGIN / ".mcp.json").read_text())["mcpServers"]["data-platform"]
    launcher = [entry["command"], *(a.replace("${CLAUDE_PLUGIN_ROOT}", str(PLUGIN)) for a in entry["args"])]
    direct = [str(Path(venv) / "bin" / "python"), "-m", "data_platform", "serve"]
    cwd = tempfile.mkdtemp(prefix="dp-bench-project-")
    times: dict[str, list[float]] = {"launcher": [], "server alone": []}
    for _ in range(args.runs):
        times["launcher"].append(await time_to_tools(launcher, env, cwd))
        times["server alone"].append(await time_to_tools(direct, env, cwd))
    for name, values in times.items():
        print(
            f"{name:>12}: to tools/list min {min(values):.2f} s, median {statistics.median(values):.2f} s "
            f"({' '.join(f'{v:.2f}' for v in values)})"
        )
    ratio = statistics.median(times["launcher"]) / statistics.median(times["server alone"])
    print(f"launcher / server alone (medians): {ratio:.2f}x; target: launcher under 2 s")


if __name__ == "__main__":
    anyio.run(main)
