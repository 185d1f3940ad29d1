"""Durability: what reaches the disk after the answer, and the system calls behind it.

Each `Registry` owns one `Flusher` (so does each server, through its state's registry): two
registries in one process share no thread, queue or lock. See docs/decisions.md for why a ref is
published before its fsync, and why a big one before its last bytes.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from pathlib import Path

LOG = logging.getLogger(__name__)


LINGER_S = 30.0  # how long an idle flusher thread waits for the next call's work before it ends
DELAY_S = 0.05  # queued work starts this long after it came: the answer it follows goes out first


class Flusher:
    """Disk work that need not hold up an answer, done in order on a background thread.

    Fsyncs of published refs (and their folder), the last close of a replaced or dropped ref's
    file, where the kernel frees its blocks (~0.25 s for 400 MB here), and the joining of writer
    threads still copying a ref published early. The thread is started when work arrives and
    waits LINGER_S for more before it ends: a model's next call comes seconds later, and starting
    a thread on a loaded machine costs the call that starts it (bench groupby, 2M rows, at load
    average 12: a median of 3.75 ms, for a 14 ms call). It is a daemon, so an idle one never holds
    up an exit; one `atexit` hook (`wait_all`) waits for every flusher's pending work instead, and
    `wait` serves a server's shutdown and SIGTERM (`cli.py`); `close` also ends the thread. After a
    machine crash a ref that had not reached the disk reads as damaged, which the registry reports.

    Work starts DELAY_S after it is queued (at once for `wait`): woken at once, the thread took
    the GIL while the caller was still building its answer (the same bench: `submit` a median of
    2.77 ms -> 0.17 ms with the delay, at load average 10).
    """

    def __init__(self) -> None:
        self._jobs: deque[Callable[[], object]] = deque()
        self._lock = threading.RLock()  # re-entrant: `wait` may run in a signal handler
        self._changed = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._running = False  # the thread is running a job
        self._stop = False  # `close`: the thread ends as soon as it is idle
        self._due = 0.0  # when the queued jobs may start (DELAY_S after the first was queued)
        self._hurry = False  # someone waits for the jobs: no delay

    def submit(self, *jobs: Callable[[], object]) -> None:
        with self._lock:
            if not self._jobs and not self._running:
                self._due = time.monotonic() + DELAY_S
            self._jobs.extend(jobs)
            if self._thread is None and self._jobs:
                self._stop = False
                self._thread = threading.Thread(target=self._run, name="ref-flusher", daemon=True)
                _LIVE.add(self)
                self._thread.start()
            self._changed.notify_all()

    def behind(self, writer: threading.Thread) -> None:
        """A writer thread goes on after its ref was published: waiting for the flusher waits for it.

        Joined, not just counted: a thread still dropping its Arrow writer when the interpreter
        finalizes aborts the process (std::terminate).
        """
        self.submit(writer.join)

    def _next(self) -> Callable[[], object] | None:
        with self._lock:
            self._running = False
            self._changed.notify_all()
            deadline = time.monotonic() + LINGER_S
            while not self._jobs:
                left = deadline - time.monotonic()
                if self._stop or left <= 0:
                    if self._thread is threading.current_thread():
                        self._thread = None
                    return None
                self._changed.wait(left)
            while not self._hurry and (left := self._due - time.monotonic()) > 0:
                self._changed.wait(left)  # the answer goes out first: no GIL wanted while it is built
            self._running = True
            return self._jobs.popleft()

    def _run(self) -> None:
        while (job := self._next()) is not None:
            _run_job(job)

    def wait(self) -> None:
        """Block until every submitted job is done and every early-published ref is written."""
        while True:
            with self._lock:
                thread = self._thread
                served = thread is not None and thread is not threading.current_thread()
                if served and (self._jobs or self._running):
                    self._hurry = True
                    self._changed.notify_all()
                    self._changed.wait()
                    continue
                self._hurry = False
                if not self._jobs:
                    return
                job = self._jobs.popleft()  # queued, but no thread runs yet (a signal came in `submit`)
            _run_job(job)

    def close(self) -> None:
        """`wait`, then end the idle thread (a server's shutdown: nothing lingers after it)."""
        self.wait()
        with self._lock:
            self._stop = True
            thread = self._thread
            self._changed.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join()


_LIVE: weakref.WeakSet[Flusher] = weakref.WeakSet()  # every flusher that has had a thread


def wait_all() -> None:
    """Wait for the pending disk work of every registry in this process (at exit, and the bench)."""
    for flusher in list(_LIVE):
        flusher.wait()


atexit.register(wait_all)


def _run_job(job: Callable[[], object]) -> None:
    try:
        job()
    except OSError:
        pass  # gone or unreadable: nothing left to save
    except Exception:  # a job must never stop the jobs behind it
        LOG.exception("background disk work failed")


def fallocate(fd: int, offset: int, length: int) -> bool:
    """Linux fallocate(2), mode 0; False where unsupported (no slow zero-filling fallback)."""
    fn = getattr(_LIBC, "fallocate", None)
    if fn is None:
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    return fn(fd, 0, offset, length) == 0


_LIBC = ctypes.CDLL(None, use_errno=True)


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
