"""dbt_show of a 100k-row model, beside the same compiled query run directly through the adapter.

    .venv/bin/python bench/bench_dbt_show.py [--rows N] [--repeat N] [--adapter duckdb|postgres|both]

On a copy of the shop project with one more model of N rows (id, amount, label, day) on each
adapter (dbt-duckdb on a throwaway file; PostgreSQL from DATA_PLATFORM_TEST_POSTGRES_URL or a
throwaway cluster). Measured in the same run, medians of --repeat:
  tool      the whole tool call `dbt_show(model=big_numbers, limit=-1)` through the SDK's in-memory
            MCP client: validate, compile in-process, the guarded read-only query, rows into a
            ref, the answer (preview, structured content);
  core      the same minus the MCP transport and the answer (dbtools/show.py);
  adapter   the compiled SQL through dbt's adapter: `adapter.execute(sql, fetch=True)` (what
            `dbt show` does: rows into an agate table);
  cursor    the floor: the compiled SQL on the adapter's raw DB-API cursor, `fetchall()`.
Ratios: tool / cursor (issue 27's goal: <= 1.5), tool / adapter and core / cursor.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import anyio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from data_platform.config import load_settings  # noqa: E402
from data_platform.dbtools import show, warehouse  # noqa: E402
from data_platform.dbtools.service import DbtService  # noqa: E402
from data_platform.registry import Registry  # noqa: E402
from measure import median_time  # noqa: E402
from shopproject import copy_shop, dbt_env, duckdb_env  # noqa: E402

MODEL = """{{ config(materialized='view') }}
{% if target.type == 'duckdb' %}
select i as id, i * 1.5 as amount, 'name_' || i as label, date '2025-01-01' + cast(i % 365 as integer) as day
from range(1, {{ var('rows') }} + 1) t(i)
{% else %}
select g as id, g * 1.5 as amount, 'name_' || g as label, date '2025-01-01' + (g % 365) as day
from generate_series(1, {{ var('rows') }}) g
{% endif %}
"""


def bench(adapter: str, rows: int, repeat: int, tmp: Path, pg_url_env: dict[str, str] | None) -> None:
    root = copy_shop(tmp, f"shop_{adapter}")
    (root / "models" / "big_numbers.sql").write_text(MODEL)
    (root / "dbt_project.yml").write_text((root / "dbt_project.yml").read_text() + f"vars:\n  rows: {rows}\n")
    schema = f"bench_{uuid.uuid4().hex[:6]}"
    env = duckdb_env(root, tmp / f"{adapter}.duckdb", schema) if pg_url_env is None else {**pg_url_env}
    env["DP_TEST_PG_SCHEMA"] = schema
    env["DBT_PROJECT_DIR"] = str(root)
    os.environ.update(env)  # the profile's env_var()s are read from the process environment
    settings = load_settings(project_dir=root, environ=env)
    settings = settings.model_copy(update={"max_rows": max(rows, settings.max_rows)})
    service = DbtService(settings)
    registry = Registry(tmp / f"refs_{adapter}")

    def ours() -> int:
        out = show.show(service, registry, settings, model="big_numbers", sql=None, limit=-1, name=None,
                        overwrite=False, target=None)  # fmt: skip
        return out.info.rows

    ours()  # warm: dbt imported, project parsed once, partial parsing from here on
    compiled = show.show(service, registry, settings, model="big_numbers", sql=None, limit=1, name=None,
                         overwrite=False, target=None).compiled_sql  # fmt: skip

    def through_adapter(raw: bool) -> int:
        project = service.project()
        args = ["compile", *service.base_args(project, None, None), "--target-path",
                str(project.validation_path), "--inline", "select 1 as ok"]  # fmt: skip
        timed: list[float] = []

        def run(_result: object) -> int:
            adapter_ = warehouse.current_adapter()
            start = time.perf_counter()
            with adapter_.connection_named("bench"):
                if raw:
                    cursor = adapter_.connections.get_thread_connection().handle.cursor()
                    cursor.execute(compiled)
                    n = len(cursor.fetchall())
                else:
                    _, table = adapter_.execute(compiled, fetch=True)
                    n = len(table.rows)
            timed.append(time.perf_counter() - start)
            return n

        inv = service.inproc.invoke(args, after=run)
        assert inv.after == rows, inv.after
        return timed[0]

    async def through_mcp() -> list[float]:
        from mcp.client.client import Client

        from data_platform.server import build_server

        args = {"model": "big_numbers", "limit": -1, "name": "big_tool", "overwrite": True}
        times: list[float] = []
        served = Registry(tmp / f"refs_{adapter}_tool")  # build_server closes it at the end
        async with Client(build_server(settings, registry=served), cache=None) as client:
            for i in range(repeat + 1):  # the first call warms this server's dbt service
                start = time.perf_counter()
                result = await client.call_tool("dbt_show", args)
                if i:
                    times.append(time.perf_counter() - start)
                assert not result.is_error, result
                assert (result.structured_content or {})["rows"] == rows, result.structured_content
        return times

    # Interleaved rounds: the machine's load moves all figures alike.
    t_tool_, t_ours_, t_adapter_, t_cursor_ = [], [], [], []
    for _ in range(repeat):
        t_tool_.append(statistics.median(anyio.run(through_mcp)))
        t_ours_.append(median_time(ours, 1)[0])
        t_adapter_.append(through_adapter(False))
        t_cursor_.append(through_adapter(True))
    med = statistics.median
    t_tool, t_ours, t_adapter, t_cursor = med(t_tool_), med(t_ours_), med(t_adapter_), med(t_cursor_)
    print(
        f"{adapter:9} {rows:,} rows: tool {t_tool:.3f} s | core {t_ours:.3f} s | adapter.execute (agate) "
        f"{t_adapter:.3f} s | raw cursor {t_cursor:.3f} s\n"
        f"{'':9} tool/cursor {t_tool / t_cursor:.2f}x (goal <= 1.5: "
        f"{'ok' if t_tool / t_cursor <= 1.5 else 'MISSED'}), tool/adapter {t_tool / t_adapter:.2f}x, "
        f"core/cursor {t_ours / t_cursor:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--adapter", choices=["duckdb", "postgres", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir, contextlib.ExitStack() as stack:
        tmp = Path(tmp_dir)
        if args.adapter in ("duckdb", "both"):
            bench("duckdb", args.rows, args.repeat, tmp, None)
        if args.adapter in ("postgres", "both"):
            from pgcluster import destroy, from_env, start_cluster

            url = os.environ.get("DATA_PLATFORM_TEST_POSTGRES_URL")
            cluster = from_env(url) if url else start_cluster()
            stack.callback(destroy, cluster)
            env = dbt_env(cluster, None)
            env["DBT_TARGET"] = "dev"
            bench("postgres", args.rows, args.repeat, tmp, env)


if __name__ == "__main__":
    main()
