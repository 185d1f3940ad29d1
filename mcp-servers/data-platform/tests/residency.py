"""How much of a file this process holds in memory: its mapped pages now resident (RSS)."""

from __future__ import annotations

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
