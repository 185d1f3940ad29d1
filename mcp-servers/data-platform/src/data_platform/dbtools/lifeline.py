"""A dbt process dies with the server that started it.

dbt runs in its own session (so a cancel can signal its whole group), which also means a
client that SIGKILLs the server does not reach it: the run would go on with parent 1,
holding database connections. So the server names itself in the child's environment, and
the child, first thing, asks Linux for a signal when its parent dies (`PR_SET_PDEATHSIG`)
and then checks it has not already lost that parent (the race before the request).

On that signal the child does what Ctrl-C does (KeyboardInterrupt: dbt cancels its open
queries and stops); its whole process group is killed when it exits, or after `GRACE_S`
if it does not, so no dbt subprocess outlives it either.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import sys
import threading
from typing import Any

PARENT_ENV = "DATA_PLATFORM_DBT_PARENT"
PARENT_GONE = signal.SIGTERM
GRACE_S = 5.0
_PR_SET_PDEATHSIG = 1


def child_env() -> dict[str, str]:
    """What the server adds to a dbt child's environment: its own pid."""
    return {PARENT_ENV: str(os.getpid())}


def die_with_parent() -> None:
    """Call first in a dbt child: stop (as on Ctrl-C, then SIGKILL) when the server dies."""
    expected = os.environ.pop(PARENT_ENV, None)  # not inherited by dbt's own subprocesses
    if expected is None or not sys.platform.startswith("linux"):
        return
    signal.signal(PARENT_GONE, _parent_gone)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(PARENT_GONE), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != int(expected):
        raise SystemExit(f"the server (pid {expected}) is gone before dbt started")


def _parent_gone(signum: int, frame: Any) -> None:
    """Give dbt `GRACE_S` to cancel its queries, then kill this process group (at exit, or then)."""
    atexit.register(_kill_group)
    timer = threading.Timer(GRACE_S, _kill_group)
    timer.daemon = True
    timer.start()
    signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt, as Ctrl-C does


def _kill_group() -> None:
    with contextlib.suppress(OSError):
        if os.getpgrp() == os.getpid():  # our own group (start_new_session): dbt's children too
            os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(1)
