"""PostgreSQL <-> Arrow benchmark: our paths vs the floor and the seed design, in one run.

    .venv/bin/python bench/bench_postgres.py            # 1M rows x 6 columns, 3 runs each
    .venv/bin/python bench/bench_postgres.py --rows 200000 --runs 1
    .venv/bin/python bench/bench_postgres.py --url postgresql://...   # an existing database (superuser)

Each workload runs in a fresh process (median of --runs); extra memory is the
peak RSS above the process's RSS after imports. Without --url a throwaway
cluster is started with tests/pgcluster.py and removed at the end.

Baselines: the server's `COPY (q) TO '/dev/null'` (the floor: no client at all) and `psql -c
"COPY (q) TO STDOUT"` into /dev/null (a client that only moves the bytes). `pg_query_mcp` is
the whole tool call through the SDK's in-memory MCP client (the answer's preview and
structured content included) on a warm server; `pg_query` is its core (postgres/query.py).
Issue 27's goals: pg_query through MCP <= 1.5x the floor and <= 1.2x psql.
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
from typing import Any

import anyio

from measure import rss_mb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from pgcluster import _bin_dir  # noqa: E402  (where psql is: PostgreSQL's bin folder)

TABLE = "bench_src"


class PeakRSS:
    """Samples RSS in a thread: the peak of a workload above its start."""

    def __enter__(self) -> PeakRSS:
        import threading

        self.base = rss_mb()
        self.peak = self.base
        self._stop = threading.Event()

        def sample() -> None:
            while not self._stop.is_set():
                self.peak = max(self.peak, rss_mb())
                time.sleep(0.005)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def settings_for(url: str, folder: Path):
    from data_platform.config import load_settings

    env = {
        "POSTGRES_URL": url,
        "DATA_PLATFORM_MAX_ROWS": "100000000",
        "DATA_PLATFORM_STATEMENT_TIMEOUT": "600",
    }
    return load_settings(folder, env, system_file=folder / "none.env")


def worker(name: str, url: str, csv_path: str) -> dict[str, Any]:
    """One measurement in this fresh process; its registry folder goes with it."""
    folder = Path(tempfile.mkdtemp(prefix="dp-bench-"))
    try:
        return _measure(name, url, csv_path, folder)
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def _measure(name: str, url: str, csv_path: str, folder: Path) -> dict[str, Any]:
    # Import everything up front: a running server has already paid for its imports.
    import adbc_driver_postgresql.dbapi  # noqa: F401
    import asyncpg
    import pandas  # noqa: F401
    import pglast.parser  # noqa: F401
    import psycopg
    import pyarrow as pa

    from data_platform.postgres.load import load
    from data_platform.postgres.query import run_query
    from data_platform.registry import Registry

    settings = settings_for(url, folder)
    reg = Registry(folder / "reg")
    extra: dict[str, Any] = {}
    if name == "pg_load":  # prepare the ref outside the timed part
        run_query(settings, reg, f"select * from {TABLE}", name="src")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop table if exists bench_dst")
        if name == "copy_from_csv":
            conn.execute(f"create table bench_dst (like {TABLE})")
    # Warm up each path the way a running server is warm: drivers loaded, first connect done.
    run_query(settings, reg, "select 1 as x", name="warm")
    load(settings, reg, "warm", "bench_warm", mode="replace")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("copy (select 1) to '/dev/null'")
    if name == "pg_query_mcp":  # a running server: built, listed and called once before
        anyio.run(_mcp_server, settings, reg)
    reg.close()  # the setup's background fsyncs are not the measured call's work
    if name == "seed_asyncpg_pandas":
        import asyncio

        import asyncpg

        async def warm() -> None:
            conn = await asyncpg.connect(url)
            await conn.fetch("select 1")
            await conn.close()

        asyncio.run(warm())
    with PeakRSS() as mem:
        start = time.perf_counter()
        if name == "copy_to_devnull":
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"copy (select * from {TABLE}) to '/dev/null'")
        elif name == "pg_query":
            out = run_query(settings, reg, f"select * from {TABLE}", name="q")
            extra["rows"] = out.info.rows
        elif name == "psql_copy_stdout":
            psql = str(Path(_bin_dir()) / "psql")
            sql = f"copy (select * from {TABLE}) to stdout"
            subprocess.run([psql, url, "-qc", sql], stdout=subprocess.DEVNULL, check=True)
        elif name == "pg_query_mcp":
            extra["rows"] = anyio.run(_through_mcp, settings, reg)
        elif name == "seed_asyncpg_pandas":
            import asyncio

            import asyncpg
            import pandas as pd

            async def fetch() -> list[dict[str, Any]]:
                conn = await asyncpg.connect(url)
                try:
                    return [dict(r) for r in await conn.fetch(f"select * from {TABLE}")]
                finally:
                    await conn.close()

            table = pa.Table.from_pandas(pd.DataFrame(asyncio.run(fetch())), preserve_index=False)
            extra["arrow_mb"] = table.nbytes / 2**20
        elif name == "copy_from_csv":
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"copy bench_dst from '{csv_path}' with (format csv)")
        elif name == "pg_load":
            out = load(settings, reg, "src", "bench_dst", mode="create")
            extra["rows"] = out.rows
        seconds = time.perf_counter() - start
    if name == "pg_query_mcp":
        seconds = _CLIENT["seconds"]  # the call alone: not the in-memory server's start and stop
    if name in ("pg_query", "pg_query_mcp"):
        t0 = time.perf_counter()
        reg.close()
        extra["flush"] = time.perf_counter() - t0  # on disk this long after the answer
        extra["arrow_mb"] = reg.get("q").nbytes / 2**20
    return {"seconds": seconds, "extra_mb": mem.peak - mem.base, **extra}


_CLIENT: dict[str, Any] = {}


async def _mcp_server(settings: Any, reg: Any) -> None:
    """Warm the tool path once (its modules imported, the driver loaded) in a throwaway server."""
    from mcp.client.client import Client

    from data_platform.server import build_server

    async with Client(build_server(settings, registry=reg), cache=None) as client:
        await client.list_tools()
        result = await client.call_tool("pg_query", {"sql": "select 1 as x", "name": "warm_mcp"})
        assert not result.is_error, result


async def _through_mcp(settings: Any, reg: Any) -> int:
    """The whole pg_query call through the in-memory client: from the request to the answer."""
    from mcp.client.client import Client

    from data_platform.server import build_server

    async with Client(build_server(settings, registry=reg), cache=None) as client:
        await client.list_tools()
        start = time.perf_counter()
        result = await client.call_tool("pg_query", {"sql": f"select * from {TABLE}", "name": "q"})
        _CLIENT["seconds"] = time.perf_counter() - start
        assert not result.is_error, result
        return int((result.structured_content or {})["rows"])


def run_worker(name: str, url: str, csv_path: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", name, "--url", url, "--csv", csv_path],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--url", help="existing database (superuser: server-side COPY is the floor)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--csv", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.url, args.csv)))
        return 0

    cluster = None
    if not args.url:
        sys.path.insert(0, str(HERE.parent / "tests"))
        from pgcluster import destroy, start_cluster

        print("starting a throwaway PostgreSQL cluster...", flush=True)
        cluster = start_cluster()
        url = cluster.url
    else:
        url = args.url
    try:
        import psycopg

        csv_path = f"/tmp/dp_bench_{os.getpid()}.csv"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"drop table if exists {TABLE}")
            conn.execute(
                f"""create table {TABLE} as select g::int4 as i, (g::int8 * 1000003) as b,
                      g * 0.5::float8 as f, 'row ' || g || ' text' as t,
                      timestamp '2024-01-01' + g * interval '1 second' as ts,
                      (g % 100000) / 100.0::numeric(12,2) as n
                    from generate_series(1, {args.rows}) g"""
            )
            conn.execute(f"alter table {TABLE} alter column n type numeric(12,2)")
            conn.execute(f"vacuum analyze {TABLE}")
            conn.execute(f"copy {TABLE} to '{csv_path}' with (format csv)")
        names = [
            "copy_to_devnull",
            "psql_copy_stdout",
            "pg_query",
            "pg_query_mcp",
            "seed_asyncpg_pandas",
            "copy_from_csv",
            "pg_load",
        ]
        results: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        for _ in range(args.runs):
            for n in names:
                runs = 1 if n == "seed_asyncpg_pandas" and args.runs > 1 and results[n] else None
                if runs == 1:
                    continue  # the slow seed path once is enough
                results[n].append(run_worker(n, url, csv_path))
        med = {n: statistics.median(r["seconds"] for r in rs) for n, rs in results.items()}
        mem = {n: statistics.median(r["extra_mb"] for r in rs) for n, rs in results.items()}
        arrow_mb = results["pg_query"][0]["arrow_mb"]
        print(
            f"\nPostgreSQL <-> Arrow, {args.rows:,} rows x 6 columns (int4, int8, float8, text, timestamp, "
            f"numeric(12,2)); median of {args.runs} run(s), fresh process each"
        )
        print(f"{'workload':<28}{'seconds':>10}{'extra MB':>10}")
        for n in names:
            print(f"{n:<28}{med[n]:>10.3f}{mem[n]:>10.0f}")
        flush = statistics.median(r["flush"] for r in results["pg_query"])
        print(
            f"\nresult Arrow size: {arrow_mb:.0f} MB; pg_query's ref on disk {flush:.2f} s after the answer"
        )
        checks = [
            ("pg_query (MCP) / COPY TO /dev/null", med["pg_query_mcp"] / med["copy_to_devnull"], "<= 1.5"),
            ("pg_query (MCP) / psql COPY TO STDOUT", med["pg_query_mcp"] / med["psql_copy_stdout"], "<= 1.2"),
            ("pg_query / COPY TO /dev/null", med["pg_query"] / med["copy_to_devnull"], "<= 1.5"),
            ("seed path / pg_query", med["seed_asyncpg_pandas"] / med["pg_query"], ">= 5"),
            ("pg_query extra memory / Arrow size", mem["pg_query"] / arrow_mb, "<= 2"),
            ("pg_load / COPY FROM csv", med["pg_load"] / med["copy_from_csv"], "<= 1.2"),
        ]
        for label, ratio, goal in checks:
            op, target = goal.split()
            ok = ratio <= float(target) if op == "<=" else ratio >= float(target)
            print(f"{label:<38}{ratio:>7.2f}x  goal {goal:<7} {'ok' if ok else 'MISSED'}")
        Path(csv_path).unlink(missing_ok=True)
    finally:
        if cluster is not None:
            destroy(cluster)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
