"""Faults a long unattended session meets, injected for real: each must end in a clear answer.

- the database stopped and started mid-session: every `pg_*`/`st_*` tool answers quickly
  and clearly while it is down and works again afterwards, without a server restart;
- the server SIGKILLed during a large write (through a loading tool when one exists, and
  through the registry in a subprocess always): earlier refs intact, the interrupted ref
  complete or absent, no temp file left after the next start;
- the server SIGKILLed during a dbt run: the next run works and dbt's artifacts are valid;
- a registry folder that cannot be written (below a regular file; immutable with chattr):
  clear errors, reads still work;
- ref files truncated or corrupted by hand: reported as damaged, the rest still works.

Generic over `tools/list`: tools are found by name prefix and argument names.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from argfuzz import Pools, classify, example_arguments, harms_refs
from data_platform.errors import StorageError
from data_platform.registry import Registry
from fuzzenv import (
    dbt_env,
    generated_dbt_project,
    pg_env,
    pools_for,
    scratch_database,
    seed_files,
    seed_registry,
)
from liveserver import LiveServer, Outcome, cleared, command_line, descendants, live_server, survivors
from pgcluster import Cluster

DOWN_WORDS = (
    "connect",
    "reach",
    "down",
    "refused",
    "unavailable",
    "running",
    "start",
    "timeout",
    "timed out",
)
STORAGE_WORDS = ("registry", "folder", "directory", "write", "permission", "read-only", "create", "disk")
pytestmark = pytest.mark.slow  # real faults: SIGKILLs, a stopped database, a server per test
FAULTS: list[str] = []  # faults survived in this module, printed at the end of each test


def survived(name: str) -> None:
    FAULTS.append(name)
    print(f"\nfault survived: {name} (so far in this module: {len(FAULTS)})")


def pools(project: Path) -> tuple[Pools, Any]:
    seeded = seed_registry(project)
    reads, writes = seed_files(project)
    return pools_for(seeded, reads, writes, None), seeded


def by_name(server: LiveServer) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in server.tools()}


def ref_args(tool: dict[str, Any]) -> list[str]:
    props = (tool.get("inputSchema") or {}).get("properties") or {}
    return [k for k in props if classify(tool["name"], k) == "ref"]


def loader_calls(
    tools: dict[str, dict[str, Any]], p: Pools, files: dict[str, str], with_pg: bool = False
) -> list[tuple[str, dict]]:
    """Calls that write a new ref, for whichever loading tools exist (file readers, SQL, queries)."""
    calls = []
    for name, path in files.items():
        if name in tools:
            args = example_arguments(tools[name], p, prefer={"path": path, "out_name": f"{name}_out"})
            props = (tools[name].get("inputSchema") or {}).get("properties") or {}
            if "max_rows" in props:
                args["max_rows"] = 10_000_000
            calls.append((name, args))
    if with_pg and "pg_query" in tools:
        sql = "SELECT g AS id, md5(g::text) AS txt FROM generate_series(1, 500000) g"
        calls.append(
            ("pg_query", example_arguments(tools["pg_query"], p, prefer={"sql": sql, "out_name": "pg_out"}))
        )
    return calls


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The live server's tool names (to know early which families exist)."""
    with live_server(tmp_path_factory.mktemp("listing"), log_name="faults") as server:
        return {t["name"] for t in server.tools()}


