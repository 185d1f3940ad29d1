"""The PostgreSQL doctor's claims, measured in one run on a generated workload.

    .venv/bin/python bench/bench_doctor.py                  # 1M rows per table
    .venv/bin/python bench/bench_doctor.py --rows 200000

1. Index advice on a workload with known missing indexes (tests/doctorsetup.py: orders.customer_id,
   orders(status, created_at), events.device_id) and queries already served by an index: the
   advisor must find each missing one (checked with hypopg), advise nothing for the served ones,
   and each advised index, built with pg_execute's path, must make its query >= 10x faster as
   measured by EXPLAIN ANALYZE (best of 3) before and after.
2. Health on a database with planted problems (an invalid index, a duplicate index, a sequence at
   95% of its maximum, a table with 90% dead rows): every one found; on a clean database of the
   same size: no problem and no warning.

A throwaway cluster is started with tests/pgcluster.py (pg_stat_statements preloaded, hypopg
installed by scripts/setup-postgres.sh) and removed at the end.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

SPEEDUP_GOAL = 10.0


def settings_for(url: str, folder: Path):
    from data_platform.config import load_settings

    env = {"POSTGRES_URL": url, "DATA_PLATFORM_STATEMENT_TIMEOUT": "600"}
    return load_settings(folder, env, system_file=folder / "none.env")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()

    import psycopg

    from data_platform.postgres import load
    from data_platform.postgres.doctor import advice, health, measure
    from doctorsetup import MISSING, PLANTED, SERVED, make_clean, make_sick, make_workload, run_workload
    from namedconns import create_databases, db_url
    from pgcluster import destroy, start_cluster

    cluster = start_cluster()
    failures: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="dp-bench-doctor-"))
    try:
        create_databases(
            cluster, {"bench_work": "select 1", "bench_sick": "select 1", "bench_clean": "select 1"}
        )
        start = time.perf_counter()
        with psycopg.connect(db_url(cluster, "bench_work"), autocommit=True) as conn:
            make_workload(conn, rows=args.rows)
            conn.execute("select pg_stat_statements_reset()")
            run_workload(conn)
        with psycopg.connect(db_url(cluster, "bench_sick"), autocommit=True) as conn:
            make_sick(conn, rows=max(50_000, args.rows // 10))
        with psycopg.connect(db_url(cluster, "bench_clean"), autocommit=True) as conn:
            make_clean(conn, rows=args.rows)
        print(f"setup: {args.rows:,} rows per table in {time.perf_counter() - start:.1f} s")

        work = settings_for(db_url(cluster, "bench_work"), folder)
        t0 = time.perf_counter()
        found = advice.advise(work)
        took = time.perf_counter() - t0
        looked = f"{len(found.looked)} statements, hypopg {found.hypopg}"
        print(f"\nadvice for the workload ({looked}) in {took:.2f} s:")
        by_query: dict[str, advice.Advised] = {}
        for a in found.advised:
            for h in a.helps:
                by_query[h.query] = a
        for _sql, table, column in MISSING:
            hit = [
                a for a in found.advised if a.table == f'"public"."{table}"' and a.columns[0] == f'"{column}"'
            ]
            mark = "found" if hit else "MISSED"
            print(f"  {mark:6} {table}({column}...): {hit[0].create if hit else '-'}")
            if not hit:
                failures.append(f"missing index on {table}.{column} not advised")
        served = {re.sub(r"= \d+", "= $1", s) for s in SERVED}  # as pg_stat_statements writes them
        served_advised = [q for q in by_query if q in served]
        if not served <= {q.query for q in found.looked}:
            failures.append("the served queries were not looked at")
        print(f"  indexes advised for the {len(SERVED)} already-served queries: {len(served_advised)}")
        for q in found.looked:
            print(f"    {q.query[:80]:80} {q.verdict}")
        if served_advised:
            failures.append(f"advised for served queries: {served_advised}")

        print(f"\nmeasured (EXPLAIN ANALYZE, best of {measure.RUNS}) before and after building each index:")
        for sql, table, column in MISSING:
            hit = [
                a for a in found.advised if a.table == f'"public"."{table}"' and a.columns[0] == f'"{column}"'
            ]
            if not hit:
                continue
            before = measure.timed(work, sql)
            t0 = time.perf_counter()
            load.execute(work, hit[0].create)
            build = time.perf_counter() - t0
            after = measure.timed(work, sql)
            ratio = before.ms / max(after.ms, 1e-3)
            helped = hit[0].helps[0]
            print(
                f"  {sql[:70]:70} {before.ms:9.2f} ms -> {after.ms:7.3f} ms  {ratio:8.1f}x "
                f"(planner estimate {helped.gain:.0f}x; build {build:.1f} s)"
            )
            if ratio < SPEEDUP_GOAL:
                failures.append(f"{sql}: {ratio:.1f}x < {SPEEDUP_GOAL:g}x")
        again = advice.advise(work)
        print(f"  advice after building them: {len(again.advised)} index(es) advised")
        if again.advised:
            failures.append("indexes still advised after building them")

        print("\nhealth:")
        sick = health.run(settings_for(db_url(cluster, "bench_sick"), folder))
        checks = {c.name: c for c in sick.checks}
        hits = 0
        for check, what, fix in PLANTED:
            ok = any(f.what == what and fix in f.fix for f in checks[check].findings)
            hits += ok
            print(f"  planted {check:22} {what:34} {'found, fix named' if ok else 'MISSED'}")
            if not ok:
                failures.append(f"planted problem not found: {check} {what}")
        print(f"  planted problems found: {hits}/{len(PLANTED)}; verdict: {sick.verdict()}")
        clean = health.run(settings_for(db_url(cluster, "bench_clean"), folder))
        alarms = [c for c in clean.checks if c.status in ("problem", "warning")]
        print(f"  clean database ({args.rows:,} rows): {clean.verdict()}")
        for c in alarms:
            print(f"    FALSE ALARM {c.name}: {c.summary}")
            failures.append(f"false alarm on the clean database: {c.name}")
    finally:
        destroy(cluster)
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    print("\n" + ("all claims hold" if not failures else "FAILED: " + "; ".join(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
