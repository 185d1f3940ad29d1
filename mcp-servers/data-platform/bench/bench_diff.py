"""`diff` benchmark: our diff vs hand-written baselines over the same data, ratios in one run.

    .venv/bin/python bench/bench_diff.py                  # (a) 5M vs 5M refs, (b) 1M vs 1M in PostgreSQL
    .venv/bin/python bench/bench_diff.py --rows 1000000 --pg-rows 200000 --runs 1
    .venv/bin/python bench/bench_diff.py --url postgresql://...   # an existing database for (b)

(a) Two refs of --rows rows (id, customer, amount, status, day) with ~1% of rows changed, a few
    deleted and added: the `diff` core as the tool runs it (duplicate-key checks, the summary,
    examples stored as refs, over memory-mapped refs in the server's DuckDB sandbox) vs DuckDB's
    own hand-written keyed diff (one FULL OUTER JOIN with a per-column comparison) over the same
    Arrow tables. Goal: <= 1.5x.
(b) Two tables of --pg-rows rows in one PostgreSQL: the pushed-down diff as the tool runs it vs the
    very same SQL statements run by `psql -f`. Goal: <= 1.3x.
Medians of --runs, alternating ours and the baseline. Without --url a throwaway cluster is started
with tests/pgcluster.py and removed at the end.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
COLUMNS = ["customer", "amount", "status", "day"]


def tables(rows: int) -> tuple[pa.Table, pa.Table]:
    """left and right: right has ~1% of rows changed (spread over the columns), 0.1% deleted and added."""
    rng = np.random.default_rng(7)
    ids = np.arange(1, rows + 1, dtype=np.int64)
    customer = rng.integers(1, 100_000, rows)
    amount = np.round(rng.random(rows) * 1000, 2)
    status = rng.choice(np.array(["open", "paid", "shipped", "cancelled"], dtype=object), rows)
    day = rng.integers(19_000, 20_000, rows).astype("int32")
    left = pa.table(
        {
            "id": ids,
            "customer": customer,
            "amount": amount,
            "status": pa.array(status, pa.string()),
            "day": pa.array(day, pa.int32()).cast(pa.date32()),
        }
    )
    changed = rng.random(rows) < 0.01
    which = rng.integers(0, 3, rows)
    amount2 = np.where(changed & (which == 0), amount + 0.5, amount)
    customer2 = np.where(changed & (which == 1), customer + 1, customer)
    status2 = np.where(changed & (which == 2), "returned", status)
    keep = rng.random(rows) >= 0.001
    right = pa.table(
        {
            "id": ids,
            "customer": customer2,
            "amount": amount2,
            "status": pa.array(status2, pa.string()),
            "day": left["day"],
        }
    ).filter(pa.array(keep))
    extra = rows // 1000
    added = pa.table(
        {
            "id": np.arange(rows + 1, rows + 1 + extra, dtype=np.int64),
            "customer": np.ones(extra, dtype=np.int64),
            "amount": np.ones(extra),
            "status": pa.array(["new"] * extra, pa.string()),
            "day": pa.array(np.full(extra, 19_500, dtype="int32"), pa.int32()).cast(pa.date32()),
        }
    )
    return left, pa.concat_tables([right, added])


def handwritten(con: object, left: str, right: str, quote: bool = False) -> str:
    """The diff a person writes by hand: one FULL OUTER JOIN and a comparison per column."""
    parts = [
        "count(*) filter (where l.id is null) as only_right",
        "count(*) filter (where r.id is null) as only_left",
    ]
    for c in COLUMNS:
        parts.append(
            f"count(*) filter (where l.id is not null and r.id is not null "
            f"and l.{c} is distinct from r.{c}) as {c}_changed"
        )
    parts.append("max(abs(l.amount - r.amount)) as amount_max")
    return f"select {', '.join(parts)} from {left} l full outer join {right} r on l.id = r.id"


def bench_refs(rows: int, runs: int, shuffle: bool = False) -> tuple[float, float]:
    from data_platform.diffing import service
    from data_platform.frames.engine import Engine
    from data_platform.registry import Registry

    folder = Path(tempfile.mkdtemp(prefix="dp-bench-diff-"))
    try:
        reg = Registry(folder)
        left, right = tables(rows)
        if shuffle:  # rows in no key order: the duplicate check is a GROUP BY per side
            rng = np.random.default_rng(3)
            left = left.take(pa.array(rng.permutation(left.num_rows)))
            right = right.take(pa.array(rng.permutation(right.num_rows)))
        reg.put(left, name="left", source="bench")
        reg.put(right, name="right", source="bench")
        del left, right
        engine = Engine()
        lt, rt = reg.get("left"), reg.get("right")

        def ours() -> float:
            start = time.perf_counter()
            out = service.run_diff(
                service.Side("left", "ref"),
                service.Side("right", "ref"),
                ["id"],
                tolerance=None,
                settings_for=lambda _: None,  # type: ignore[arg-type,return-value]
                registry=reg,
                engine=engine,
            )
            took = time.perf_counter() - start
            for name in out.examples.values():
                reg.drop(name)
            ours.result = out.result  # type: ignore[attr-defined]
            return took

        def baseline() -> float:
            start = time.perf_counter()
            with engine.over({"l_t": lt, "r_t": rt}) as con:
                row = con.execute(handwritten(con, "l_t", "r_t")).fetchone()
            baseline.row = row  # type: ignore[attr-defined]
            return time.perf_counter() - start

        ours(), baseline()  # warm: pages of the refs in memory, DuckDB opened
        mine, base = [], []
        for _ in range(runs):
            mine.append(ours())
            base.append(baseline())
        s = ours.result.keyed  # type: ignore[attr-defined]
        row = baseline.row  # type: ignore[attr-defined]
        per = {c.name: c.changed for c in s.columns}
        assert (s.only_right, s.only_left) == (row[0], row[1]), (s, row)
        assert [per[c] for c in COLUMNS] == list(row[2:6]), (per, row)
        print(
            f"  {'shuffled' if shuffle else 'in key order'}, {rows:,} vs {rows:,} rows: {s.same:,} same, "
            f"{s.changed:,} changed, "
            f"{s.only_left:,} only left, {s.only_right:,} only right (the same counts both ways)"
        )
        engine.close()
        reg.close()
        return statistics.median(mine), statistics.median(base)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_pg(url: str, rows: int, runs: int) -> tuple[float, float]:
    import psycopg

    from data_platform.config import load_settings
    from data_platform.diffing import compare, service, sql
    from data_platform.frames.engine import Engine
    from data_platform.registry import Registry

    left, right = tables(rows)
    with psycopg.connect(url, autocommit=True) as conn:
        for name, table in (("diff_l", left), ("diff_r", right)):
            conn.execute(f"drop table if exists {name}")
            conn.execute(
                f"create table {name} (id bigint primary key, customer bigint, amount float8, "
                "status text, day date)"
            )
            with conn.cursor().copy(f"copy {name} (id, customer, amount, status, day) from stdin") as cp:
                for batch in table.to_batches(max_chunksize=100_000):
                    for rec in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                        cp.write_row(rec)
            conn.execute(f"vacuum analyze {name}")
    folder = Path(tempfile.mkdtemp(prefix="dp-bench-diff-"))
    try:
        settings = load_settings(
            folder, {"POSTGRES_URL": url, "DATA_PLATFORM_STATEMENT_TIMEOUT": "600"}, folder / "none.env"
        )
        reg = Registry(folder / ".data-platform")
        engine = Engine()

        def ours() -> float:
            start = time.perf_counter()
            out = service.run_diff(
                service.Side("diff_l", "table"),
                service.Side("diff_r", "table"),
                ["id"],
                tolerance=None,
                settings_for=lambda _: settings,
                registry=reg,
                engine=engine,
            )
            took = time.perf_counter() - start
            for name in out.examples.values():
                reg.drop(name)
            ours.result = out.result  # type: ignore[attr-defined]
            return took

        ours()
        result: compare.DiffResult = ours.result  # type: ignore[attr-defined]
        # The very same statements, as the diff generated them, run by psql from one file.
        cols = [compare.SideColumn(c, "x", c == "amount" or c == "customer") for c in ["id", *COLUMNS]]
        _, colmap = compare.compare_schemas(cols, cols)
        plan = sql.KeyedDiff(
            '"public"."diff_l"',
            '"public"."diff_r"',
            [colmap["id"]],
            [colmap[c] for c in COLUMNS],
            None,
            sql.POSTGRES,
        )
        statements = [plan.duplicates_sql("left"), plan.duplicates_sql("right"), plan.summary_sql()]
        statements += list(result.example_sql.values())
        script = folder / "diff.sql"
        script.write_text("".join(s + ";\n" for s in statements))
        psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"

        def baseline() -> float:
            start = time.perf_counter()
            subprocess.run([psql, "-X", "-q", "-d", url, "-f", str(script), "-o", "/dev/null"], check=True)
            return time.perf_counter() - start

        baseline()
        mine, base = [], []
        for _ in range(runs):
            mine.append(ours())
            base.append(baseline())
        s = result.keyed
        assert s is not None
        print(
            f"  {rows:,} vs {rows:,} rows in PostgreSQL: {s.same:,} same, {s.changed:,} changed, "
            f"{s.only_left:,} only left, {s.only_right:,} only right; {len(statements)} statements"
        )
        engine.close()
        reg.close()
        return statistics.median(mine), statistics.median(base)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--pg-rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--url", help="an existing database for (b)")
    ap.add_argument("--only", choices=["refs", "pg"])
    args = ap.parse_args()
    results = []
    if args.only in (None, "refs"):
        print("(a) refs, DuckDB:", flush=True)
        ours, base = bench_refs(args.rows, args.runs)
        results.append(("refs in key order / hand-written DuckDB diff", ours, base, 1.5))
        ours, base = bench_refs(args.rows, args.runs, shuffle=True)
        results.append(("refs shuffled / hand-written DuckDB diff", ours, base, 1.5))
    if args.only in (None, "pg"):
        cluster = None
        url = args.url
        if not url:
            sys.path.insert(0, str(HERE.parent / "tests"))
            from pgcluster import start_cluster

            print("starting a throwaway PostgreSQL cluster...", flush=True)
            cluster = start_cluster()
            url = cluster.url
        try:
            print("(b) pushed down to PostgreSQL:", flush=True)
            ours, base = bench_pg(url, args.pg_rows, args.runs)
            results.append(("pushed-down diff / the same SQL by psql", ours, base, 1.3))
        finally:
            if cluster is not None:
                from pgcluster import destroy

                destroy(cluster)
    print(f"\nmedian of {args.runs} run(s)")
    print(f"{'comparison':<46}{'ours s':>9}{'base s':>9}{'ratio':>8}")
    for label, ours, base, goal in results:
        ratio = ours / base
        print(
            f"{label:<46}{ours:>9.3f}{base:>9.3f}{ratio:>7.2f}x  goal <= {goal}  "
            + ("ok" if ratio <= goal else "MISSED")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