# -- the database stopped and started mid-session -------------------------------------
def test_database_stopped_and_started_mid_session(pg: Cluster, project: Path, listed: set[str]) -> None:
    assert any(n.startswith(("pg_", "st_")) for n in listed), "the PostgreSQL tools are not listed"
    if not pg.managed:
        pytest.skip("DATA_PLATFORM_TEST_POSTGRES_URL names an external database the suite cannot stop")
    url = scratch_database(pg, "dp_harden_faults")
    p, _ = pools(project)
    env = {**pg_env(url), "DATA_PLATFORM_CONNECT_TIMEOUT": "3", "DATA_PLATFORM_STATEMENT_TIMEOUT": "5"}
    with live_server(project, env, log_name="faults-db") as server:
        tools = by_name(server)
        family = sorted(n for n in tools if n.startswith(("pg_", "st_")))
        assert family, "the PostgreSQL tools are not listed"
        aim = {"pg_ident": "fuzz_points", "pg_schema": "public", "column": "geom", "sql": "SELECT 1 AS one"}
        args = {n: example_arguments(tools[n], p, prefer=aim) for n in family}
        baseline = {n: server.call(n, args[n], timeout=60) for n in family}
        working = [n for n in family if baseline[n].ok]
        print(f"\nPostgreSQL tools: {family}; working with example arguments before the stop: {working}")
        assert working, "no PostgreSQL tool works with example arguments: " + "; ".join(
            o.describe() for o in baseline.values()
        )
        pg.stop("fast")
        try:
            down: list[Outcome] = [server.call(n, args[n], timeout=60) for n in family]
        finally:
            pg.start()
        problems = []
        for o in down:
            if o.ok:
                problems.append(f"succeeded while the database was down: {o.describe()}")
            elif o.problem(8_000):
                problems.append(f"{o.problem()}: {o.describe()}")
            elif o.seconds > 15:
                problems.append(f"took {o.seconds:.1f} s to say the database is down: {o.describe()}")
            elif not any(w in o.text.lower() for w in DOWN_WORDS):
                problems.append(f"does not say the database cannot be reached: {o.describe()}")
        assert not problems, "\n".join(problems)
        slowest = max(o.seconds for o in down)
        recovered, retried = [], []
        for n in working:
            again = server.call(n, args[n], timeout=60)
            if not again.ok:
                retried.append(n)
                again = server.call(n, args[n], timeout=60)
            assert again.ok, f"{n} does not work again after the database came back: {again.describe()}"
            recovered.append(n)
        assert server.alive()
    print(
        f"down: {len(down)} tools answered within {slowest:.1f} s; recovered: {recovered}; "
        f"needed a retry: {retried}"
    )
    assert not retried, f"the first call after the database came back failed for {retried}"
    survived("database stopped and started mid-session")


# -- SIGKILL during a large write ---------------------------------------------------------
def _registry_state(reg: Registry, names: list[str]) -> dict[str, int]:
    return {n: reg.info(n).rows for n in names}


def test_server_killed_during_a_large_write_through_a_tool(project: Path, listed: set[str]) -> None:
    assert "read_csv" in listed, "the DataFrame tools are not listed"
    p, seeded = pools(project)
    big = project / "data" / "big.csv"
    n_rows = 400_000
    table = pa.table(
        {
            "id": pa.array(range(n_rows), pa.int64()),
            "amount": pa.array([i * 0.5 for i in range(n_rows)]),
            "region": pa.array([("EU", "US", "APAC")[i % 3] for i in range(n_rows)]),
            "txt": pa.array([f"row-{i}-padding-padding" for i in range(n_rows)]),
        }
    )
    pacsv.write_csv(table, big)
    env = {"DATA_PLATFORM_MAX_ROWS": "10000000"}
    server = LiveServer(project, env, log_name="faults-kill").start()
    try:
        tools = by_name(server)
        candidates = [c for c in loader_calls(tools, p, {"read_csv": str(big)}) if c[0] == "read_csv"]
        assert candidates, "no read_csv call could be built from its schema"
        tool, args = candidates[0]
        props = (tools[tool].get("inputSchema") or {}).get("properties") or {}
        if "chunk_size" in props:
            args["chunk_size"] = 20_000  # stream: the temp file lives for the whole load
        before = _registry_state(seeded.registry, list(seeded.checksums))
        future = server.start_call(tool, args, timeout=120)
        saw_temp = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not future.done():
            if any(seeded.registry.root.glob(".tmp-*")):
                saw_temp = True
                break
            time.sleep(0.001)
        server.kill()
        with contextlib.suppress(Exception):
            future.result(timeout=10)
        print(f"\nkilled {tool} {'mid-write (temp file seen)' if saw_temp else 'after its write finished'}")
        server.restart()
        listed = server.call("list_data", {})
        assert listed.ok, listed.describe()
        assert not list(seeded.registry.root.glob(".tmp-*")), "temp files left after the next start"
        assert not seeded.damage(), seeded.damage()
        assert _registry_state(seeded.registry, list(seeded.checksums)) == before
        refs = {r["name"]: r["rows"] for r in listed.structured["refs"]}
        new = [n for n in refs if n not in before and not n.startswith("tmp_")]
        for n in new:
            assert refs[n] == n_rows, f"interrupted ref {n} is incomplete: {refs[n]} rows"
        assert not listed.structured.get("damaged"), listed.text
        again = server.call(
            tool, {**args, **({"name": "after_kill"} if "name" in props else {})}, timeout=120
        )
        assert again.ok, f"the same load fails after the restart: {again.describe()}"
    finally:
        server.close()
    survived(f"SIGKILL during {tool} of {n_rows:,} rows")


