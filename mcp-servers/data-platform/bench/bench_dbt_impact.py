"""dbt_impact: the lineage and state review of a 500-model project, and the data review beside dbt_compare.

    .venv/bin/python bench/bench_dbt_impact.py [--models N] [--rows N] [--repeat N] [--part state|data|both]

state: a generated project (bench_column_lineage.generate, dbt-duckdb, nothing built) with its
       manifest kept as a state folder, then 3 models changed; `impact.review(against=<folder>,
       data=False)` (parse, both manifests, modified/impacted nodes and their tests), cold then
       warm (median). Target: warm <= 3 s.
data:  PostgreSQL (DATA_PLATFORM_TEST_POSTGRES_URL or a throwaway cluster): 5 table models of
       --rows rows built in prod, changed (some rows dropped, some amounts changed) and built in
       dev; one `impact.review(against="prod")` (the 5 models, keyed by their unique tests) against
       the same 5 diffs run one by one through dbt_compare's core (`compare.compare`), both measured
       in this run. Target: review / dbt_compare one by one <= 1.5.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import anyio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from bench_column_lineage import generate  # noqa: E402
from data_platform.config import load_settings  # noqa: E402
from data_platform.dbtools import compare, impact  # noqa: E402
from data_platform.dbtools.service import DbtService  # noqa: E402
from data_platform.registry import Registry  # noqa: E402

BIG = 5
BIG_MODEL = """{{{{ config(materialized='table') }}}}
select g as id, g * 1.5{change} as amount, 'name_' || g as label, g % 97 as bucket
from generate_series(1, {rows}) g{where}
"""
PROFILE = """big:
  target: dev
  outputs:
    dev: &pg
      type: postgres
      host: "{{{{ env_var('DP_TEST_PG_HOST') }}}}"
      port: "{{{{ env_var('DP_TEST_PG_PORT') | as_number }}}}"
      user: "{{{{ env_var('DP_TEST_PG_USER') }}}}"
      password: "{{{{ env_var('DP_TEST_PG_PASSWORD') }}}}"
      dbname: "{{{{ env_var('DP_TEST_PG_DBNAME') }}}}"
      schema: {schema}
      threads: 2
    prod:
      <<: *pg
      schema: {schema}_prod
"""


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def bench_state(models: int, repeat: int, tmp: Path) -> None:
    root = tmp / "big"
    generate(root, models)
    env = {"DBT_PROJECT_DIR": str(root), "DBT_PROFILES_DIR": str(root)}
    os.environ.update(env)
    service = DbtService(load_settings(project_dir=root, environ=env))
    validation = service.checked("bench", None, None)
    state = tmp / "base-state"
    state.mkdir()
    shutil.copy(validation.manifest_path, state / "manifest.json")
    for name in ("stg_3", "int_10", "mart_20"):
        path = root / "models" / f"{name}.sql"
        path.write_text(path.read_text().replace("select ", "select 1 as changed_here, ", 1))

    def review() -> impact.ImpactOutcome:
        return impact.review(service, None, against=str(state), data=False)

    t_cold, out = timed(review)
    assert len(out.changes.modified) == 3, out.changes.modified
    warm = [timed(review)[0] for _ in range(repeat)]
    print(
        f"state: {out.changes.nodes_compared} nodes, 3 modified, {len(out.changes.impacted)} impacted, "
        f"{sum(len(t) for t in out.changes.tests.values())} tests; cold {t_cold:.2f} s (a full parse), "
        f"warm {statistics.median(warm):.2f} s (target <= 3 s)"
    )


def bench_data(rows: int, repeat: int, tmp: Path, pg_env: dict[str, str]) -> None:
    root = tmp / "bigpg"
    (root / "models").mkdir(parents=True)
    schema = f"bench_{uuid.uuid4().hex[:6]}"
    (root / "dbt_project.yml").write_text("name: big\nversion: '1.0.0'\nconfig-version: 2\nprofile: big\n")
    (root / "profiles.yml").write_text(PROFILE.format(schema=schema))
    (root / "models" / "schema.yml").write_text(
        "version: 2\nmodels:\n"
        + "".join(
            f"  - name: big_{i}\n    columns:\n      - name: id\n        data_tests: [unique]\n"
            for i in range(BIG)
        )
    )
    for i in range(BIG):
        (root / "models" / f"big_{i}.sql").write_text(BIG_MODEL.format(rows=rows, change="", where=""))
    env = {**pg_env, "DBT_PROJECT_DIR": str(root), "DBT_PROFILES_DIR": str(root)}
    os.environ.update(env)
    service = DbtService(load_settings(project_dir=root, environ=env))
    registry = Registry(tmp / "refs")
    selection = "resource_type:model"

    async def build() -> None:  # prod, then dev changed: every 1000th row gone, every 100th amount changed
        await service.runs.run("run", select=selection, target="prod")
        for i in range(BIG):
            (root / "models" / f"big_{i}.sql").write_text(
                BIG_MODEL.format(
                    rows=rows,
                    change=" + case when g % 100 = 0 then 1 else 0 end",
                    where=" where g % 1000 <> 0",
                )
            )
        await service.runs.run("run", select=selection)
        await service.close()

    t_build, _ = timed(lambda: anyio.run(build))

    def ours() -> impact.ImpactOutcome:
        return impact.review(service, registry, against="prod", profile=True)  # as the tool

    def one_by_one() -> list[compare.CompareOutcome]:
        return [
            compare.compare(service, registry, model=f"big_{i}", against="prod", key=["id"], target=None)
            for i in range(BIG)
        ]

    out = ours()  # warm both: dbt imported, project parsed
    assert len(out.models) == BIG and all(m.result is not None for m in out.models), [
        m.problem for m in out.models
    ]
    one_by_one()
    t_ours = statistics.median(timed(ours)[0] for _ in range(repeat))
    t_each = statistics.median(timed(one_by_one)[0] for _ in range(repeat))
    r = out.models[0].result
    assert r is not None and r.keyed is not None
    print(
        f"data: {BIG} models x {rows:,} rows on PostgreSQL (built in prod and dev: {t_build:.1f} s); "
        f"per model {r.keyed.changed:,} changed, {r.keyed.only_left:,} only in prod"
    )
    print(
        f"  dbt_impact review {t_ours:.2f} s | dbt_compare one by one {t_each:.2f} s || "
        f"ratio {t_ours / t_each:.2f}x (target <= 1.5)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--part", choices=["state", "data", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir, contextlib.ExitStack() as stack:
        tmp = Path(tmp_dir)
        if args.part in ("state", "both"):
            bench_state(args.models, args.repeat, tmp)
        if args.part in ("data", "both"):
            from pgcluster import destroy, from_env, start_cluster
            from shopproject import dbt_env

            url = os.environ.get("DATA_PLATFORM_TEST_POSTGRES_URL")
            cluster = from_env(url) if url else start_cluster()
            stack.callback(destroy, cluster)
            bench_data(args.rows, args.repeat, tmp, dbt_env(cluster, None))


if __name__ == "__main__":
    main()
