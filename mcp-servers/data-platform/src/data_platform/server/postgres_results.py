"""What the PostgreSQL/PostGIS tools answer: connection statuses, catalogue rows, statement and load
results, plans (server/postgres_tools.py calls the core and returns these)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel

from data_platform.errors import DataPlatformError
from data_platform.postgres import connection as pgconn
from data_platform.postgres.connections import Connections, Named
from data_platform.postgres.doctor import measure
from data_platform.postgres.doctor.measure import Timing
from data_platform.render import format_cell, markdown_table
from data_platform.server.boundary import ToolResult

MAX_ROWS = 200


def num_text(v: int | float | None) -> str:
    return "?" if v is None else f"{v:,}"


class ConnectionStatus(BaseModel):
    name: str
    url: str
    description: str | None = None
    read_only: bool = False
    ok: bool = True
    error: str | None = None
    server_version: str | None = None
    database: str | None = None
    user: str | None = None
    postgis: str | None = None
    connect_ms: float | None = None
    latency_ms: float | None = None
    statement_timeout_s: float | None = None

    def sentence(self) -> str:
        if not self.ok:
            return f"{self.url}: {self.error}"
        gis = f"PostGIS {self.postgis}" if self.postgis else "PostGIS not installed (st_* tools need it)"
        return (
            f"{self.url}: PostgreSQL {self.server_version}, database {self.database}, "
            f"user {self.user}, {gis}. Connect {self.connect_ms:.0f} ms, "
            f"round trip {self.latency_ms:.1f} ms; statement timeout {self.statement_timeout_s:g} s"
            + ("; read-only" if self.read_only else "")
            + "."
        )


class ConnectResult(ToolResult):
    connections: list[ConnectionStatus]

    def render(self) -> str:
        if len(self.connections) == 1:
            c = self.connections[0]
            name = f" ({c.name})" if c.name != "default" else ""
            desc = f" {c.description}." if c.description else ""
            return f"Connected{name} to {c.sentence()}{desc}\nNext: pg_tables, pg_query."
        ok = sum(c.ok for c in self.connections)
        lines = [
            f"{len(self.connections)} connections, {ok} reachable "
            "(pass connection=<name> to any pg_/st_ tool):"
        ]
        for c in self.connections:
            flags = " [read-only]" if c.read_only else ""
            desc = f" {c.description}." if c.description else ""
            lines.append(f"- {c.name}{flags}:{desc} {c.sentence()}")
        return "\n".join(lines) + "\nNext: pg_tables connection=..., diff."


def _status(named: Named, raising: bool = False) -> ConnectionStatus:
    """One connection's status; a failure becomes its error text (the listing goes on) unless `raising`."""
    base = ConnectionStatus(
        name=named.name,
        url=named.masked_url(),
        description=named.description,
        read_only=named.read_only,
    )
    if named.problem or named.settings is None:
        return base.model_copy(update={"ok": False, "error": named.problem})
    try:
        s = pgconn.status(named.settings)
    except DataPlatformError as exc:
        if raising:
            raise
        return base.model_copy(update={"ok": False, "error": str(exc)})
    return base.model_copy(
        update={
            "url": s.masked_url,
            "server_version": s.server_version,
            "database": s.database,
            "user": s.user,
            "postgis": s.postgis,
            "connect_ms": s.connect_ms,
            "latency_ms": s.latency_ms,
            "statement_timeout_s": s.statement_timeout_s,
        }
    )


def statuses(conns: Connections, name: str | None) -> list[ConnectionStatus]:
    """The named connection (errors raised), or every one checked side by side when several exist."""
    every = conns.all()
    if name is not None or len(every) <= 1:
        return [_status(conns.get(name), raising=True)]  # one connection: its failure is the answer
    with ThreadPoolExecutor(max_workers=min(8, len(every))) as pool:
        return list(pool.map(_status, every.values()))


class Rows(ToolResult):
    """A small catalogue answer: a title, a table, and what to do next."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    omitted: int = 0
    next: str | None = None

    def render(self) -> str:
        body = [[format_cell(v, 60) for v in r] for r in self.rows]
        text = self.title + ("\n" + markdown_table(self.columns, body) if self.rows else "")
        if self.omitted:
            text += f"\n({self.omitted:,} more not shown: narrow with schema=...)"
        return text + (f"\nNext: {self.next}" if self.next else "")

    @classmethod
    def bounded(cls, title: str, columns: list[str], rows: list[list[Any]], next: str | None = None) -> Rows:
        """At most MAX_ROWS rows, in the text and in the structured content alike."""
        return cls(
            title=title,
            columns=columns,
            rows=rows[:MAX_ROWS],
            omitted=max(0, len(rows) - MAX_ROWS),
            next=next,
        )


class ExecuteResult(ToolResult):
    statements: list[str]
    rows_affected: int
    before: Timing | None = None  # `measure`: the query's best execution time before the statements
    after: Timing | None = None

    def render(self) -> str:
        tags = "; ".join(self.statements)
        text = (
            f"Committed {len(self.statements)} statement(s): {tags}. Rows affected: {self.rows_affected:,}."
        )
        if self.before and self.after:
            speed = self.before.ms / self.after.ms if self.after.ms > 0 else float("inf")
            text += (
                f"\nMeasured (EXPLAIN ANALYZE, best of {measure.RUNS}): {self.before.ms:,.3g} ms and "
                f"{self.before.buffers:,} buffers before ({self.before.scans}), {self.after.ms:,.3g} ms and "
                f"{self.after.buffers:,} buffers after ({self.after.scans}): {speed:,.1f}x faster."
            )
        return text


class LoadResult(ToolResult):
    table: str
    mode: str
    rows: int

    def render(self) -> str:
        verb = {"create": "Created", "append": "Appended to", "replace": "Replaced"}[self.mode]
        return f"{verb} {self.table}: {self.rows:,} rows written (committed).\nNext: pg_columns, pg_query."


class ExplainResult(ToolResult):
    plan: str

    def render(self) -> str:
        return self.plan
