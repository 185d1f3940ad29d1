"""Progress notifications and real cancellation of long calls, through the SDK's client."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import anyio
import psycopg
import pytest

from cancelling import (
    GONE_WITHIN,
    LONG,
    _cancel_at_first_progress,
    _cancel_while_running,
    _files,
    _refs,
    _running,
    _settled,
    _wait_for,
)
from harness import call, connect, inmemory
from pgcluster import Cluster

pytestmark = pytest.mark.anyio

MARK = "dp_cancel_probe"


async def test_cancelled_pg_query_stops_the_backend_and_leaves_no_ref(project: Path, pg: Cluster) -> None:
    async with inmemory(project, env=pg.env()) as client:
        before = await _refs(client)
        await _cancel_while_running(
            client, pg.url, "pg_query", f"SELECT count(*) AS n, '{MARK}' AS m FROM {LONG}", MARK
        )
        await _settled(client)  # the abandoned worker thread has unwound
        assert await _refs(client) == before
        # The server keeps serving: the next call answers with the right data.
        r = await call(client, "pg_query", sql="SELECT x FROM generate_series(1, 5) AS x", name="after")
        assert r.structured_content["rows"] == 5
        assert await _refs(client) == [*before, "after"]


@pytest.mark.slow  # a process: the in-memory tests cover the fast tier
async def test_cancelled_pg_query_over_stdio(project: Path, pg: Cluster) -> None:
    """The same through a server process: the client sends notifications/cancelled over stdio."""
    async with connect(project, env=pg.env(), log_name="progress-cancel") as client:
        sql = f"SELECT count(*) AS n, '{MARK}5' AS m FROM {LONG}"
        await _cancel_while_running(client, pg.url, "pg_query", sql, f"{MARK}5")
        r = await call(client, "pg_query", sql="SELECT 42 AS answer")
        assert r.structured_content["preview"] == [{"answer": 42}]


async def test_cancelled_streaming_pg_query_stops_mid_result(project: Path, pg: Cluster) -> None:
    """A query already streaming batches (COPY) is cancelled too, and no partial ref is published."""
    sql = f"SELECT a, b, md5((a * b)::text) AS h, '{MARK}2' AS m FROM {LONG}"
    async with inmemory(project, env=pg.env()) as client:
        files = _files(project)
        await _cancel_while_running(client, pg.url, "pg_query", sql, f"{MARK}2")
        # The abandoned worker unwinds and the writer removes its half-written file.
        await _wait_for(lambda: _files(project) == files, timeout=5)
        assert await _refs(client) == []


async def test_cancelled_pg_execute_and_explain_analyze_stop(project: Path, pg: Cluster) -> None:
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS dp_cancel_t; CREATE TABLE dp_cancel_t (x int)")
    sql = f"INSERT INTO dp_cancel_t SELECT 1 FROM pg_sleep(30) /* {MARK}3 */"
    async with inmemory(project, env=pg.env()) as client:
        await _cancel_while_running(client, pg.url, "pg_execute", sql, f"{MARK}3")
        r = await call(client, "pg_execute", sql="INSERT INTO dp_cancel_t VALUES (7)")
        assert r.structured_content["rows_affected"] == 1
        explain = f"SELECT count(*), '{MARK}4' FROM {LONG}"
        args = {"sql": explain, "analyze": True}
        await _cancel_while_running(client, pg.url, "pg_explain", explain, f"{MARK}4", args)
    with psycopg.connect(pg.url, autocommit=True) as conn:
        assert conn.execute("SELECT array_agg(x) FROM dp_cancel_t").fetchone()[0] == [7]
        conn.execute("DROP TABLE dp_cancel_t")


@pytest.mark.slow  # seconds of real work, so that progress is due
async def test_pg_query_reports_rows_as_progress(project: Path, pg: Cluster) -> None:
    steps: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        steps.append((done, total, message))

    sql = "SELECT g, md5(g::text) AS h, repeat('x', 50) AS pad FROM generate_series(1, 3000000) AS g"
    async with inmemory(project, env=pg.env()) as client:
        start = time.monotonic()
        r = await client.call_tool(
            "pg_query", {"sql": sql, "name": "big", "max_rows": 3_000_000}, progress_callback=on_progress
        )
        took = time.monotonic() - start
    assert not r.is_error, r.content
    assert r.structured_content["rows"] == 3_000_000
    assert took > 1.0, f"the query took {took:.2f} s: too quick to show progress"
    assert len(steps) >= max(1, int(took / 2)), (took, steps)  # one at least every 2 s
    dones = [s[0] for s in steps]
    assert dones == sorted(set(dones)), "progress must increase"
    assert 0 < dones[-1] <= 3_000_000
    assert all(s[2] and s[2].endswith(" rows") for s in steps)


@pytest.mark.slow  # seconds of real work, so that progress is due
async def test_pg_load_reports_rows_of_the_ref_and_a_cancelled_load_leaves_no_table(
    project: Path, pg: Cluster
) -> None:
    n = 4_000_000
    sql = f"SELECT g, md5(g::text) AS h, g * 0.5 AS v FROM generate_series(1, {n}) AS g"
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS dp_load_big, dp_load_cancelled")
    async with inmemory(project, env=pg.env()) as client:
        await call(client, "pg_query", sql=sql, name="big", max_rows=n)
        steps: list[tuple[float, float | None, str | None]] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            steps.append((done, total, message))

        start = time.monotonic()
        args = {"data_ref": "big", "table": "dp_load_big"}
        r = await client.call_tool("pg_load", args, progress_callback=on_progress)
        took = time.monotonic() - start
        assert not r.is_error, r.content
        assert r.structured_content["rows"] == n
        assert took > 1.0, f"the load took {took:.2f} s: too quick to show progress"
        assert len(steps) >= max(1, int(took / 2)), (took, steps)
        assert all(total == n for _, total, _ in steps)
        assert 0 < steps[-1][0] <= n

        # Cancelled once it has reported progress: the COPY is cancelled, nothing is committed.
        await _cancel_at_first_progress(client, "pg_load", {"data_ref": "big", "table": "dp_load_cancelled"})
        await _wait_for(lambda: not _running(pg.url, "dp_load_cancelled"), timeout=GONE_WITHIN)
        await call(client, "pg_connect")  # still serving
    with psycopg.connect(pg.url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM dp_load_big").fetchone()[0] == n
        assert conn.execute("SELECT to_regclass('public.dp_load_cancelled')").fetchone()[0] is None
        conn.execute("DROP TABLE dp_load_big")


@pytest.fixture(scope="module")
def big_csv_900mb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """`_big_csv` written once for the module's tests that only read it (each links it into its
    project): 900 MB of writing per test saved."""
    return _big_csv(tmp_path_factory.mktemp("big"))


def _linked_big_csv(project: Path, made: tuple[Path, int]) -> tuple[Path, int]:
    path = project / "big.csv"
    path.hardlink_to(made[0])
    return path, made[1]


def _big_csv(project: Path, copies: int = 40) -> tuple[Path, int]:
    """A ~900 MB CSV (20M rows): a few seconds of read_csv here; its path and row count."""
    block = 500_000
    lines = "".join(
        f"{i},2024-01-{i % 28 + 1:02d} 10:{i % 60:02d}:00,{i * 0.37:.4f},name{i % 997}\n"
        for i in range(block)
    )
    path = project / "big.csv"
    with path.open("w") as f:
        f.write("id,at,value,name\n")
        for _ in range(copies):
            f.write(lines)
    return path, block * copies


def _big_ref(project: Path, name: str, copies: int = 40) -> int:
    """The rows `_big_csv` holds, as a ref of the project's registry: one block made vectorised,
    repeated without copying (read_csv of the CSV cost seconds of writing and parsing that the
    writers' tests do not test); its rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from data_platform.registry import Registry

    i = np.arange(500_000, dtype=np.int64)
    minutes = (i % 28) * 1440 + 600 + i % 60
    at = np.datetime64("2024-01-01T00:00:00", "s") + minutes.astype("timedelta64[m]")
    names = pa.array([f"name{k}" for k in range(997)])
    block = pa.table(
        {
            "id": pa.array(i),
            "at": pa.array(at.astype("M8[s]")),
            "value": pa.array(np.round(i * 0.37, 4)),
            "name": pc.take(names, pa.array(i % 997)),
        }
    )
    registry = Registry(project / ".data-platform")
    try:
        registry.put(pa.concat_tables([block] * copies), name=name, source="big.csv")
    finally:
        registry.close()
    return block.num_rows * copies


async def _load_reporting_bytes(
    project: Path, tool: str, path: Path, rows: int
) -> list[tuple[float, float | None, str | None]]:
    """Load the whole file with `tool`, checking the answer and that progress came at least every 2 s,
    in bytes of the file, always increasing; the steps received."""
    size = path.stat().st_size
    steps: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        steps.append((done, total, message))

    async with inmemory(project) as client:
        start = time.monotonic()
        r = await client.call_tool(tool, {"path": path.name, "max_rows": rows}, progress_callback=on_progress)
        took = time.monotonic() - start
    assert not r.is_error, r.content
    assert r.structured_content["rows"] == rows
    assert took > 1.0, f"the load took {took:.2f} s: too quick to show progress"
    assert len(steps) >= max(1, int(took / 2)), (took, steps)  # one at least every 2 s
    assert all(total == size for _, total, _ in steps)
    dones = [s[0] for s in steps]
    assert dones == sorted(set(dones)) and 0 < dones[-1] <= size
    return steps


@pytest.mark.slow  # seconds of real work, so that progress is due
async def test_read_csv_reports_bytes_of_the_file(project: Path, big_csv_900mb: tuple[Path, int]) -> None:
    path, n = _linked_big_csv(project, big_csv_900mb)
    await _load_reporting_bytes(project, "read_csv", path, n)


@pytest.mark.slow  # seconds of real work, so that progress is due
async def test_cancelled_read_csv_stops_and_publishes_nothing(
    project: Path, big_csv_900mb: tuple[Path, int]
) -> None:
    _, n = _linked_big_csv(project, big_csv_900mb)
    files = _files(project)
    async with inmemory(project) as client:
        await _cancel_at_first_progress(client, "read_csv", {"path": "big.csv", "max_rows": n, "name": "big"})
        # The load stops at its next batch and removes its half-written ref file.
        await _wait_for(lambda: _files(project) == files, timeout=GONE_WITHIN)
        await _settled(client)  # its thread has returned: nothing can be published later
        assert _files(project) == files
        assert await _refs(client) == []
        r = await call(client, "read_csv", path="big.csv", nrows=10)
        assert r.structured_content["rows"] == 10


@pytest.mark.slow  # seconds of real work, so that progress is due
async def test_read_json_reports_bytes_of_the_file(project: Path) -> None:
    block = 200_000
    lines = "".join(
        f'{{"id": {i}, "at": "2024-01-{i % 28 + 1:02d}", "v": {i * 0.37:.4f}, "tags": ["a{i % 9}"]}}\n'
        for i in range(block)
    )
    path = project / "big.jsonl"
    with path.open("w") as f:
        for _ in range(40):
            f.write(lines)
    steps = await _load_reporting_bytes(project, "read_json", path, block * 40)
    # Rows once the first batch is stored; before that (a loaded machine), DuckDB's share of the file.
    ends = (" rows", "% of the file read")
    assert all(message and message.endswith(ends) for _, _, message in steps), steps


@pytest.mark.slow  # writes a 2.3 GB file
async def test_a_multi_gb_csv_reports_progress_at_least_every_2_s_until_cancelled(project: Path) -> None:
    """On a file of several GB, notifications come at least every 2 s, in bytes of the file; the
    call is cancelled after the third, so the test costs seconds, not the whole load."""
    path, n = _big_csv(project, copies=100)
    size = path.stat().st_size
    assert size > 2 * 1024**3
    stamps: list[tuple[float, float, float | None]] = []
    third = anyio.Event()

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        stamps.append((time.monotonic(), done, total))
        if len(stamps) >= 3:
            third.set()

    async with inmemory(project) as client:
        async with anyio.create_task_group() as tg:
            scope = anyio.CancelScope()

            async def run() -> None:
                with scope:
                    await client.call_tool(
                        "read_csv", {"path": path.name, "max_rows": n}, progress_callback=on_progress
                    )
                    pytest.fail("a 2.3 GB load finished before its third notification")

            start = time.monotonic()
            tg.start_soon(run)
            with anyio.fail_after(30):
                await third.wait()
            scope.cancel()
        assert await _refs(client) == []
    times = [start] + [t for t, _, _ in stamps]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps[1:]) <= 2.2, gaps  # the first waits for the first 32 MB range to be parsed
    assert all(total == size for _, _, total in stamps)
    dones = [d for _, d, _ in stamps]
    assert dones == sorted(set(dones)) and dones[-1] < size