WRITER = textwrap.dedent("""
    import sys, time
    import pyarrow as pa
    from data_platform.registry import Registry
    reg = Registry(sys.argv[1])
    schema = pa.schema([("id", pa.int64()), ("txt", pa.string())])
    with reg.writer(name="interrupted", schema=schema, source="killed writer") as w:
        for i in range(100000):
            ids, txt = pa.array(range(1000), pa.int64()), pa.array(["x" * 50] * 1000)
            w.write(pa.record_batch([ids, txt], schema=schema))
            time.sleep(0.005)
""")


def test_writer_killed_mid_write_leaves_no_trace_after_the_next_start(project: Path) -> None:
    _, seeded = pools(project)
    root = seeded.registry.root
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            temps = list(root.glob(".tmp-*"))
            if temps and temps[0].stat().st_size > 200_000:
                break
            time.sleep(0.01)
        else:
            pytest.fail("the writer subprocess never started writing")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert list(root.glob(".tmp-*")), "a killed writer leaves its temp file (until the next start)"
    with live_server(project, log_name="faults-kill") as server:
        listed = server.call("list_data", {})
        assert listed.ok, listed.describe()
        names = {r["name"] for r in listed.structured["refs"]}
        assert "interrupted" not in names, "a ref whose write was interrupted must not be published"
        assert set(seeded.checksums) <= names
        assert not list(root.glob(".tmp-*")), "the next server start must remove a dead writer's temp file"
        assert not seeded.damage(), seeded.damage()
    survived("writer SIGKILLed mid-write (registry level)")


# -- SIGKILL during a dbt run --------------------------------------------------------------
def _views(url: str, schema: str) -> int:
    with contextlib.suppress(psycopg.Error), psycopg.connect(url, connect_timeout=3) as conn:
        row = conn.execute("select count(*) from information_schema.views where table_schema = %s", [schema])
        return int(row.fetchone()[0])
    return 0


def _backends(url: str, wait_s: float) -> list[tuple]:
    """Sessions on `url`'s database other than this checker's own, after up to `wait_s` seconds."""
    deadline = time.monotonic() + wait_s
    with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
        while True:
            rows = conn.execute(
                "select pid, application_name, state, left(query, 80) from pg_stat_activity "
                "where datname = current_database() and pid <> pg_backend_pid()"
            ).fetchall()
            if not rows or time.monotonic() > deadline:
                return rows
            time.sleep(0.2)


