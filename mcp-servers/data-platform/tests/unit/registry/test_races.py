"""Races and leaks from the issue 22 review, each shown by a test that failed before its fix.

The interleavings are made deterministic rather than hoped for: a registry that lets "another
call" act at the one moment that matters, and a pyarrow sort held at a known point.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pytest

from data_platform.registry import Registry

LEFT = pa.table({"id": [1, 2, 3], "v": [1.0, 2.0, 3.0]})
RIGHT = pa.table({"id": [2, 3, 4], "v": [2.0, 3.5, 4.0]})


class AnotherDiffMeanwhile(Registry):
    """Another diff publishes the name this one was just told is free (once per name): what two
    diffs at once do when each asks for a free name first and passes it explicitly after."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.raced: set[str] = set()

    def unique_name(self, base: str) -> str:
        name = super().unique_name(base)
        if base not in self.raced:
            self.raced.add(base)
            Registry.put(self, pa.table({"x": [1]}), name=name, source="the other diff")
        return name


def test_two_diffs_at_once_never_fail_on_an_example_name(tmp_path: Path) -> None:
    from data_platform.diffing import service
    from data_platform.frames.engine import Engine

    registry = AnotherDiffMeanwhile(tmp_path / "reg")
    Registry.put(registry, LEFT, name="before", source="test")
    Registry.put(registry, RIGHT, name="after", source="test")
    sides = [service.resolve_side(n, None, False, registry) for n in ("before", "after")]

    def no_connection(name: str | None):  # both sides are refs: no database is asked
        raise AssertionError(name)

    engine = Engine()
    try:
        out = service.run_diff(*sides, ["id"], tolerance=None, settings_for=no_connection, registry=registry,
                               engine=engine)  # fmt: skip
    finally:
        engine.close()
    # Before the fix: AlreadyExistsError "data_ref `diff_changed` already exists".
    assert set(out.examples) == {"only_left", "only_right", "changed"}
    for kind, name in out.examples.items():
        assert name == f"diff_{kind}_2"  # the other diff kept `diff_<kind>`; this one took the next
        assert registry.info(name).source.startswith("diff before vs after")
    registry.close()


class DroppedMeanwhile(Registry):
    """Another tool thread drops the ref while this one is reading it for `info` or `get`."""

    drop_now = False

    def _open_reader(self, name: str, **kw):  # type: ignore[no-untyped-def]
        got = super()._open_reader(name, **kw)
        if self.drop_now:
            self.drop_now = False
            Registry.drop(self, name)
        return got


def test_a_ref_dropped_while_being_read_leaves_nothing_cached(tmp_path: Path) -> None:
    """The info, validation and table caches were changed from tool threads and writer callbacks
    without a lock, so an entry stored after a drop stayed for a ref that no longer exists."""
    registry = DroppedMeanwhile(tmp_path / "reg")
    other = Registry(tmp_path / "reg")  # writes as another process would: nothing cached here yet
    for read in (registry.info, registry.get):
        other.put(LEFT, name="t", source="test")
        registry.drop_now = True
        read("t")  # served from the file it opened, as a reader racing a drop is
        assert not registry.exists("t")
        # Before the fix: `t` -> the dropped file's info (and validation, mapped table) stayed.
        assert [c for c in (registry._info_cache, registry._validated, registry._tables) if "t" in c] == []
    registry.put(RIGHT, name="t", source="again")
    assert registry.info("t").source == "again" and registry.get("t").equals(RIGHT)
    registry.close()
    other.close()


def test_a_closed_engine_refuses_a_late_call_instead_of_reopening() -> None:
    """A cancelled call's thread runs on; if it reached DuckDB after shutdown closed the engine,
    the engine opened a new database (up to its memory limit) that nothing would close."""
    from data_platform.frames.engine import Engine
    from data_platform.work import CancelledError

    engine = Engine()
    with engine.over({"t": LEFT}) as con:
        assert engine.run(con, "SELECT count(*) AS n FROM t").column(0).to_pylist() == [3]
    engine.close()
    with pytest.raises(CancelledError, match="shutting down"), engine.over({"t": LEFT}) as con:
        engine.run(con, "SELECT 1")  # pragma: no cover - refused before
    assert engine._con is None  # before the fix: a new database, open for good


class HeldWhileStoring(Registry):
    """A sort's result is being stored when the server shuts down: held there until released,
    as a pyarrow sort or join that no cancel can interrupt runs on to its end."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.entered, self.release = threading.Event(), threading.Event()
        self.busy = False
        self.busy_at_close: bool | None = None

    @contextlib.contextmanager
    def writer(self, **kw: Any) -> Iterator[Any]:
        if not str(kw.get("source", "")).startswith("sort"):
            with super().writer(**kw) as w:
                yield w
            return
        self.busy = True
        try:
            self.entered.set()
            self.release.wait(60)  # a bound for a broken run only; released by the shutdown below
            with super().writer(**kw) as w:
                yield w
        finally:
            self.busy = False

    def close(self) -> None:
        if self.busy_at_close is None:  # the shutdown's close
            self.busy_at_close = self.busy
        super().close()


class ReleaseWhenShutdownWaits(logging.Handler):
    def __init__(self, wake: threading.Event) -> None:
        super().__init__()
        self.wake = wake  # not `release`: a Handler's own lock method has that name

    def emit(self, record: logging.LogRecord) -> None:
        if "shutdown: waiting for" in record.getMessage():
            self.wake.set()


@pytest.mark.anyio
async def test_shutdown_waits_for_a_cancelled_calls_thread_before_closing(tmp_path: Path) -> None:
    """A cancelled sort's thread runs on; shutdown closed the registry and DuckDB under it."""
    from mcp.client import Client

    from data_platform.config import load_settings
    from data_platform.server import build_server

    project = tmp_path / "project"
    project.mkdir()
    settings = load_settings(project, {"HOME": str(tmp_path)}, system_file=tmp_path / "none.env")
    held = HeldWhileStoring(settings.registry_dir)
    held.put(LEFT, name="t", source="test")
    log = logging.getLogger("data_platform")
    handler, level = ReleaseWhenShutdownWaits(held.release), log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        server = build_server(settings, registry=held)
        async with Client(server, cache=None) as client, anyio.create_task_group() as tg:
            tg.start_soon(functools.partial(client.call_tool, "sort", {"data_ref": "t", "by": ["-v"]}))
            await anyio.to_thread.run_sync(held.entered.wait, 30)
            tg.cancel_scope.cancel()  # the caller gives up; the sort's thread is still storing
        # Leaving the client shut the server down.
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        held.release.set()  # before the fix nothing released it: let the thread end
    assert held.busy_at_close is False  # before the fix: True, the registry closed under the call
    assert held.names() == ["t"]  # the cancelled sort stored nothing
