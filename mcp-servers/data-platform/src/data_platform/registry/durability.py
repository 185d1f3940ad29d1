"""Durability: what reaches the disk after the answer, and the system calls behind it.

Each `Registry` owns one `Flusher` (so does each server, through its state's registry): two
registries in one process share no thread, queue or lock. See docs/decisions.md for why a ref is
published before its fsync, and why a big one before its last bytes.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

LOG = logging.getLogger(__name__)


class Flusher:
    """Disk work that need not hold up an answer, done in order on a background thread.

    Fsyncs of published refs (and their folder), the last close of a replaced or dropped ref's
    file, where the kernel frees its blocks (~0.25 s for 400 MB here), and the joining of writer
    threads still copying a ref published early. The thread is started when work arrives and ends
    when none is left; it is not a daemon, so a clean exit of the interpreter waits for it (it
    joins non-daemon threads before it finalizes) without any process-wide hook. `wait` serves a
    server's shutdown and SIGTERM (`cli.py`). After a machine crash a ref that had not reached the
    disk reads as damaged, which the registry reports.
    """

    def __init__(self) -> None:
        self._jobs: deque[Callable[[], object]] = deque()
        self._lock = threading.RLock()  # re-entrant: `wait` may run in a signal handler
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def submit(self, *jobs: Callable[[], object]) -> None:
        with self._lock:
            self._jobs.extend(jobs)
            if self._thread is None and self._jobs:
                self._thread = threading.Thread(target=self._run, name="ref-flusher")
                self._thread.start()

    def behind(self, writer: threading.Thread) -> None:
        """A writer thread goes on after its ref was published: waiting for the flusher waits for it.

        Joined, not just counted: a thread still dropping its Arrow writer when the interpreter
        finalizes aborts the process (std::terminate).
        """
        self.submit(writer.join)

    def _next(self) -> Callable[[], object] | None:
        with self._lock:
            if not self._jobs:
                if self._thread is threading.current_thread():
                    self._thread = None
                self._idle.notify_all()
                return None
            return self._jobs.popleft()

    def _run(self) -> None:
        while (job := self._next()) is not None:
            _run_job(job)

    def wait(self) -> None:
        """Block until every submitted job is done and every early-published ref is written."""
        while True:
            with self._lock:
                if self._thread is not None and self._thread is not threading.current_thread():
                    self._idle.wait()
                    continue
                if not self._jobs:
                    return
                job = self._jobs.popleft()  # queued, but no thread runs yet (a signal came in `submit`)
            _run_job(job)

    close = wait


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
