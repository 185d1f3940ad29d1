"""Pictures vs describe on the same ref, as ratios measured in one run.

One command:  .venv/bin/python bench/bench_pictures.py               (5M rows x 8 columns)
              .venv/bin/python bench/bench_pictures.py --rows 500000  (a quick run)

Each workload runs in a fresh process on the same memory-mapped ref: `describe` (the
baseline), `profile` (the statistics alone), `profile_report` (statistics + overview PNG/SVG +
HTML report, what the tool does), and `chart` scatter/histogram/bar. Each is timed twice: the
first call in the process (cold: module imports done, but the renderer's V8 starts on the
first picture, ~0.3-0.5 s) and the best of the next ones (warm, what a running server pays).
Peak memory is the process's peak RSS above its RSS before the first call, against the
ref's Arrow size (the ref's own pages count in RSS once touched, as they do for describe).
Targets (issue 18): profile <= 3x describe, peak <= 1.5x the ref's Arrow size; a 5M-row chart
<= 1 s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from measure import anon_mb, peak_mb, rss_mb

WORKLOADS = ("describe", "profile", "profile_report", "chart_scatter", "chart_histogram", "chart_bar")
TARGETS = {"profile": 3.0, "profile_report": 3.0}


def generate(folder: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa

    from data_platform.registry import Registry

    stamp = folder / "done"
    if stamp.exists() and stamp.read_text() == str(rows):
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
    registry.close()
    stamp.write_text(str(rows))


def measure(workload: str, folder: Path, repeats: int) -> dict:
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
    }

    def run() -> object:
        if workload == "describe":
            return describe.describe(registry, "t")
        if workload == "profile":
            return profile.profile(registry, "t", sandbox=eng)
        if workload == "profile_report":
            return report.profile_report(registry, "t", None, out_dir, sandbox=eng)
        return chart.chart(registry, "t", requests[workload], out_dir, sandbox=eng)

    size = registry.info("t").size_bytes
    base, anon_base = rss_mb(), anon_mb()
    peak_anon = [anon_base]
    stop = threading.Event()

    def sample() -> None:  # the kernel keeps no peak of anonymous memory: sample it
        while not stop.wait(0.005):
            peak_anon[0] = max(peak_anon[0], anon_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    stop.set()
    sampler.join()
    extra = max(0.0, peak_mb() - base)
    eng.close()
    return {
        "cold": times[0],
        "warm": min(times[1:] or times),
        "extra_mb": extra,
        "anon_mb": peak_anon[0] - anon_base,
        "arrow_mb": size / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "dp-bench-pictures")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    if args.one:
        print(json.dumps(measure(args.one, args.folder, args.repeats)))
        return
    generate(args.folder, args.rows)
    results = {}
    for workload in WORKLOADS:
        cmd = [sys.executable, __file__, "--one", workload, "--folder", str(args.folder)]
        cmd += ["--repeats", str(args.repeats)]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        results[workload] = json.loads(done.stdout.strip().splitlines()[-1])
    base = results["describe"]
    print(f"{args.rows:,} rows x 8 columns, ref {base['arrow_mb']:.0f} MB (Arrow IPC, memory-mapped)")
    print("peak = peak RSS above the start (the ref's mapped pages count once touched); anon = heap only")
    head = f"{'workload':<16} {'cold s':>7} {'warm s':>7} {'/describe':>10} {'peak MB':>8} {'/ref':>6}"
    print(head + f" {'anon MB':>8} {'/ref':>6}")
    for workload, r in results.items():
        ratio = r["warm"] / base["warm"]
        target = f"  (target <= {TARGETS[workload]}x, peak <= 1.5x)" if workload in TARGETS else ""
        if workload.startswith("chart"):
            target = "  (target <= 1 s)"
        print(
            f"{workload:<16} {r['cold']:>7.3f} {r['warm']:>7.3f} {ratio:>9.2f}x "
            f"{r['extra_mb']:>8.0f} {r['extra_mb'] / r['arrow_mb']:>5.2f}x "
            f"{r['anon_mb']:>8.0f} {r['anon_mb'] / r['arrow_mb']:>5.2f}x{target}"
        )


if __name__ == "__main__":
    main()
