"""The server's memory in small pages: transparent huge pages off for this process (Linux).

pyarrow's default allocator (mimalloc) asks the kernel for transparent huge pages, and on a
virtual machine whose free memory the host takes back (a balloon reporting free pages, as on
the machines measured here) every new 2 MB page then costs the host's faults too: a first
read_parquet of 2M rows spent 0.25 s of kernel time zeroing 130 MB of huge pages, 0.06 s with
small pages (bench/bench_frames.py; docs/decisions.md). `prctl(PR_SET_THP_DISABLE)` turns them
off for this process and the processes it starts, whatever imported pyarrow first.
"""

from __future__ import annotations

import ctypes
import sys

PR_SET_THP_DISABLE = 41
_done = False


def small_pages() -> bool:
    """Turn transparent huge pages off for this process, once; False where that cannot be done."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    _done = prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0
    return _done