async def test_sql_reports_duckdbs_progress_and_a_cancel_interrupts_it(project: Path) -> None:
    """A long `sql` reports DuckDB's own estimate (percent) while it runs; cancelled, its query is
    interrupted: the process stops burning CPU."""
    (project / "small.csv").write_text("x\n1\n2\n")
    # A product of two ranges: DuckDB tracks its progress (over a product with a 2-row ref it
    # cannot tell, and reports 0); many seconds of work here, cancelled after 2.5.
    query = "SELECT count(*) AS n FROM range(40000) AS a(i), range(40000) AS b(i) WHERE (a.i * b.i) % 7 = 3"
    steps: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        steps.append((done, total, message))

    async with inmemory(project) as client:
        await call(client, "read_csv", path="small.csv", name="small")
        async with anyio.create_task_group() as tg:
            scope = anyio.CancelScope()

            async def run() -> None:
                with scope:
                    await client.call_tool(
                        "sql", {"query": query, "name": "never"}, progress_callback=on_progress
                    )
                    pytest.fail("sql finished before it could be cancelled")

            tg.start_soon(run)
            await anyio.sleep(1.0)
            mark = time.process_time()
            await anyio.sleep(1.5)
            busy = time.process_time() - mark
            assert busy > 0.1, f"the query was not running ({busy:.2f} s of CPU in 1.5 s)"
            scope.cancel()
        assert steps, "no progress in 2.5 s of a running query"
        assert all(
            total == 100 and 0 <= done < 100 and "% of the query" in (msg or "") for done, total, msg in steps
        )
        assert [done for done, _, _ in steps] == sorted({done for done, _, _ in steps})  # increasing
        await anyio.sleep(0.5)
        mark = time.process_time()
        await anyio.sleep(1.0)
        idle = time.process_time() - mark
        assert idle < busy / 4, f"DuckDB still computing after the cancel ({idle:.2f} s of CPU in 1 s)"
        assert await _refs(client) == ["small"]
        r = await call(client, "sql", query="SELECT sum(x) AS s FROM small")
        assert r.structured_content["preview"] == [{"s": 3}]


@pytest.mark.slow  # seconds of real work, so that progress is due
async def test_writers_report_rows_and_a_cancelled_write_leaves_no_file(project: Path) -> None:
    n = _big_ref(project, "big")
    steps: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        steps.append((done, total, message))

    async with inmemory(project) as client:
        start = time.monotonic()
        args = {"data_ref": "big", "path": "out.csv"}
        r = await client.call_tool("to_csv", args, progress_callback=on_progress)
        took = time.monotonic() - start
        assert not r.is_error, r.content
        assert took > 1.0, f"the write took {took:.2f} s: too quick to show progress"
        assert len(steps) >= max(1, int(took / 2)), (took, steps)
        assert all(total == n for _, total, _ in steps) and 0 < steps[-1][0] <= n
        with (project / "out.csv").open("rb") as f:
            assert sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b"")) == n + 1

        files = _files(project)
        await _cancel_at_first_progress(client, "to_csv", {"data_ref": "big", "path": "again.csv"})
        await _wait_for(lambda: _files(project) == files, timeout=GONE_WITHIN)
        await _settled(client)  # its thread has returned: nothing can appear later
        assert _files(project) == files
