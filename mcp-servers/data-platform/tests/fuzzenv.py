"""The world the hardening tests run in: seeded refs and files, a scratch database, a dbt copy.

Everything here is generic: it prepares data that any tool family can reach (refs in the
registry, messy files in the project, tables in a scratch PostgreSQL database, a copy of
the suite's dbt project when there is one) and tells the argument fuzzer about it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from argfuzz import Pools
from data_platform.registry import Registry
from pgcluster import Cluster

LONG = os.environ.get("DATA_PLATFORM_LONG_TESTS", "").strip().lower() in ("1", "true", "yes", "on")
PROJECTS = Path(__file__).parent / "projects"
PROTECTED = ["seed_a", "seed_b"]
THROWAWAY = ["tmp_1", "tmp_2", "tmp_3"]
COLUMNS = ["id", "name", "region", "amount", "day", "label"]
# Files that must never appear: a write outside the allowed roots or a shell injection.
CANARIES = [Path("/root/dp_fuzz_outside.csv"), Path("/root/dp_fuzz_escape.csv"), Path("/tmp/dp_fuzz_pwned")]


def seed_a(n: int = 100) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "name": [None if i % 7 == 0 else f"n{i}" for i in range(n)],
            "region": [("EU", "US", "APAC")[i % 3] for i in range(n)],
            "amount": [round(i * 10.5, 2) for i in range(n)],
            "day": [dt.date(2025, 1, 1) + dt.timedelta(days=i % 60) for i in range(n)],
        }
    )


def seed_b(n: int = 50) -> pa.Table:
    return pa.table({"id": pa.array(range(0, 2 * n, 2), pa.int64()), "label": [f"L{i}" for i in range(n)]})


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Seeded:
    """What a test seeded and must find unchanged afterwards."""

    project: Path
    registry: Registry
    checksums: dict[str, tuple[int, str]] = field(default_factory=dict)

    def reset_throwaways(self) -> None:
        for name in THROWAWAY:
            self.registry.put(seed_a(20), name=name, source="throwaway", overwrite=True)

    def damage(self) -> list[str]:
        """Protected refs that changed (rows or bytes) or vanished."""
        bad = []
        for name, (rows, digest) in self.checksums.items():
            path = self.registry.path(name)
            if not path.exists():
                bad.append(f"{name}: gone")
            elif sha256(path) != digest or self.registry.info(name).rows != rows:
                bad.append(f"{name}: changed")
        return bad


def seed_registry(project: Path) -> Seeded:
    reg = Registry(project / ".data-platform")
    seeded = Seeded(project, reg)
    for name, table in (("seed_a", seed_a()), ("seed_b", seed_b())):
        info = reg.put(table, name=name, source=f"{name}.csv")
        seeded.checksums[name] = (info.rows, sha256(info.path))
    seeded.reset_throwaways()
    return seeded


def seed_files(project: Path) -> tuple[list[str], list[str]]:
    """Messy real files to read, and paths to write; returns (read paths, write paths)."""
    data = project / "data"
    data.mkdir(exist_ok=True)
    table = seed_a(50)
    pacsv.write_csv(table, data / "small.csv")
    (data / "semi_latin1.csv").write_bytes(
        "id;ville;montant\n1;Zürich;1,5\n2;Besançon;NA\n".encode("latin-1")
    )
    pq.write_table(table, data / "small.parquet")
    rows = table.to_pylist()
    for r in rows:
        r["day"] = r["day"].isoformat()
    (data / "small.json").write_text(json.dumps(rows))
    (data / "lines.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (data / "nested.json").write_text(
        json.dumps([{"a": {"b": [1, 2]}, "c": None}, {"a": {"b": []}, "c": "x"}])
    )
    with gzip.open(data / "small.csv.gz", "wb") as f:
        f.write((data / "small.csv").read_bytes())
    (data / "noheader.csv").write_text("1,a,2.5\n2,b,3.5\n")
    (data / "empty.csv").write_bytes(b"")
    (data / "binary.csv").write_bytes(bytes(range(256)) * 8)
    (data / "quoted.csv").write_text('id,text\n1,"a, b"\n2,"line\nbreak"\n3,"say ""hi"""\n')
    link = data / "link_passwd.csv"
    if not link.is_symlink():
        link.symlink_to("/etc/passwd")
    loop = data / "loop.csv"
    if not loop.is_symlink():
        loop.symlink_to(loop)
    reads = [
        "data/small.csv",
        "data/semi_latin1.csv",
        "data/small.parquet",
        "data/small.json",
        "data/lines.jsonl",
        "data/nested.json",
        "data/small.csv.gz",
        "data/noheader.csv",
        "data/empty.csv",
        "data/binary.csv",
        "data/quoted.csv",
        "data/link_passwd.csv",
        "data/loop.csv",
        str(data / "small.csv"),
        "./data/../data/small.csv",
    ]
    outside = project.parent / "outside_project"
    outside.mkdir(exist_ok=True)
    writes = [
        "out/a.csv",
        "out/b.parquet",
        "out/deep/er/c.csv",
        "data/small.csv",
        str(outside / "in_tmp.csv"),
        str(CANARIES[0]),
        "/proc/self/x.csv",
        "out/",
    ]
    return reads, writes


