"""Pictures vs describe on the same ref, as ratios measured in one run.

One command:  .venv/bin/python bench/bench_pictures.py               (5M rows x 8 columns)
              .venv/bin/python bench/bench_pictures.py --rows 500000  (a quick run)

Each workload runs in a fresh process on the same memory-mapped ref: `describe` (the
baseline), `profile` (the statistics alone), `profile_report` (statistics + overview PNG/SVG +
HTML report, what the tool does), `chart` scatter/histogram/bar, and a map of five borough-like
multipolygons in longitude/latitude (2.7 MB of WKT, the size of the NYC boroughs: ragged
coastlines and islands). Each is timed twice: the
first call in the process (cold: module imports done, but the renderer's V8 starts on the
first picture, ~0.3-0.5 s) and the best of the next ones (warm, what a running server pays).
Peak memory is peak RSS against the ref's Arrow size (the ref's own pages count in RSS once
touched, as they do for describe), two ways: `first`, the first call's peak above the RSS just
before it (DuckDB's library and, for a picture, the renderer load inside that call); `all`, the
highest peak of all the calls above the RSS before the first (the old figure: it also counts what
the first call left loaded, the renderer's ~100 MB of V8 and library pages whatever the ref's
size, under the later calls' peaks). `profile_report served` starts the renderer before
measuring, as `data-platform serve` does after its start (server/app.py): what the tool costs a
running server.
Targets (issue 18): profile <= 3x describe, peak <= 1.5x the ref's Arrow size; a 5M-row chart
<= 1 s. Issue 27: the boroughs map <= 1 s warm, <= 2 s cold; the profile's peak <= 1.5x, with
the report (served) and without.

Then the first chart of a fresh server (`data-platform serve` over stdio, the SDK's client),
which starts the renderer in the background once the tools are listed (server/app.py): a chart
asked at once (0 s after tools/list: it waits for the renderer) and one asked after 2 s (a
model's first turn), each the median of `--repeats` fresh servers, alternately.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from measure import anon_mb, peak_mb, rss_mb

SERVED = " served"  # a workload in a process whose renderer was started first, as `serve` does
WORKLOADS = (
    "describe", "profile", "profile_report", "profile_report" + SERVED, "chart_scatter", "chart_histogram",
    "chart_bar", "map_boroughs"
)  # fmt: skip
TARGETS = {"profile": 3.0, "profile_report": 3.0, "profile_report" + SERVED: 3.0}


def generate(folder: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa

    from data_platform.registry import Registry

    stamp = folder / "done"
    if stamp.exists() and stamp.read_text() == f"{rows} and boroughs":
        return
    rng = np.random.default_rng(42)
    regions = np.array(["EU", "US", "APAC", "LATAM", "AFRICA"])
    names = np.array([f"customer_{i:05d}" for i in range(20_000)])
    table = pa.table(
        {
            "id": np.arange(rows, dtype=np.int64),
            "key": rng.integers(0, 1000, rows),
            "cust": rng.integers(0, 100_000, rows),
            "amount": np.round(rng.gamma(2.0, 50.0, rows), 2),
            "qty": rng.integers(1, 50, rows).astype(np.int32),
            "region": regions[rng.integers(0, 5, rows)],
            "name": names[rng.integers(0, 20_000, rows)],
            "day": pa.array(rng.integers(18_000, 20_000, rows).astype("int32"), type=pa.int32()).cast(
                pa.date32()
            ),
        }
    )
    registry = Registry(folder / "registry")
    registry.put(table, name="t", source="bench", overwrite=True)
    names, shapes = boroughs_wkt()
    geom = pa.field("geom", pa.string(), metadata={"encoding": "WKT", "srid": "4326"})
    schema = pa.schema([pa.field("boro_name", pa.string()), geom])
    registry.put(pa.table([names, shapes], schema=schema), name="boroughs", source="bench", overwrite=True)
    registry.close()
    stamp.write_text(f"{rows} and boroughs")


def boroughs_wkt(target_bytes: int = 2_700_000) -> tuple[list[str], list[str]]:
    """Five MultiPolygons around New York: a main ring with a hole and 30 islands each, with bays
    and headlands at every scale, ~target_bytes of WKT with 10 decimals (a fixed seed)."""
    rng = random.Random(7)
    centres = [(-73.97, 40.78, 0.05, 0.13), (-73.87, 40.84, 0.09, 0.06), (-73.95, 40.65, 0.10, 0.08),
               (-73.80, 40.70, 0.16, 0.11), (-74.15, 40.58, 0.10, 0.07)]  # fmt: skip

    def ring(cx: float, cy: float, rx: float, ry: float, n: int) -> str:
        waves = [(f, 0.18 / f**0.8, rng.uniform(0, 2 * math.pi)) for f in range(2, 400, 3)]
        pts = []
        for i in range(n):
            a = 2 * math.pi * i / n
            r = 1 + sum(amp * math.sin(f * a + ph) for f, amp, ph in waves)
            pts.append((cx + rx * r * math.cos(a), cy + ry * r * math.sin(a)))
        pts.append(pts[0])
        return "(" + ",".join(f"{x:.10f} {y:.10f}" for x, y in pts) + ")"

    verts = target_bytes // 29 // 5  # ~29 bytes a vertex
    shapes = []
    for cx, cy, rx, ry in centres:
        main = ring(cx, cy, rx, ry, verts * 6 // 10)
        hole = ring(cx + rx * 0.2, cy, rx * 0.1, ry * 0.1, verts // 20)
        polys = [f"({main},{hole})"]
        for _ in range(30):
            ix, iy, k = (
                cx + rng.uniform(-1.4, 1.4) * rx,
                cy + rng.uniform(-1.4, 1.4) * ry,
                rng.uniform(0.005, 0.05),
            )
            polys.append(f"({ring(ix, iy, rx * k, ry * k, max(4, verts * 35 // 100 // 30))})")
        shapes.append("MULTIPOLYGON(" + ",".join(polys) + ")")
    return ["Manhattan", "Bronx", "Brooklyn", "Queens", "Staten Island"], shapes


def measure(workload: str, folder: Path, repeats: int) -> dict:
    served = workload.endswith(SERVED)
    workload = workload.removesuffix(SERVED)
    from data_platform.frames import describe, engine, profile
    from data_platform.pictures import chart, report
    from data_platform.registry import Registry

    registry = Registry(folder / "registry")
    out_dir = Path(tempfile.mkdtemp(prefix="pics-", dir=folder))
    eng = engine.Engine()
    requests = {
        "chart_scatter": chart.Request("scatter", "qty", "amount", None, None, None, None),
        "chart_histogram": chart.Request("histogram", "amount", None, None, None, 50, None),
        "chart_bar": chart.Request("bar", "region", "amount", None, "sum", None, None),
        "map_boroughs": chart.Request("map", None, None, "boro_name", None, None, None),
    }

    def run() -> object:
        if workload == "describe":
            return describe.describe(registry, "t")
        if workload == "profile":
            return profile.profile(registry, "t", sandbox=eng)
        if workload == "profile_report":
            return report.profile_report(registry, "t", None, out_dir, sandbox=eng)
        ref = "boroughs" if workload == "map_boroughs" else "t"
        return chart.chart(registry, ref, requests[workload], out_dir, sandbox=eng)

    if served:  # as `data-platform serve` does once the tools are listed (server/app.py)
        from data_platform.pictures import render

        render.warm_up()
    size = registry.info("t").size_bytes
    base, anon_base = rss_mb(), anon_mb()
    peak_anon = [anon_base]
    stop = threading.Event()

    def sample() -> None:  # the kernel keeps no peak of anonymous memory: sample it
        while not stop.wait(0.005):
            peak_anon[0] = max(peak_anon[0], anon_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    times, first = [], 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
        if len(times) == 1:
            first = max(0.0, peak_mb() - base)
    stop.set()
    sampler.join()
    eng.close()
    return {
        "cold": times[0],
        "warm": min(times[1:] or times),
        "first_mb": first,
        "extra_mb": max(0.0, peak_mb() - base),
        "anon_mb": peak_anon[0] - anon_base,
        "arrow_mb": size / 2**20,
    }


SERVER_CHARTS = {
    "chart_scatter": {"data_ref": "t", "kind": "scatter", "x": "qty", "y": "amount"},
    "map_boroughs": {"data_ref": "boroughs", "kind": "map", "color": "boro_name"},
}


async def server_first_chart(folder: Path, args: dict, idle_s: float, src: Path | None) -> float:
    """Seconds of the first chart call of a fresh server, asked `idle_s` after tools/list
    (`src`: the package source to run instead of the installed one)."""
    import anyio
    from mcp.client.client import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client

    # Bytecode is written, as in bench_start.py (the plugin's launcher compiles it at install).
    skip = ("DATA_PLATFORM_", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env["DATA_PLATFORM_REGISTRY_DIR"] = str(folder / "registry")
    if src is not None:
        env["PYTHONPATH"] = str(src)
    cmd = StdioServerParameters(
        command=sys.executable, args=["-m", "data_platform", "serve"], env=env, cwd=str(folder)
    )
    with open(os.devnull, "w") as errlog:
        async with Client(stdio_client(cmd, errlog=errlog), cache=None) as client:
            await client.list_tools()
            await anyio.sleep(idle_s)
            t0 = time.perf_counter()
            result = await client.call_tool("chart", args)
            seconds = time.perf_counter() - t0
    assert not result.is_error, result.content
    return seconds


def server_charts(folder: Path, repeats: int, against: str | None) -> dict[str, list[float]]:
    import anyio

    from bench_start import source_of

    sources: dict[str, Path | None] = {"": None}
    if against:
        sources[f" (at {against})"] = source_of(against, Path(tempfile.mkdtemp(prefix="dp-bench-src-")))
    times: dict[str, list[float]] = {}
    for _ in range(repeats):
        for workload, args in SERVER_CHARTS.items():
            for idle in (0.0, 2.0):
                for label, src in sources.items():
                    t = anyio.run(server_first_chart, folder, args, idle, src)
                    times.setdefault(f"{workload} after {idle:g} s{label}", []).append(t)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "dp-bench-pictures")
    parser.add_argument("--against", metavar="REV", help="also time this revision's server")
    parser.add_argument("--servers-only", action="store_true", help="only the fresh servers' first charts")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    if args.one:
        print(json.dumps(measure(args.one, args.folder, args.repeats)))
        return
    generate(args.folder, args.rows)
    if args.servers_only:
        print_server_charts(args)
        return
    results = {}
    for workload in WORKLOADS:
        cmd = [sys.executable, __file__, "--one", workload, "--folder", str(args.folder)]
        cmd += ["--repeats", str(args.repeats)]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        results[workload] = json.loads(done.stdout.strip().splitlines()[-1])
    base = results["describe"]
    print(f"{args.rows:,} rows x 8 columns, ref {base['arrow_mb']:.0f} MB (Arrow IPC, memory-mapped)")
    print("peak RSS above the start, MB and /ref (the ref's mapped pages count once touched):")
    print("first = in the first call; all = in all calls (+ what earlier calls left loaded);")
    print("anon = heap only, all calls; `served`: the renderer started before the start, as `serve` does")
    head = f"{'workload':<22} {'cold s':>7} {'warm s':>7} {'/describe':>10}"
    print(head + "".join(f" {h:>7} {'/ref':>6}" for h in ("first", "all", "anon")))
    for workload, r in results.items():
        ratio = r["warm"] / base["warm"]
        target = f"  (target <= {TARGETS[workload]}x, peak <= 1.5x)" if workload in TARGETS else ""
        if workload.startswith("chart"):
            target = "  (target <= 1 s)"
        if workload == "map_boroughs":
            target = "  (target <= 1 s warm, <= 2 s cold; memory vs the 5M-row ref)"
        mbs = (r["first_mb"], r["extra_mb"], r["anon_mb"])
        shown = "".join(f" {mb:>7.0f} {mb / r['arrow_mb']:>5.2f}x" for mb in mbs)
        print(f"{workload:<22} {r['cold']:>7.3f} {r['warm']:>7.3f} {ratio:>9.2f}x{shown}{target}")
    print_server_charts(args)


def print_server_charts(args: argparse.Namespace) -> None:
    print("first chart of a fresh server, asked N s after tools/list (median of fresh servers):")
    for name, values in server_charts(args.folder, args.repeats, args.against).items():
        goal = "2 s" if name.startswith("map") else "1 s"
        shown = " ".join(f"{v:.2f}" for v in values)
        print(f"  {name:<38} {statistics.median(values):>6.3f} s  ({shown})  (target <= {goal})")


if __name__ == "__main__":
    main()
