"""Progress and cancellation of one call's blocking work, without knowing who asked.

An adapter (the MCP tool wrapper) runs a call's work inside `Work.run`, in a worker
thread. The core then, without any MCP import or extra parameter:

- reports how far it got with `progress(...)` or, for loads, `rows_done(...)` measured by
  what the reader declared with `measure(...)` (bytes of a file, rows of a footer);
- registers what stops its I/O with `on_cancel(fn)` (a PostgreSQL cancel request), which
  the adapter triggers from another thread when the caller cancels;
- calls `check()` between batches, so a cancelled load stops and publishes nothing.

The current `Work` travels in a context variable (copied into the worker thread with the
call): a parameter through every function would touch each tool and reader for what is a
property of the call, not of the data. Outside a call every function here is a no-op, so the
library, the CLI and the tests of the core run unchanged.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from data_platform.errors import DataPlatformError

T = TypeVar("T")
LOG = logging.getLogger("data_platform")


class CancelledError(DataPlatformError):
    """The caller cancelled the call: the work stopped and published nothing."""


@dataclass(frozen=True)
class Step:
    done: float
    total: float | None
    message: str | None


class Work:
    """One call's work: its latest progress, its cancel flag and the hooks that stop its I/O."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._hooks: list[Callable[[], Any]] = []
        self.measure: Callable[[int], tuple[float, float | None]] | None = None
        self.probe: Callable[[], Step | None] | None = None
        self.step: Step | None = None
        self.started = time.monotonic()

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn` with this work as the current one (call it in the worker thread)."""
        token = _CURRENT.set(self)
        try:
            return fn(*args, **kwargs)
        finally:
            _CURRENT.reset(token)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        """Flag the work cancelled and run every registered hook (from any thread)."""
        with self._lock:
            self._cancelled.set()
            hooks = list(self._hooks)
        for hook in hooks:
            with contextlib.suppress(Exception):
                hook()

    def report(self, done: float, total: float | None = None, message: str | None = None) -> None:
        self.step = Step(done, total, message)  # one reference swap: safe to read from the loop

    def latest(self) -> Step | None:
        """The step to report now: asked of the probe while one is set (a running query's own
        estimate), else the last step the work reported."""
        probe = self.probe
        if probe is not None:
            with contextlib.suppress(Exception):
                found = probe()
                if found is not None:
                    return found
        return self.step

    def rows(self, rows: int) -> None:
        measure = self.measure
        message = f"{rows:,} rows"
        if measure is None:
            self.report(rows, None, message)
            return
        with contextlib.suppress(Exception):
            done, total = measure(rows)
            self.report(done, total, message)

    def hook(self, fn: Callable[[], Any]) -> None:
        """Run `fn` on cancel; already cancelled: raise, as a cancel request sent now would find no
        statement to stop and the one about to start would run to its end."""
        with self._lock:
            if self.cancelled:
                raise CancelledError("The call was cancelled; nothing was stored.")
            self._hooks.append(fn)

    def unhook(self, fn: Callable[[], Any]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._hooks.remove(fn)


class Running:
    """The calls whose work is still running in a thread, abandoned ones included.

    A cancelled call returns at once, but its thread runs on until its next check: a pyarrow
    sort or join cannot be interrupted mid-kernel. Shutdown asks `stop`: every running work is
    cancelled (DuckDB interrupted, PostgreSQL cancelled), and what they hold (the DuckDB
    engine, the registry) is closed only once they have ended, or not at all if they outlast
    the wait (the process exit frees it then).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._works: set[Work] = set()

    def run(self, work: Work, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`work.run(fn, ...)`, counted as running until it returns (in the worker thread)."""
        with self._cond:
            self._works.add(work)
        try:
            return work.run(fn, *args, **kwargs)
        finally:
            with self._cond:
                self._works.discard(work)
                self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._works)

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to `timeout` s until no work runs (abandoned ones included); whether none does.
        A cancelled call's work publishes nothing once its thread has returned: a test waits for
        that instead of sleeping and hoping."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._works, timeout)

    def stop(self, timeout: float) -> int:
        """Cancel every running work and wait up to `timeout` s for all to end; how many did not."""
        with self._cond:
            works = list(self._works)
        for work in works:
            work.cancel()
        with self._cond:
            if self._works:
                LOG.info("shutdown: waiting for %d running call(s) to stop", len(self._works))
            self._cond.wait_for(lambda: not self._works, timeout)
            return len(self._works)


_CURRENT: contextvars.ContextVar[Work | None] = contextvars.ContextVar("data_platform_work", default=None)


def current() -> Work | None:
    return _CURRENT.get()


def check() -> None:
    """Raise CancelledError if the caller cancelled this call; call it between batches."""
    work = _CURRENT.get()
    if work is not None and work.cancelled:
        raise CancelledError("The call was cancelled; nothing was stored.")


def progress(done: float, total: float | None = None, message: str | None = None) -> None:
    work = _CURRENT.get()
    if work is not None:
        work.report(done, total, message)


def rows_done(rows: int) -> None:
    """A load wrote `rows` rows so far: reported as the measure the reader declared, else rows."""
    work = _CURRENT.get()
    if work is not None:
        work.rows(rows)


def measure(fn: Callable[[int], tuple[float, float | None]]) -> contextlib.AbstractContextManager[None]:
    """While inside, a load's progress is `fn(rows written)` = (done, total), e.g. bytes of the file."""
    return _lent("measure", fn)


def probing(fn: Callable[[], Step | None] | None) -> contextlib.AbstractContextManager[None]:
    """While inside, progress is read from `fn()` when it is due (None: the last step reported), e.g.
    DuckDB's own estimate of its running query: work that cannot report between batches is asked."""
    return _lent("probe", fn)


@contextlib.contextmanager
def _lent(attr: str, fn: Callable[..., Any] | None) -> Iterator[None]:
    """The current work's `attr` is `fn` while inside, then what it was; nothing outside a call."""
    work = _CURRENT.get()
    if work is None or fn is None:
        yield
        return
    before = getattr(work, attr)
    setattr(work, attr, fn)
    try:
        yield
    finally:
        setattr(work, attr, before)


@contextlib.contextmanager
def on_cancel(fn: Callable[[], Any]) -> Iterator[None]:
    """While inside, cancelling the call runs `fn` (from another thread), e.g. a PostgreSQL cancel."""
    work = _CURRENT.get()
    if work is None:
        yield
        return
    work.hook(fn)
    try:
        yield
    finally:
        work.unhook(fn)
