"""Durability: what reaches the disk after the answer, and the system calls behind it.

Each `Registry` owns one `Flusher` (so does each server, through its state's registry): two
registries in one process share no queue or lock, and one's stuck job never holds up the other's
(each runs on its own kept thread while it has jobs). See docs/decisions.md for why a ref is
published before its fsync, and why a big one before its last bytes.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import resource
import threading
import weakref
from collections import deque
from collections.abc import Callable
from functools import partial
from pathlib import Path

LOG = logging.getLogger(__name__)
KEPT_IDLE_S = 5.0  # a kept thread with no work for this long ends


class Flusher:
    """Disk work that need not hold up an answer, done in order on a background thread.

    Fsyncs of published refs (and their folder), the last close of a replaced or dropped ref's
    file, where the kernel frees its blocks (~0.25 s for 400 MB here), and the waits for writer
    threads still copying a ref published early. The jobs run on a kept thread (`in_background`)
    while there are any; a clean exit of the interpreter waits for them (`wait_all`, an atexit
    hook: kept threads are daemons), and `wait` serves a server's shutdown and SIGTERM (`cli.py`).
    After a machine crash a ref that had not reached the disk reads as damaged, which the
    registry reports.
    """

    def __init__(self) -> None:
        self._jobs: deque[Callable[[], object]] = deque()
        self._lock = threading.RLock()  # re-entrant: `wait` may run in a signal handler
        self._idle = threading.Condition(self._lock)
        self._runner: object | None = None  # the thread running the jobs (a token until it starts)
        _FLUSHERS.add(self)

    def submit(self, *jobs: Callable[[], object]) -> None:
        with self._lock:
            self._jobs.extend(jobs)
            if self._runner is not None or not self._jobs:
                return
            self._runner = token = object()
            try:
                in_background(partial(self._run, token))
                return
            except RuntimeError:  # no new thread at interpreter shutdown: the jobs run here
                pass
        self._run(token)

    def behind(self, drained: threading.Event) -> None:
        """A writer goes on after its ref was published: waiting for the flusher waits for it.

        Waited for, not just counted: a thread still dropping its Arrow writer when the interpreter
        finalizes aborts the process (std::terminate).
        """
        self.submit(drained.wait)

    def _next(self) -> Callable[[], object] | None:
        with self._lock:
            if not self._jobs:
                if self._runner is threading.current_thread():
                    self._runner = None
                self._idle.notify_all()
                return None
            return self._jobs.popleft()

    def _run(self, token: object) -> None:
        with self._lock:
            if self._runner is not token:
                return  # `wait` ran the jobs itself meanwhile
            self._runner = threading.current_thread()
        while (job := self._next()) is not None:
            _run_job(job)

    def wait(self) -> None:
        """Block until every submitted job is done and every early-published ref is written."""
        me = threading.current_thread()
        while True:
            with self._lock:
                if isinstance(self._runner, threading.Thread) and self._runner is not me:
                    self._idle.wait()  # a thread runs the jobs
                    continue
                # None, or a run handed to a kept thread that has not started (or a signal came
                # in `submit` before it was handed over): the jobs run here, that run finds none.
                self._runner = me
                if not self._jobs:
                    self._runner = None
                    self._idle.notify_all()
                    return
                job = self._jobs.popleft()
            _run_job(job)

    close = wait


_FLUSHERS: weakref.WeakSet[Flusher] = weakref.WeakSet()


@atexit.register
def wait_all() -> None:
    """Every registry's disk work in this process, waited for: at a clean exit (kept threads are
    daemons; atexit hooks run before daemon threads stop), and by the benchmarks."""
    for flusher in list(_FLUSHERS):
        flusher.wait()


class _Kept:
    """One kept thread's next task."""

    def __init__(self) -> None:
        self.task: Callable[[], object] | None = None
        self.wake = threading.Condition(_KEPT_LOCK)


_KEPT_LOCK = threading.Lock()
_IDLE: list[_Kept] = []


def _forked() -> None:
    """A forked child has none of its parent's threads: it must not hand work to them."""
    global _KEPT_LOCK
    _KEPT_LOCK = threading.Lock()
    _IDLE.clear()


os.register_at_fork(after_in_child=_forked)


def in_background(task: Callable[[], object]) -> None:
    """Run `task` on a kept thread: an idle one if any, else a new one.

    Starting a thread waits until the new thread is scheduled: ~0.03 ms on an idle machine,
    2-3 ms (p90 ~11 ms) on two busy cores, twice per stored ref (its writer, its fsyncs). Kept
    threads are reused and end after KEPT_IDLE_S without work. They are daemons: what must finish
    before exit waits for them explicitly (`Flusher.wait`, `wait_all`, a writer's `finish`).
    """
    with _KEPT_LOCK:
        if _IDLE:
            kept = _IDLE.pop()
            kept.task = task
            kept.wake.notify()
            return
    kept = _Kept()
    kept.task = task
    threading.Thread(target=_serve, args=(kept,), name="ref-background", daemon=True).start()


def _serve(kept: _Kept) -> None:
    while True:
        with _KEPT_LOCK:
            if kept.task is None:
                kept.wake.wait(KEPT_IDLE_S)
            task, kept.task = kept.task, None
            if task is None:
                _IDLE.remove(kept)
                return
        try:
            task()
        except BaseException:  # a task reports its own errors; this thread must not die of one
            LOG.exception("background task failed")
        del task
        with _KEPT_LOCK:
            _IDLE.append(kept)


def _run_job(job: Callable[[], object]) -> None:
    try:
        job()
    except OSError:
        pass  # gone or unreadable: nothing left to save
    except Exception:  # a job must never stop the jobs behind it
        LOG.exception("background disk work failed")


def fallocate(fd: int, offset: int, length: int) -> bool:
    """Linux fallocate(2) with FALLOC_FL_KEEP_SIZE: blocks reserved past the end, the size stays
    what is written (so the unused reserve can be freed after the answer, `trim`); False where
    unsupported (no slow zero-filling fallback)."""
    fn = getattr(_LIBC, "fallocate", None)
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]  # past the end, the kernel does not check it
    if fn is None or (limit != resource.RLIM_INFINITY and offset + length > limit):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    return fn(fd, FALLOC_FL_KEEP_SIZE, offset, length) == 0


def trim(fd: int) -> None:
    """Free the blocks reserved past a file's end, then close `fd` (a truncate to its own size:
    ~0.5-6 ms for 50 MB here, more while the disk is busy, so it is not done on the answer path)."""
    try:
        os.ftruncate(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)


_LIBC = ctypes.CDLL(None, use_errno=True)
FALLOC_FL_KEEP_SIZE = 1


def fsync_path(path: Path) -> None:
    """Fsync a file or folder by path; gone or unreadable is not an error (nothing left to save)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def open_for_release(path: Path) -> int | None:
    """An fd that keeps a file's blocks alive past unlink/replace, to close off the answer path."""
    try:
        return os.open(path, os.O_RDONLY)
    except OSError:
        return None
