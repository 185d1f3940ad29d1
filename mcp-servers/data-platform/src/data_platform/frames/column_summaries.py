"""What `describe` and `profile` say about one column: the cores' results and the tools' structured
content. Apart from frames/describe.py and frames/profile.py (which compute them) so the server
declares the tools without importing the compute kernels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ColumnStats:
    """pandas-style describe of one column."""

    name: str
    type: str
    count: int
    nulls: int
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class ColumnProfile:
    name: str
    type: str
    kind: str  # numeric | temporal | text | boolean | other
    rows: int
    nulls: int
    distinct: int | None = None
    distinct_exact: bool = True
    stats: dict[str, Any] = field(default_factory=dict)  # min, max, mean, std, 25%, 50%, 75%, nan
    outliers: int | None = None
    outlier_range: tuple[float, float] | None = None
    top: list[tuple[Any, int]] = field(default_factory=list)
    histogram: list[tuple[Any, Any, int]] = field(default_factory=list)  # (low, high, rows)
    looks_like: str | None = None
    problems: list[str] = field(default_factory=list)