def test_server_killed_during_a_dbt_run_then_the_next_run_works(
    pg: Cluster, project: Path, tmp_path: Path, listed: set[str]
) -> None:
    assert "dbt_run" in listed, "the dbt tools are not listed"
    url = scratch_database(pg, "dp_harden_dbt_kill")
    dbt_project = generated_dbt_project(tmp_path, models=24, schema="harden_kill")
    env = {**pg_env(url), **dbt_env(dbt_project), "DATA_PLATFORM_DBT_TIMEOUT": "300"}
    server = LiveServer(project, env, log_name="faults-dbt").start()
    try:
        tools = by_name(server)
        assert "dbt_run" in tools, "the dbt tools are not listed"
        future = server.start_call("dbt_run", {}, timeout=300)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not future.done() and _views(url, "harden_kill") < 3:
            time.sleep(0.05)
        mid_run = not future.done()
        assert server.pid is not None
        children = descendants(server.pid)
        assert not mid_run or children, "a dbt run in progress but no child process of the server"
        server.kill()
        with contextlib.suppress(Exception):
            future.result(timeout=10)
        print(
            f"\nkilled the server {'mid-run' if mid_run else 'after the run'} "
            f"with {len(children)} child process(es); views: {_views(url, 'harden_kill')}"
        )
        # No process outlives its server: its dbt worker stops its run, and its sessions end.
        left = cleared(survivors(children, wait_s=30))
        assert not left, "processes of the killed server still alive: " + "; ".join(
            f"{p}: {command_line(p)}" for p in left
        )
        backends = _backends(url, wait_s=30)
        assert not backends, f"database sessions of the killed server still open: {backends}"
        server.restart()
        again = server.call("dbt_run", {}, timeout=300)
        assert again.ok, f"the dbt run after the kill fails: {again.describe()}"
        assert _views(url, "harden_kill") == 24
        for artifact in ("manifest.json", "run_results.json"):
            path = dbt_project / "target" / artifact
            if path.exists():
                json.loads(path.read_text())  # not truncated by the kill
        assert server.alive()
    finally:
        server.close()
    survived("SIGKILL during dbt_run")


# -- a registry folder that cannot be written -----------------------------------------------
def _unwritable_checks(server: LiveServer, p: Pools, project: Path) -> list[str]:
    tools = by_name(server)
    files = {
        "read_csv": "data/small.csv",
        "read_parquet": "data/small.parquet",
        "read_json": "data/small.json",
    }
    problems = []
    loads = loader_calls(tools, p, files)
    for tool, args in loads:
        o = server.call(tool, args, timeout=60)
        if o.ok:
            problems.append(f"a write into an unwritable registry succeeded: {o.describe()}")
        elif o.problem(8_000) or not any(w in o.text.lower() for w in STORAGE_WORDS):
            problems.append(f"unclear answer to an unwritable registry: {o.describe()}")
    for name, tool in tools.items():
        o = server.call(name, example_arguments(tool, p), timeout=60)
        if o.problem(8_000):
            problems.append(f"{o.problem()}: {o.describe()}")
    print(f"\nloading tools tried against the unwritable registry: {[t for t, _ in loads] or 'none present'}")
    return problems


def test_registry_folder_below_a_regular_file(project: Path) -> None:
    p, _ = pools(project)
    blocker = project / "blocker"
    blocker.write_text("a file where the registry's parent folder should be\n")
    root = blocker / "refs"
    with pytest.raises(StorageError, match="Cannot create in the data registry folder"):
        Registry(root).put(pa.table({"a": [1]}), name="x", source="s")
    with live_server(project, {"DATA_PLATFORM_REGISTRY_DIR": str(root)}, log_name="faults-ro") as server:
        listed = server.call("list_data", {})
        assert listed.problem() is None, listed.describe()
        problems = _unwritable_checks(server, p, project)
        assert not problems, "\n".join(problems)
        assert server.alive()
    survived("registry folder below a regular file")


def _chattr(flag: str, path: Path) -> bool:
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


