"""`pg_health`: every check in one call, a verdict first, each finding with its fix.

The checks are small calculators (`checks_indexes`, `checks_tables`, `checks_server`), each
`(conn) -> Check`, run one after the other in one read-only session. Each runs in a
savepoint: a check the role may not see comes back `unavailable`, saying what it needs,
and the others go on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from data_platform.config import Settings
from data_platform.postgres.connection import session
from data_platform.postgres.doctor.common import Unavailable, savepoint
from data_platform.postgres.doctor.findings import Check, Finding, Status

_RANK = {"problem": 0, "warning": 1, "unavailable": 2, "ok": 3}


CheckFn = Callable[[psycopg.Connection[Any]], Check]


def checks() -> list[tuple[str, CheckFn]]:
    """Every check, in the order they are reported when equally serious."""
    from data_platform.postgres.doctor import checks_indexes, checks_server, checks_tables

    return [*checks_indexes.CHECKS, *checks_tables.CHECKS, *checks_server.CHECKS]


@dataclass
class Health:
    database: str
    checks: list[Check]

    def count(self, status: Status) -> int:
        return sum(c.status == status for c in self.checks)

    def verdict(self) -> str:
        parts = [
            f"{self.count('problem')} problem(s)",
            f"{self.count('warning')} warning(s)",
            f"{self.count('ok')} check(s) fine",
        ]
        if self.count("unavailable"):
            parts.append(f"{self.count('unavailable')} not visible to this role")
        return ", ".join(parts)


def run(settings: Settings) -> Health:
    """Run every check on the connection, read-only; the most serious first."""
    out: list[Check] = []
    with session(settings, read_only=True) as conn:
        conn.prepare_threshold = None
        row = conn.execute("select current_database()").fetchone()
        for name, fn in checks():
            try:
                with savepoint(conn):
                    out.append(fn(conn))
            except Unavailable as exc:
                out.append(Check(name, "unavailable", f"needs more rights than this role has: {exc}"))
            except psycopg.errors.QueryCanceled:
                raise  # the statement timeout or a cancelled call: said by the session, for the whole call
            except psycopg.Error as exc:  # e.g. a view this server version lacks: the other checks go on
                first = (str(exc).strip().splitlines() or ["?"])[0][:200]
                out.append(Check(name, "unavailable", f"could not run on this server: {first}"))
    out.sort(key=lambda c: _RANK[c.status])
    return Health(row[0] if row else "?", out)


def worst(findings: list[tuple[Status, Finding]]) -> Status:
    """The most serious status among findings (ok when there are none)."""
    return min((s for s, _ in findings), key=_RANK.__getitem__, default="ok")
