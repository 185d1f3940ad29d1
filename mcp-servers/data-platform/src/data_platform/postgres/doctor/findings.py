"""What the doctor's answers are made of: plain records, apart from the code that queries.

The tool results (server/doctor_tools.py) are built from these types when the server starts;
the modules that read the database (`advice`, `health`, `top`) import the PostgreSQL driver
and are imported by the first call that needs them (issue 27: the start imports no driver).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

Status = Literal["ok", "warning", "problem", "unavailable"]
MIN_GAIN = 2.0  # index advice: the planner's cost must drop at least this many times
# Without hypopg, a filter keeping more of the table than this is not proposed: reading over ~5-20%
# of the rows through a b-tree (random page reads, even as a bitmap scan) costs the planner more
# than one sequential pass, so it keeps scanning. 20% is the top of that range: above it an index
# is almost never chosen; below it one is proposed, said to be unverified.
KEEP_MAX = 0.2


@dataclass
class Finding:
    """One thing found: what (an index, a table, a pid), what is wrong, and what to do."""

    what: str
    detail: str
    fix: str = ""


@dataclass
class Check:
    name: str
    status: Status
    summary: str
    findings: list[Finding] = field(default_factory=list)


@dataclass
class Helped:
    query: str
    cost_before: float
    cost_after: float

    @property
    def gain(self) -> float:
        return self.cost_before / self.cost_after if self.cost_after > 0 else float("inf")


@dataclass
class Advised:
    """One index to build: the statement, its undo, what it is expected to do."""

    table: str
    columns: list[str]
    create: str
    drop: str
    verified: bool
    size_bytes: int | None = None
    helps: list[Helped] = field(default_factory=list)


@dataclass
class Looked:
    """What the advisor concluded for one statement."""

    query: str
    verdict: str
    calls: int | None = None
    cost: float | None = None


class Advice(BaseModel):
    """The advice and what it looked at: also `pg_index_advice`'s structured content (the server
    adds only its text)."""

    advised: list[Advised]
    looked: list[Looked]
    hypopg: str | None
    min_gain: float = MIN_GAIN
    notes: list[str] = []