def test_registry_folder_made_immutable(project: Path) -> None:
    p, seeded = pools(project)
    root = seeded.registry.root
    if not _chattr("+i", root):
        pytest.skip(
            "chattr +i is not supported here (not root, or the filesystem has no immutable flag); "
            "test_registry_folder_below_a_regular_file covers the unwritable folder"
        )
    try:
        probe = root / "probe.txt"
        with pytest.raises(OSError):
            probe.write_text("x")  # the flag really stops writes, even for root
        with live_server(project, log_name="faults-ro") as server:
            listed = server.call("list_data", {})
            assert listed.ok, listed.describe()
            assert {"seed_a", "seed_b"} <= {r["name"] for r in listed.structured["refs"]}
            dropped = server.call("drop_data", {"data_ref": "tmp_1"})
            assert not dropped.ok and dropped.problem() is None, dropped.describe()
            assert any(w in dropped.text.lower() for w in STORAGE_WORDS), dropped.describe()
            problems = _unwritable_checks(server, p, project)
            assert not problems, "\n".join(problems)
            for name in ref_tools_reading(server):
                tool = by_name(server)[name]
                o = server.call(name, example_arguments(tool, p, prefer={"ref": "seed_a"}))
                assert o.problem(8_000) is None, o.describe()
    finally:
        _chattr("-i", root)
    assert seeded.registry.exists("tmp_1") and not seeded.damage()
    survived("registry folder made immutable")


def ref_tools_reading(server: LiveServer) -> list[str]:
    return [n for n, t in by_name(server).items() if ref_args(t) and not harms_refs(t)]


# -- refs damaged by hand ----------------------------------------------------------------------
def test_damaged_refs_are_reported_and_the_rest_still_works(project: Path) -> None:
    p, seeded = pools(project)
    reg = seeded.registry
    damaged = {}
    for kind in ("truncated", "empty", "garbage", "footer", "middle"):
        info = reg.put(
            pa.table({"id": list(range(5000)), "txt": [f"v{i}" for i in range(5000)]}),
            name=f"bad_{kind}",
            source="s",
        )
        data = bytearray(info.path.read_bytes())
        if kind == "truncated":
            data = data[: len(data) // 2]
        elif kind == "empty":
            data = bytearray()
        elif kind == "garbage":
            data = bytearray(os.urandom(len(data)))
        elif kind == "footer":
            data[-40:-10] = os.urandom(30)
        else:
            mid = len(data) // 2
            data[mid : mid + 64] = b"\xff" * 64
        info.path.write_bytes(bytes(data))
        damaged[f"bad_{kind}"] = kind
    with live_server(project, log_name="faults-damaged") as server:
        listed = server.call("list_data", {})
        assert listed.ok, listed.describe()
        good = {r["name"] for r in listed.structured["refs"]}
        reported = {d["name"] for d in listed.structured.get("damaged", [])}
        assert set(seeded.checksums) <= good, "undamaged refs must still be listed"
        must_detect = {n for n, k in damaged.items() if k in ("truncated", "empty", "garbage", "footer")}
        assert must_detect <= reported, f"damage not reported: {must_detect - reported}; {listed.text}"
        for n in reported:
            assert f"`{n}`" in listed.text
        problems = []
        readers = ref_tools_reading(server)
        tools = by_name(server)
        for name in readers:
            for ref in sorted(damaged):
                fresh = {"ref": ref, "path": f"out/{name}_{ref}.csv"}  # a writer must not stop at "exists"
                o = server.call(name, example_arguments(tools[name], p, prefer=fresh))
                if o.problem(8_000):
                    problems.append(f"{o.problem()}: {o.describe()}")
                elif ref in must_detect and not o.ok and "damaged" not in o.text.lower():
                    problems.append(f"does not say the ref is damaged: {o.describe()}")
            o = server.call(name, example_arguments(tools[name], p, prefer={"ref": "seed_a"}))
            if o.problem(8_000):
                problems.append(f"{o.problem()}: {o.describe()}")
        assert not problems, "\n".join(problems)
        for ref in damaged:
            dropped = server.call("drop_data", {"data_ref": ref})
            assert dropped.ok, dropped.describe()
        after = server.call("list_data", {})
        assert after.ok and not after.structured.get("damaged"), after.describe()
        assert server.alive()
    assert not seeded.damage()
    print(f"\ntools given damaged refs: {readers or 'none with a ref argument besides drop_data'}")
    survived(f"{len(damaged)} refs damaged by hand")
