"""dbt workloads: our tools' paths beside a plain `dbt` subprocess, measured in the same run.

    .venv/bin/python bench/bench_dbt.py [--quick] [--repeat N]

Uses DATA_PLATFORM_TEST_POSTGRES_URL, or starts a throwaway cluster (tests/pgcluster.py).
Workloads, on copies of the test project (tests/projects/shop):
  1. warm parse: dbt_parse's validation (in-process, cached findings + partial parse)
     vs `dbt parse` in a new process (partial parsing on, as a user would run it);
  2. parse with deprecations: the same on the deprecated copy; the subprocess runs with
     --no-partial-parse --show-all-deprecations, the only way it reports them every time
     (with partial parsing it reports none on the second run: the count is printed);
  3. run: dbt_run's path (validate, then `dbt run` in a pre-started dbt process, see
     dbtools/worker.py; 5 s untimed pause between runs, as between tool calls) vs a plain
     `dbt run` process;
  4. the first call of a session: a fresh `data-platform serve` process over stdio, `tools/list`,
     then `dbt_parse` (time of the call), on a project parsed for the first time (vs `dbt parse` of
     a project with no target/ folder: goal <= 1x) and on one parsed before by an earlier session
     (goal <= 2 s), the call sent right after `tools/list` and FIRST_PAUSE_S later (a session's
     first prompt: the server warms dbt up in the meantime).
Prints medians and ratios (subprocess time / our time: > 1 means we are faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from data_platform.config import load_settings  # noqa: E402
from data_platform.dbtools.runner import dbt_command  # noqa: E402
from data_platform.dbtools.service import DbtService  # noqa: E402
from measure import median_time  # noqa: E402
from pgcluster import destroy, from_env, start_cluster  # noqa: E402
from shopproject import copy_shop, dbt_env, make_deprecated  # noqa: E402

PAUSE_S = 5.0
FIRST_PAUSE_S = 5.0


async def first_call(root: Path, pause: float) -> float:
    """Seconds `dbt_parse` takes as the first call of a fresh server process (after tools/list)."""
    from mcp.client.client import Client
    from mcp.client.stdio import stdio_client

    from harness import server_params

    env = {k: v for k, v in os.environ.items() if k.startswith(("DP_TEST_", "DO_NOT", "DBT_SEND"))}
    params = server_params(root, {**env, "DBT_PROJECT_DIR": str(root)})
    with open(os.devnull, "w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), cache=None) as client:
            await client.list_tools()
            await anyio.sleep(pause)
            start = time.perf_counter()
            result = await client.call_tool("dbt_parse", {})
            seconds = time.perf_counter() - start
            assert not result.is_error, result
    return seconds


def first_calls(tmp: Path, repeat: int) -> None:
    """Section 4: the first dbt call of a session, fresh copies for the never-parsed case."""
    never, theirs, before, before_paused = [], [], [], []
    for i in range(repeat):  # alternate ours and theirs, each on a copy never parsed
        ours_root, their_root = copy_shop(tmp, f"first_ours_{i}"), copy_shop(tmp, f"first_cli_{i}")
        never.append(anyio.run(first_call, ours_root, 0.0))
        t0 = time.perf_counter()
        plain_dbt(their_root, "parse")
        theirs.append(time.perf_counter() - t0)
        before.append(anyio.run(first_call, ours_root, 0.0))  # parsed by the session above
        before_paused.append(anyio.run(first_call, ours_root, FIRST_PAUSE_S))
    med = statistics.median
    row("first call, never parsed", med(never), med(theirs), "(dbt parse of a project with no target/)")
    print(
        f"{'first call, parsed before':<28} ours {med(before) * 1000:8.0f} ms right after tools/list, "
        f"{med(before_paused) * 1000:.0f} ms {FIRST_PAUSE_S:.0f} s after it"
    )
    for label, value, goal in (
        ("first call never parsed / dbt parse", med(never) / med(theirs), 1.0),
        (f"first call parsed before, {FIRST_PAUSE_S:.0f} s after start (s)", med(before_paused), 2.0),
        ("first call parsed before, right after start (s)", med(before), 2.0),
    ):
        print(f"{label:<52}{value:>7.2f}   goal <= {goal:<4} {'ok' if value <= goal else 'MISSED'}")


def plain_dbt(root: Path, *args: str) -> tuple[int, int]:
    """`dbt <args>` as a user would type it; returns (exit code, deprecation events seen)."""
    cmd = dbt_command(
        [*args, "--project-dir", str(root), "--profiles-dir", str(root), "--log-format", "json"]
    )
    out = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=os.environ.copy())
    seen = 0
    for line in out.stdout.splitlines():
        try:
            info = json.loads(line)["info"]
        except (ValueError, KeyError):
            continue
        if info["name"].endswith("Deprecation"):
            seen += 1
    return out.returncode, seen


def row(name: str, ours: float, theirs: float, note: str = "") -> None:
    print(
        f"{name:<28} ours {ours * 1000:8.0f} ms   dbt subprocess {theirs * 1000:8.0f} ms   "
        f"ratio {theirs / ours:6.1f}x  {note}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repetitions instead of 5")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--first-only", action="store_true", help="only section 4, the first call")
    args = parser.parse_args()
    repeat = args.repeat or (3 if args.quick else 5)

    url = os.environ.get("DATA_PLATFORM_TEST_POSTGRES_URL")
    cluster = from_env(url) if url else start_cluster()
    tmp = Path(tempfile.mkdtemp(prefix="dp-bench-dbt-"))
    try:
        clean = copy_shop(tmp, "shop")
        deprecated = copy_shop(tmp, "shop_deprecated")
        make_deprecated(deprecated)
        os.environ.update(dbt_env(cluster, None, schema="bench_dbt"))
        os.environ.update({"DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
        print(f"dbt bench: {repeat} repetitions, medians; project {clean}")
        if args.first_only:
            first_calls(tmp, repeat)
            return

        def service(root: Path) -> DbtService:
            return DbtService(load_settings(project_dir=root, environ={"DBT_PROJECT_DIR": str(root)}))

        # 1. warm parse
        ours = service(clean)
        t0 = time.perf_counter()
        ours.validate()
        first = time.perf_counter() - t0
        plain_dbt(clean, "parse")  # warm dbt's own partial-parse state
        t_ours, _ = median_time(ours.validate, repeat)
        t_plain, _ = median_time(lambda: plain_dbt(clean, "parse"), repeat)
        row("warm parse", t_ours, t_plain, f"(our first parse in this process: {first:.2f} s)")

        # 2. parse with deprecations
        dep = service(deprecated)
        dep.validate()
        t_ours, v = median_time(dep.validate, repeat)
        t_plain, res = median_time(
            lambda: plain_dbt(deprecated, "parse", "--no-partial-parse", "--show-all-deprecations"), repeat
        )
        plain_dbt(deprecated, "parse")
        _, seen_partial = plain_dbt(deprecated, "parse")
        row(
            "parse with deprecations",
            t_ours,
            t_plain,
            f"(deprecations: ours {len(v.deprecations)}, subprocess {res[1]}, "
            f"subprocess with partial parsing {seen_partial})",
        )

        # 3. run of the test project (seeds first, so the models have their tables)
        plain_dbt(clean, "seed")

        async def our_runs() -> tuple[list[float], object]:
            times, out = [], None
            await ours.runs.run("run")  # first run starts cold; later ones find a pre-started worker
            for _ in range(repeat):
                await anyio.sleep(PAUSE_S)  # the gap between two tool calls, not timed
                start = time.perf_counter()
                out = await ours.runs.run("run")
                times.append(time.perf_counter() - start)
            await ours.close()
            return times, out

        times, out = anyio.run(our_runs)
        t_ours = statistics.median(times)
        t_plain, res = median_time(lambda: plain_dbt(clean, "run"), repeat)
        row("run (5 models)", t_ours, t_plain, f"(ours validates first; exit {out.returncode}/{res[0]})")

        # 4. the first call of a session
        first_calls(tmp, repeat)
    finally:
        destroy(cluster)
        subprocess.run(["rm", "-rf", str(tmp)], check=False)


if __name__ == "__main__":
    main()
