"""How long `completion/complete` takes on a registry of 1,000 refs (target: <= 50 ms server time).

Server time is the completion handler's own work (`server.completions.complete`), measured
in-process; "through the client" adds the in-memory client's JSON-RPC round trip. The
baseline is the naive way to get the names, `Registry.list()` (what list_data does: every
ref's footer read). Also: a dbt manifest with 1,000 models (first answer parses it, later
ones reuse it) and data-file paths in a project of 1,000 files.

    .venv/bin/python bench/bench_completions.py [--refs 1000] [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pyarrow as pa
from mcp.client.client import Client
from mcp.types import CompletionArgument, PromptReference, ResourceTemplateReference

from data_platform.config import load_settings
from data_platform.registry import Registry
from data_platform.server import build_server
from data_platform.server.completions import Sources, complete
from data_platform.server.state import AppState

TEMPLATE = ResourceTemplateReference(type="ref/resource", uri="dataref://{name}")


def prompt(name: str) -> PromptReference:
    return PromptReference(type="ref/prompt", name=name)


def make_project(root: Path, refs: int) -> None:
    registry = Registry(root / ".data-platform")
    table = pa.table({"order_id": list(range(100)), "region": ["EU", "US"] * 50, "amount": [1.5] * 100})
    for i in range(refs):
        registry.put(table, name=f"sales_{i:04d}" if i % 2 else f"orders_{i:04d}", source="bench")
    registry.close()
    for i in range(1_000):
        folder = root / "data" / f"batch_{i // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"sales_{i:04d}.csv").write_text("a\n1\n")
    (root / "dbt_project.yml").write_text("name: bench\nversion: '1.0'\nprofile: bench\n")
    nodes = {
        f"model.bench.stg_model_{i:04d}": {"name": f"stg_model_{i:04d}", "resource_type": "model"}
        for i in range(1_000)
    }
    (root / "target").mkdir()
    (root / "target" / "manifest.json").write_text(json.dumps({"nodes": nodes, "sources": {}}))


async def timed(fn: Callable[[], Awaitable[object]], runs: int) -> tuple[float, float, object]:
    """(median ms, max ms, last result) of `runs` calls after one warm-up call."""
    result = await fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = await fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times), result


async def main(refs: int, runs: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_project(root, refs)
        settings = load_settings(root, {}, root / "none.env")
        registry = Registry(settings.registry_dir)
        state = AppState(settings=settings, registry=registry)
        sources = Sources()

        def server_call(
            ref: PromptReference | ResourceTemplateReference, name: str, value: str
        ) -> Callable[[], Awaitable[object]]:
            return lambda: complete(sources, state, ref, CompletionArgument(name=name, value=value))

        async def naive() -> object:
            return [info.name for info in registry.list()[0] if info.name.startswith("sales_01")]

        cases = [
            ("refs, template, 'sales_01' (50 of 1,000)", server_call(TEMPLATE, "name", "sales_01")),
            ("refs, profile, '' (all: 100 + hasMore)", server_call(prompt("profile"), "data_ref", "")),
            ("refs, profile, 'ale' (substring tier)", server_call(prompt("profile"), "data_ref", "ale")),
            (
                "dbt nodes, 1,000 models, 'stg_model_01'",
                server_call(prompt("lineage"), "node", "stg_model_01"),
            ),
            (
                "paths, 1,000 files, 'data/batch_3/sales_03'",
                server_call(prompt("ingest"), "source", "data/batch_3/sales_03"),
            ),
            ("paths, bounded walk, 'sales_09'", server_call(prompt("ingest"), "source", "sales_09")),
        ]
        print(f"completion/complete, {refs:,} refs, median and max of {runs} runs (after one warm-up)")
        worst = 0.0
        for label, fn in cases:
            median, most, result = await timed(fn, runs)
            worst = max(worst, median)
            count = len(result.values)  # type: ignore[attr-defined]
            print(f"  server  {label:<48} {median:7.2f} ms  (max {most:6.2f})  {count} values")
        base, base_max, _ = await timed(naive, max(3, runs // 5))
        print(
            f"  naive   {'Registry.list() then filter (baseline)':<48} {base:7.2f} ms  (max {base_max:6.2f})"
        )

        async with Client(build_server(settings), cache=None) as client:

            async def through_client() -> object:
                return await client.complete(TEMPLATE, {"name": "name", "value": "sales_01"})

            median, most, _ = await timed(through_client, runs)
            label = "refs, template, via the in-memory client"
            print(f"  client  {label:<48} {median:7.2f} ms  (max {most:6.2f})")
        registry.close()
        print(f"worst server median {worst:.2f} ms (target 50 ms)")
        return 0 if worst <= 50 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--refs", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    sys.exit(anyio.run(main, args.refs, args.runs))
