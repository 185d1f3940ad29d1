"""How much of a file this process holds in memory: its mapped pages now resident (RSS)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def resident_mb(path: Path) -> float:
    """This process's resident pages of the file, over all its mappings."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if "-" in head[0] and ":" not in head[0]:  # a mapping's first line: range, perms, ..., path
            inside = line.rstrip().endswith(str(path))
        elif inside and head[0] == "Rss:":
            total += int(head[1])
    return total / 1024


def settled(probe: Callable[[], object], expected: object, within_s: float = 5.0) -> bool:
    """Whether `probe()` gives `expected` within `within_s`: a mapping goes with its last buffer,
    which a pyarrow I/O pool thread (a batch read ahead) may hold a moment under load."""
    deadline = time.monotonic() + within_s
    while probe() != expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return probe() == expected
