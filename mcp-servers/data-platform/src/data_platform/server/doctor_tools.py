"""The PostgreSQL doctor's tools: thin adapters over `data_platform.postgres.doctor`.

All three are read-only whatever their arguments (hypothetical indexes live only in the
tool's own session, which is rolled back and closed). Building an advised index is
`pg_execute` on a writable connection; its `measure` option times a query before and after.
The doctor's modules import the PostgreSQL driver: each tool imports its module when called.
"""

from __future__ import annotations

from mcp.server.mcpserver import Context

from data_platform.postgres.doctor.findings import KEEP_MAX, Advice, Check
from data_platform.render import human_bytes
from data_platform.server.boundary import ToolResult, run_sync, state_of
from data_platform.server.declare import ToolList
from data_platform.server.results import FrameResult
from data_platform.server.state import connections_of

MAX_LISTED = 12  # indexes or queries shown per section; the structured content has them all
MAX_FINDINGS = 5  # findings shown per health check (each carries its fix)
TOP_SQL = 5  # statements whose SQL pg_top_queries also shows whole


def _short(sql: str, n: int = 90) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"


class IndexAdviceResult(ToolResult, Advice):
    """The core's Advice, with the text the model reads."""

    def render(self) -> str:
        if self.hypopg:
            head = (
                f"{len(self.advised)} index(es) advised for {len(self.looked)} statement(s), checked with "
                f"hypopg {self.hypopg}: each kept only when the planner's estimated cost drops at least "
                f"{self.min_gain:g}x with it. Nothing was created."
            )
        else:
            head = (
                f"{len(self.advised)} index(es) proposed for {len(self.looked)} statement(s), UNVERIFIED: "
                "without hypopg the planner was not asked whether it would use them (only filters "
                f"keeping over {KEEP_MAX:.0%} of a table, by its row estimates, were left out). "
                "Nothing was created."
            )
        lines = [head]
        for a in self.advised[:MAX_LISTED]:
            size = f"  (~{human_bytes(a.size_bytes)}, hypopg's estimate)" if a.size_bytes else ""
            lines.append(f"\n{a.create};{size}")
            for h in a.helps[:5]:
                cost = (
                    f"planner cost {h.cost_before:,.0f} -> {h.cost_after:,.0f} ({h.gain:,.0f}x, an estimate"
                    " in cost units, not a measured time)"
                    if a.verified
                    else f"cost {h.cost_before:,.0f} now"
                )
                lines.append(f"  helps: {_short(h.query)}  [{cost}]")
            lines.append(f"  undo: {a.drop};")
        others = [q for q in self.looked if not q.verdict.startswith(("index advised", "candidate index"))]
        if others:
            lines.append("\nNo index advised for:")
            lines += [f"- {_short(q.query, 70)}: {q.verdict}" for q in others[:MAX_LISTED]]
            if len(others) > MAX_LISTED:
                lines.append(f"({len(others) - MAX_LISTED} more in the structured content)")
        lines += [f"Note: {n}" for n in self.notes]
        if self.advised:
            lines.append(
                "Next: build one with pg_execute on a writable connection (sql=<the CREATE INDEX "
                "CONCURRENTLY statement>, measure=<the query>) to time the query before and after."
            )
        return "\n".join(lines)


class HealthResult(ToolResult):
    database: str
    verdict: str
    checks: list[Check]

    def render(self) -> str:
        lines = [f"Health of {self.database}: {self.verdict}."]
        for c in self.checks:
            mark = {"problem": "PROBLEM", "warning": "warning", "unavailable": "not visible", "ok": "ok"}[
                c.status
            ]
            lines.append(f"[{mark}] {c.name}: {c.summary}")
            for f in c.findings[:MAX_FINDINGS]:
                lines.append(f"  - {f.what}: {f.detail}" + (f"\n    fix: {f.fix}" if f.fix else ""))
            if len(c.findings) > MAX_FINDINGS:
                lines.append(f"  ({len(c.findings) - MAX_FINDINGS} more in the structured content)")
        return "\n".join(lines)


TOOLS = ToolList("postgres", toolsets=("postgres",))  # the doctor belongs to the postgres family


@TOOLS.declare(read_only=True, open_world=True)
async def pg_top_queries(
    ctx: Context, connection: str | None = None, name: str | None = None, overwrite: bool = False
) -> FrameResult:
    """pg_stat_statements into a data_ref, costliest first."""
    from data_platform.postgres.doctor import top

    state = state_of(ctx)
    settings = connections_of(ctx).settings(connection)
    done, found = await run_sync(top.top_queries, settings, state.registry, name=name, overwrite=overwrite)
    notes = ([f"statistics since {found.since[:16]}"] if found.since else []) + found.notes
    shown = [st for st in found.statements if st.visible][:TOP_SQL]
    if shown:  # the preview cuts cells short; the SQL is what a reader needs whole
        notes.append(
            "costliest in full:\n"
            + "\n".join(
                f"{i}. {_short(st.query, 160)}  [{st.total_ms:,.1f} ms total, {st.calls:,} calls]"
                for i, st in enumerate(shown, 1)
            )
        )
    return FrameResult.build(
        "pg_top_queries",
        done.info,
        done.head,
        preview_rows=min(10, state.settings.preview_rows),
        note="\n".join(notes) or None,
        next_steps=[
            "pg_index_advice (indexes for these)",
            f'sort `{done.info.name}` by=["-mean_ms"] (or -calls, -rows, -shared_blks_read)',
        ],
    )


@TOOLS.declare(read_only=True, idempotent=True, open_world=True)
async def pg_index_advice(
    ctx: Context,
    sql: str | None = None,
    connection: str | None = None,
) -> IndexAdviceResult:
    """Indexes for sql or the top queries, checked by hypopg."""
    from data_platform.postgres.doctor import advice

    settings = connections_of(ctx).settings(connection)
    out = await run_sync(advice.advise, settings, sql)
    return IndexAdviceResult(**dict(out))


@TOOLS.declare(read_only=True, idempotent=True, open_world=True)
async def pg_health(ctx: Context, connection: str | None = None) -> HealthResult:
    """Health checks, each with its fix."""
    from data_platform.postgres.doctor import health

    out = await run_sync(health.run, connections_of(ctx).settings(connection))
    return HealthResult(database=out.database, verdict=out.verdict(), checks=out.checks)
