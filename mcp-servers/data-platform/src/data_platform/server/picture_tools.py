"""Picture tools: `profile` (report + overview picture) and `chart`, thin over `data_platform.pictures`."""

from __future__ import annotations

from typing import Any, Literal

from mcp.server.mcpserver import Context
from pydantic import PrivateAttr

from data_platform.frames.column_summaries import ColumnProfile  # light: the profile's result type
from data_platform.render import format_cell, markdown_table
from data_platform.server.boundary import ToolResult, run_sync, state_of
from data_platform.server.declare import ToolList

# The pictures modules are imported by the first call, not at server start (docs/pictures.md).
MAX_PROBLEMS = 30
TEXT_BUDGET = 7_600  # under the 8,000-character answer bound, so nothing is cut
MAX_ROWS = 40
STRONG = 0.8  # |r| named in the text answer (all pairs are in the structured content)


class ProfileResult(ToolResult):
    data_ref: str
    rows: int
    columns: list[ColumnProfile]
    duplicate_rows: int | None
    candidate_keys: list[list[str]]
    correlations: list[tuple[str, str, float]]
    duplicate_columns: list[tuple[str, str, str]]
    problems: list[str]
    not_profiled: list[str]
    report_path: str
    summary: str
    _png: bytes = PrivateAttr(default=b"")

    def images(self) -> list[bytes]:
        return [self._png] if self._png else []

    def render(self) -> str:
        head = [
            f"profile `{self.data_ref}`: {self.summary}",
            f"Report (HTML, opens offline): {self.report_path}. Overview picture attached.",
        ]
        if self.problems:
            head.append(f"Problems ({len(self.problems)}):")
            head += [f"- {p[:200]}" for p in self.problems[:MAX_PROBLEMS]]
            if len(self.problems) > MAX_PROBLEMS:
                head.append(f"- ... {len(self.problems) - MAX_PROBLEMS} more in the report")
        else:
            head.append("Problems: none found.")
        tail = []
        strong = [(a, b, r) for a, b, r in self.correlations if abs(r) >= STRONG]
        if strong:
            tail.append("Strong correlations: " + ", ".join(f"{a}~{b} {r:+.2f}" for a, b, r in strong[:10]))
        if self.not_profiled:
            tail.append(
                f"{len(self.not_profiled)} columns not profiled (the first 60 are): "
                "select the others into a ref and profile it."
            )
        # The column table gets what the rest leaves of the budget, whole rows only.
        room = TEXT_BUDGET - sum(len(x) + 1 for x in head + tail)
        header = ["column", "type", "nulls", "distinct", "min", "max", "mean / top"]
        rows: list[list[str]] = []
        for c in self.columns[:MAX_ROWS]:
            if len(markdown_table(header, [*rows, _row(c)])) > room - 80:
                break
            rows.append(_row(c))
        table = [markdown_table(header, rows)] if rows else []
        if len(rows) < len(self.columns):
            more = len(self.columns) - len(rows)
            table.append(f"({more} more columns in the report and the structured content)")
        return "\n".join(head + table + tail)


Agg = Literal["mean", "sum", "count", "median", "min", "max"]


class ChartResult(ToolResult):
    data_ref: str
    kind: str
    title: str  # as drawn: the caller's title, else `shows`
    shows: str  # what is drawn, e.g. `mean(temp_max) by date`
    y_axis: str  # what the value axis shows: `temp_max` as is, `mean(temp_max)`, `rows`
    aggregate: str | None  # None: one row per mark, values drawn as they are
    rows: int
    drawn: int
    notes: list[str]
    png_path: str
    svg_path: str
    spec_path: str
    _png: bytes = PrivateAttr(default=b"")

    def images(self) -> list[bytes]:
        return [self._png] if self._png else []

    def render(self) -> str:
        titled = f', titled "{self.title}"' if self.title != self.shows else ""
        lines = [
            f"chart `{self.data_ref}`: {self.kind} of {self.shows}{titled} ({self.drawn:,} marks drawn)."
        ]
        if self.y_axis:
            how = f"aggregated with {self.aggregate}" if self.aggregate else "values as they are"
            lines.append(f"- value axis: {self.y_axis} ({how})")
        lines += [f"- {n}" for n in self.notes]
        lines.append(f"Saved: {self.png_path}, {self.svg_path}, {self.spec_path} (Vega-Lite, data inline).")
        return "\n".join(lines)


def _row(c: ColumnProfile) -> list[str]:
    distinct = "" if c.distinct is None else ("" if c.distinct_exact else "≈") + f"{c.distinct:,}"
    if "mean" in c.stats:
        middle = f"mean {format_cell(c.stats['mean'], 14)}"
    else:
        middle = ", ".join(f"{format_cell(v, 16)} ({n:,})" for v, n in c.top[:3])
    cells = [c.name, c.type, f"{c.nulls:,}", distinct, c.stats.get("min", ""), c.stats.get("max", ""), middle]
    return [format_cell(x, 40) for x in cells]


TOOLS = ToolList("frames", toolsets=("analyst",))


@TOOLS.declare(read_only=True, idempotent=True)
async def profile(data_ref: str, ctx: Context) -> ProfileResult:
    """Data-quality profile; HTML report + PNG."""
    from data_platform.pictures import report
    from data_platform.pictures.overview import table_line

    state = state_of(ctx)
    out = await run_sync(
        report.profile_report,
        state.registry,
        data_ref,
        None,
        state.settings.registry_dir,
        sandbox=state.sandbox,
    )
    p = out.profile
    result = ProfileResult(
        data_ref=p.info.name,
        rows=p.info.rows,
        columns=p.columns,
        duplicate_rows=p.duplicate_rows,
        candidate_keys=p.candidate_keys,
        correlations=p.correlations,
        duplicate_columns=p.duplicate_columns,
        problems=p.problems(),
        not_profiled=p.not_profiled,
        report_path=_shown_path(out.report, state.settings.project_dir),
        summary=table_line(p),
    )
    result._png = out.png
    return result


@TOOLS.declare(read_only=True, idempotent=True)
async def chart(
    data_ref: str,
    kind: str,
    ctx: Context,
    x: str | None = None,
    y: str | None = None,
    color: str | None = None,
    bins: int | None = None,
    agg: Agg | None = None,
    title: str | None = None,
) -> ChartResult:
    """kind: bar line scatter histogram box heatmap map; agg if rows share an x (mean)"""
    from data_platform.pictures import chart as chart_mod

    state = state_of(ctx)
    req = chart_mod.Request(kind, x, y, color, agg, bins, title)
    out = await run_sync(
        chart_mod.chart, state.registry, data_ref, req, state.settings.registry_dir, sandbox=state.sandbox
    )
    project = state.settings.project_dir
    result = ChartResult(
        data_ref=data_ref,
        kind=out.kind,
        title=out.title,
        shows=out.described,
        y_axis=out.y_axis,
        aggregate=out.aggregate,
        rows=out.rows,
        drawn=out.drawn,
        notes=out.notes,
        png_path=_shown_path(out.paths["png"], project),
        svg_path=_shown_path(out.paths["svg"], project),
        spec_path=_shown_path(out.paths["spec"], project),
    )
    result._png = out.picture.png
    return result


def _shown_path(path: Any, project: Any) -> str:
    """The path relative to the project when inside it (what a person types), else absolute."""
    try:
        return str(path.relative_to(project))
    except ValueError:
        return str(path)
