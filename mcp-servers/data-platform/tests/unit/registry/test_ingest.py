"""The one ingest path (registry/ingest.py) and the flusher each registry owns."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from data_platform.errors import AlreadyExistsError, GuardError
from data_platform.frames import csv_reader, ops
from data_platform.postgres.query import query_guard
from data_platform.registry import Guard, Registry, Target, exists_error, ingest
from data_platform.render import MAX_CELL, MAX_PREVIEW_COLUMNS, PREVIEW_ROWS


def _batches(n: int, rows: int) -> list[pa.RecordBatch]:
    return [pa.record_batch({"id": pa.array(range(i * rows, (i + 1) * rows), pa.int64())}) for i in range(n)]


def test_every_path_refuses_a_taken_name_with_the_same_error(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    reg.put(pa.table({"id": [1, 2]}), name="t", source="test")
    csv = tmp_path / "a.csv"
    csv.write_text("id\n1\n2\n")
    expected = exists_error("t")
    attempts = {
        "ingest": lambda: ingest(_batches(1, 3), _batches(1, 3)[0].schema, Target(reg, "t", False, "x", "t")),
        "read_csv": lambda: csv_reader.read_csv(csv, Target(reg, "t", False, "x", "a"), max_rows=10),
        "filter": lambda: ops.filter_rows(reg, "t", "id > 1", ops.Output("t")),
        "put": lambda: reg.put(pa.table({"id": [3]}), name="t", source="x"),
    }
    for what, attempt in attempts.items():
        with pytest.raises(AlreadyExistsError) as err:
            attempt()
        assert (err.value.message, err.value.hint) == (expected.message, expected.hint), what
    assert expected.message == "data_ref `t` already exists."
    assert reg.get("t").column("id").to_pylist() == [1, 2]  # untouched


def test_the_row_guard_speaks_one_wording_for_files_and_queries(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    schema = _batches(1, 1)[0].schema
    with pytest.raises(GuardError) as err:
        ingest(_batches(3, 400), schema, Target(reg, "f", False, "x", "f"), guard=Guard(1000, "x.csv"))
    assert err.value.message.startswith(
        "x.csv has 1,200 rows, over the row guard of 1,000; nothing was loaded. First rows:\n| id |"
    )
    assert err.value.hint == (
        "To load it all, pass chunk_size=50000 (streams into one disk-backed ref, bounded memory) "
        "or max_rows=1200 (loads in one go, needs memory); or nrows=N for the first N rows. "
        "DATA_PLATFORM_MAX_ROWS sets the default guard."
    )
    assert err.value.details == {"rows": 1200, "max_rows": 1000}

    pulled: list[int] = []

    def stream() -> Iterator[pa.RecordBatch]:  # a query's batches: the guard must stop pulling them
        for b in _batches(10, 400):
            pulled.append(b.num_rows)
            yield b

    with pytest.raises(GuardError) as err:
        ingest(stream(), schema, Target(reg, "q", False, "x", "q"), guard=query_guard(1000))
    assert err.value.message.startswith(
        "The query result has more than 1,000 rows, over the row guard of 1,000; nothing was loaded."
    )
    assert err.value.hint == (
        "To load it all, pass max_rows=N above 1000; or aggregate or filter in SQL, or page with "
        "LIMIT/OFFSET. DATA_PLATFORM_MAX_ROWS sets the default guard."
    )
    assert len(pulled) == 3  # stopped at the batch that crossed the guard
    assert "| 0  |" in err.value.message.replace("| 0 |", "| 0  |") and "| 5  |" not in err.value.message
    assert reg.names() == [] and list((tmp_path / "reg").glob(".tmp-*")) == []  # nothing published


def test_head_and_preview_follow_the_named_limits(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    long = "é" * 100
    columns = {f"c{i}": pa.array([long] * 30) for i in range(MAX_PREVIEW_COLUMNS + 2)}
    batches = [pa.record_batch({"n": pa.array(range(k * 30, k * 30 + 30)), **columns}) for k in range(3)]
    done = ingest(batches, batches[0].schema, Target(reg, None, False, "x", "wide"))
    assert done.info.name == "wide" and done.info.rows == 90
    assert reg.get("wide").equals(pa.Table.from_batches(batches))
    assert done.head.num_rows == PREVIEW_ROWS == 50
    assert done.head.column("n").to_pylist() == list(range(50))  # across batches, in order
    assert done.head.num_columns == MAX_PREVIEW_COLUMNS + 3 and done.head.column("c0")[0].as_py() == long
    preview = done.preview
    assert preview.column_names == ["n"] + [f"c{i}" for i in range(MAX_PREVIEW_COLUMNS - 1)]
    assert pc.max(pc.utf8_length(preview.column("c0"))).as_py() == MAX_CELL == 40


def test_nrows_stops_and_chunk_size_recuts(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    source = _batches(5, 1000)
    done = ingest(source, source[0].schema, Target(reg, "c", False, "x", "c"), nrows=2500, chunk_size=400)
    assert done.info.rows == 2500
    assert reg.get("c").equals(pa.Table.from_batches(source).slice(0, 2500))
    assert [b.num_rows for b in reg.batches("c")] == [400, 400, 200, 400, 400, 200, 400, 100]


def _flushers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "ref-flusher"}


def test_two_registries_in_one_process_share_no_flusher(tmp_path: Path) -> None:
    # Other tests' registries in this (xdist worker) process may still be flushing: count ours only.
    others = _flushers()
    a, b = Registry(tmp_path / "a"), Registry(tmp_path / "b")
    release = threading.Event()
    a.flusher.submit(lambda: release.wait(30))  # a's background work is stuck
    try:
        b.put(pa.table({"x": [1, 2, 3]}), name="t", source="test")
        t0 = time.perf_counter()
        b.close()  # waits for b's fsyncs only
        assert time.perf_counter() - t0 < 5
        assert len(_flushers() - others) == 1  # a's, still waiting
    finally:
        release.set()
    a.close()
    assert not _flushers() - others  # threads end when idle


def test_the_flusher_thread_serves_the_next_call_and_ends_on_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread start costs the call that makes it on a loaded machine: the idle flusher waits
    for the next call's fsyncs instead of ending, as a daemon (an exit never waits for an idle
    one; the atexit hook waits for pending work) until `close`."""
    started: list[str] = []
    start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda t: (started.append(t.name), start(t))[1])
    others = _flushers()
    reg = Registry(tmp_path)
    reg.put(pa.table({"x": [1]}), name="a", source="test")
    reg.flusher.wait()  # the first call's fsyncs are done; the next call comes later
    reg.put(pa.table({"x": [2]}), name="b", source="test")
    assert started.count("ref-flusher") == 1
    assert all(t.daemon for t in _flushers() - others)
    reg.close()
    assert not _flushers() - others
