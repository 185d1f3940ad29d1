"""What the benchmarks measure with: this process's memory (from /proc) and a median of timed runs.

Shared by the bench scripts, which run as `python bench/<name>.py` (this folder is on sys.path).
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any


def rss_mb() -> float:
    """Resident memory now, mapped file pages included."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def anon_mb() -> float:
    """Anonymous memory (heap, buffers): what a workload allocates, without the ref's mapped pages."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    """This process's own peak RSS (VmHWM): ru_maxrss would carry the parent's peak over exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The median seconds of `repeat` calls of `fn`, and what the last call returned."""
    times, last = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        last = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), last
