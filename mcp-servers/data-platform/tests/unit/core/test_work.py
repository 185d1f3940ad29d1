"""data_platform.work without MCP: what the core sees of a call's progress and cancellation."""

from __future__ import annotations

import threading

import pyarrow as pa
import pytest

from data_platform import work
from data_platform.errors import ExpressionError
from data_platform.frames.engine import Engine
from data_platform.registry import Registry, Target, ingest


def test_outside_a_call_everything_is_a_no_op() -> None:
    assert work.current() is None
    work.progress(5, 10, "x")
    work.rows_done(3)
    work.check()
    with work.on_cancel(lambda: pytest.fail("no call to cancel")), work.measure(lambda r: (r, None)):
        pass


def test_hooks_run_on_cancel_from_another_thread_and_a_late_hook_refuses() -> None:
    w = work.Work()
    seen: list[str] = []

    def body() -> None:
        with work.on_cancel(lambda: seen.append(threading.current_thread().name)):
            t = threading.Thread(target=w.cancel, name="canceller")
            t.start()
            t.join()
        with pytest.raises(work.CancelledError):
            work.check()
        with pytest.raises(work.CancelledError), work.on_cancel(lambda: seen.append("late")):
            pass

    w.run(body)
    assert seen == ["canceller"]


def test_rows_are_reported_through_the_readers_measure() -> None:
    w = work.Work()

    def body() -> None:
        work.rows_done(10)
        assert w.step == work.Step(10, None, "10 rows")
        with work.measure(lambda rows: (rows * 100, 5000)):
            work.rows_done(20)
        assert w.step == work.Step(2000, 5000, "20 rows")

    w.run(body)


def test_a_cancelled_ingest_publishes_nothing(tmp_path) -> None:
    registry = Registry(tmp_path / "reg")
    w = work.Work()
    batch = pa.record_batch({"x": list(range(10))})

    def batches():
        yield batch
        w.cancel()  # the caller cancels while the next batch is being made
        yield batch

    target = Target(registry, "t", False, "test", "data")
    with pytest.raises(work.CancelledError):
        w.run(ingest, batches(), batch.schema, target)
    assert registry.names() == []
    assert [p.name for p in (tmp_path / "reg").iterdir() if p.name != ".gitignore"] == []


LONG_QUERY = "SELECT count(*) FROM range(40000) AS a(i), range(40000) AS b(i) WHERE (a.i * b.i) % 7 = 3"


def _estimate_after_a_second(eng: Engine, stage: tuple[int, int, str] | None) -> work.Step | None:
    """Run a long query in a call's work (in `stage`, if given); what the server would read of its
    progress after a second, from another thread; then the query is interrupted."""
    w = work.Work()
    seen: list[work.Step | None] = []

    def body() -> None:
        if stage:
            work.progress(*stage)
        with eng.over({}) as con, pytest.raises(ExpressionError):
            threading.Timer(1.0, lambda: (seen.append(w.latest()), con.interrupt())).start()
            eng.run(con, LONG_QUERY)

    w.run(body)
    return seen[0]


def test_a_query_moves_the_stage_it_runs_in_and_stands_alone_in_percent() -> None:
    """DuckDB's estimate inside a stage (2 of 4) moves it towards 3 of 4; with no stage it is
    percent of the query."""
    eng = Engine()
    staged = _estimate_after_a_second(eng, (2, 4, "comparing rows"))
    alone = _estimate_after_a_second(eng, None)
    eng.close()
    assert staged is not None and 2 < staged.done < 3 and staged.total == 4, staged
    assert staged.message == "comparing rows"
    assert alone is not None and 0 < alone.done < 100 and alone.total == 100, alone
    assert (alone.message or "").endswith("% of the query")