def scratch_database(pg: Cluster, name: str) -> str:
    """A fresh database (with PostGIS) in the suite's cluster; the URL to it.

    Fuzzed `pg_execute` and dbt runs may drop anything here without touching the
    data of other tests. Falls back to the suite's database if we may not create one.
    """
    parts = urlsplit(pg.url)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    try:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        url = pg.url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute("DROP TABLE IF EXISTS fuzz_plain, fuzz_points")
        conn.execute("CREATE TABLE fuzz_plain (id int primary key, name text, amount numeric(12,2))")
        conn.execute("INSERT INTO fuzz_plain SELECT i, 'n' || i, i * 1.5 FROM generate_series(1, 50) i")
        conn.execute("CREATE TABLE fuzz_points (id int primary key, geom geometry(Point, 4326))")
        conn.execute(
            "INSERT INTO fuzz_points SELECT i, ST_SetSRID(ST_MakePoint(i, i / 2.0), 4326) "
            "FROM generate_series(1, 20) i"
        )
        conn.execute('CREATE SCHEMA IF NOT EXISTS "Fuzz Schema"')
        conn.execute('CREATE TABLE IF NOT EXISTS "Fuzz Schema"."weird ""name""" (x int)')
    return url


def pg_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {
        "POSTGRES_URL": url,
        "DP_HARDEN_PG_HOST": parts.hostname or "127.0.0.1",
        "DP_HARDEN_PG_PORT": str(parts.port or 5432),
        "DP_HARDEN_PG_USER": parts.username or "",
        "DP_HARDEN_PG_PASSWORD": parts.password or "",
        "DP_HARDEN_PG_DBNAME": parts.path.lstrip("/"),
    }


PROFILE = """\
{profile}:
  target: dev
  outputs:
    dev:
      type: postgres
      host: "{{{{ env_var('DP_HARDEN_PG_HOST') }}}}"
      port: "{{{{ env_var('DP_HARDEN_PG_PORT') | as_number }}}}"
      user: "{{{{ env_var('DP_HARDEN_PG_USER') }}}}"
      password: "{{{{ env_var('DP_HARDEN_PG_PASSWORD') }}}}"
      dbname: "{{{{ env_var('DP_HARDEN_PG_DBNAME') }}}}"
      schema: {schema}
      threads: {threads}
      connect_timeout: 5
"""


def dbt_project_copy(dest: Path, schema: str = "harden") -> Path | None:
    """A private copy of the suite's dbt project (tests/projects/shop), with a profile on our database."""
    source = PROJECTS / "shop"
    if not (source / "dbt_project.yml").exists():
        return None
    target = dest / source.name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    write_profile(target, schema)
    return target


def write_profile(project: Path, schema: str = "harden", threads: int = 2) -> None:
    text = (project / "dbt_project.yml").read_text()
    match = re.search(r"^profile:\s*['\"]?([\w-]+)", text, re.MULTILINE)
    profile = match.group(1) if match else "default"
    (project / "profiles.yml").write_text(PROFILE.format(profile=profile, schema=schema, threads=threads))


def dbt_env(project: Path | None) -> dict[str, str]:
    if project is None:
        return {}
    return {"DBT_PROJECT_DIR": str(project), "DBT_PROFILES_DIR": str(project)}


def dbt_models(project: Path | None) -> list[str]:
    if project is None:
        return []
    return sorted({p.stem for p in (project / "models").rglob("*.sql")})


def generated_dbt_project(dest: Path, models: int, schema: str = "harden_big") -> Path:
    """A dbt project of `models` small chained views (for the output-budget test)."""
    root = dest / "big_dbt"
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text(
        "name: big\nversion: '1.0.0'\nconfig-version: 2\nprofile: big\nmodel-paths: ['models']\n"
        "models:\n  big:\n    +materialized: view\n"
    )
    for i in range(models):
        body = (
            "select 1 as id, 'x' as label" if i % 50 == 0 else f"select * from {{{{ ref('m_{i - 1:04d}') }}}}"
        )
        (root / "models" / f"m_{i:04d}.sql").write_text(body + "\n")
    write_profile(root, schema, threads=4)
    return root


def pools_for(seeded: Seeded, reads: list[str], writes: list[str], dbt_project: Path | None) -> Pools:
    pools = Pools(
        protected_refs=list(PROTECTED),
        throwaway_refs=list(THROWAWAY),
        columns=list(COLUMNS),
        files=reads,
        write_paths=writes,
    )
    models = dbt_models(dbt_project)
    if models:
        from argfuzz import DEFAULT_POOLS

        pools.extra["dbt_select"] = (
            models * 3 + [f"+{models[-1]}", f"{models[0]}+"] + DEFAULT_POOLS["dbt_select"]
        )
    return pools


def remove_canaries() -> None:
    for c in CANARIES:
        c.unlink(missing_ok=True)


def canaries_present() -> list[str]:
    return [str(c) for c in CANARIES if c.exists()]
