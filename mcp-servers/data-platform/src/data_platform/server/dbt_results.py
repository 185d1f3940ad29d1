"""The dbt tools' answers: typed results (the structured content) and the text each renders.

Every listing is bounded and says when it was cut and where the rest is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, Field, PrivateAttr

from data_platform.dbtools.artifacts import DocsReport, NodeResult, Resource
from data_platform.dbtools.failures import FailingRows, unit_test_diff
from data_platform.dbtools.findings import Finding, RunFinding
from data_platform.dbtools.service import Compiled, RunOutcome, Validation
from data_platform.dbtools.target import Where
from data_platform.render import format_cell, markdown_table
from data_platform.server.boundary import ToolResult

MAX_NODES_SHOWN = 40
MAX_NODES_STRUCTURED = 200
MAX_SQL_CHARS = 3000
MAX_CATALOG_ERRORS_SHOWN = 3


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def finding_line(f: Finding) -> str:
    where = f" {f.file}{':' + str(f.line) if f.line else ''}" if f.file else ""
    code = f" ({f.code})" if f.code else ""
    return f"- {f.event}{code}{where}: {f.message}" + (f"\n  Fix: {f.fix}" if f.fix else "")


def findings_block(title: str, findings: Sequence[Finding], limit: int = 15) -> str:
    if not findings:
        return ""
    lines = [title, *(finding_line(f) for f in findings[:limit])]
    if len(findings) > limit:
        lines.append(f"- ... {len(findings) - limit} more in structured content")
    return "\n".join(lines)


def deprecation_title(n: int, new: str = "") -> str:
    return (
        f"WARNING: {n} {new}dbt deprecation(s). dbt only warns (exit code 0), but a future dbt will fail "
        "on them:"
    )


def deprecations_line(findings: Sequence[Finding]) -> str:
    """`4 deprecations (D039 x4): dbt_parse lists them.`: for deprecations the reader was told in full."""
    codes = Counter(f.code or f.event for f in findings)
    listed = ", ".join(f"{code} x{n}" if n > 1 else code for code, n in sorted(codes.items()))
    n = len(findings)
    return f"{n} deprecation{'s' if n != 1 else ''} ({listed}): dbt_parse lists {'them' if n != 1 else 'it'}."


class DbtParseResult(ToolResult):
    project: str
    ok: bool
    seconds: float
    cached: bool
    errors: list[Finding]
    deprecations: list[Finding]
    warnings: list[Finding]

    @classmethod
    def of(cls, v: Validation) -> DbtParseResult:
        pick = lambda kind: [f for f in v.findings if f.kind == kind]  # noqa: E731
        return cls(
            project=str(v.project.root),
            ok=v.ok,
            seconds=round(v.seconds, 3),
            cached=v.cached,
            errors=pick("error"),
            deprecations=pick("deprecation"),
            warnings=pick("warning"),
        )

    def render(self) -> str:
        head = (
            f"dbt project {self.project}: does NOT parse ({len(self.errors)} error(s))."
            if not self.ok
            else f"dbt project {self.project}: parses ({self.seconds:.2f} s)."
        )
        parts = [head, findings_block("Errors:", self.errors)]
        parts.append(findings_block(deprecation_title(len(self.deprecations)), self.deprecations))
        parts.append(findings_block("Other warnings:", self.warnings, 5))
        if self.ok and not self.deprecations:
            parts.append("No deprecations. Next: dbt_build, dbt_run or dbt_test.")
        return "\n".join(p for p in parts if p)


def problem_line(n: NodeResult) -> str:
    """`FAIL not_null_stg_orders_amount (stg_orders.amount): 3 failures`, `ERROR model x: <message>`."""
    status = n.status.upper()
    if n.resource_type == "unit_test" and n.status in ("fail", "warn"):
        diff = unit_test_diff(n.message)
        if diff:
            return (
                f"{status} unit_test {n.name}: actual differs from expected (`@@` columns; "
                "`→` a changed row, cells `expected→actual`; `+++` only in actual; `---` only "
                "in expected):\n" + "\n".join(f"  {line}" for line in diff)
            )
    if n.resource_type != "test":
        return f"{status} {n.resource_type} {n.name}: {(n.message or '')[:600]}"
    head = f"{status} {n.name}" + (f" ({n.on})" if n.on else "")
    if n.status in ("fail", "warn") and n.failures is not None:
        return f"{head}: {n.failures:,} failure{'s' if n.failures != 1 else ''}"
    return f"{head}: {(n.message or '')[:600]}"


def skipped_line(causes: list[str], skipped: int) -> str:
    """How many nodes dbt skipped, and because of which failed nodes upstream."""
    if not skipped:
        return ""
    if not causes:
        return f"{skipped} node(s) skipped (dbt skips what is downstream of a failed node)."
    more = f" and {len(causes) - 5} more" if len(causes) > 5 else ""
    return (
        f"{skipped} node(s) skipped because these failed upstream of them: {', '.join(causes[:5])}{more}; "
        "fix those and build again."
    )


def failing_line(f: FailingRows) -> str:
    on = ".".join(p for p in (f.model, f.column) if p)
    head = f"{f.test}" + (f" ({on})" if on else "")
    if f.data_ref is None:
        return f"- {head}: rows not stored ({f.problem or 'unknown reason'})"
    of = f" of {f.failures:,}" if f.failures is not None and f.failures != f.rows else ""
    return f"- {head}: {f.rows:,}{of} failing rows in data_ref `{f.data_ref}`"


class DbtRunResult(ToolResult):
    command: str
    success: bool
    seconds: float
    counts: dict[str, int]
    deprecations: list[RunFinding]
    nodes: list[NodeResult]
    nodes_total: int
    errors: list[Finding]
    run_results: str | None
    failing_rows: list[FailingRows] = []
    skipped_after: list[str] = []  # the failed nodes upstream of the skipped ones
    target: str | None = Field(None, description="the profile target it ran in (None: the profile's default)")
    schemas: list[str] = Field([], description="database.schema of the nodes it ran")

    def ref_names(self) -> list[str]:
        return [f.data_ref for f in self.failing_rows if f.data_ref]

    @classmethod
    def of(cls, out: RunOutcome, failing: list[FailingRows] | None = None) -> DbtRunResult:
        nodes = sorted(out.nodes, key=lambda n: (not n.failed, n.status != "warn"))
        return cls(
            command=out.command,
            success=out.returncode == 0 and not any(n.failed for n in out.nodes),
            seconds=round(out.seconds, 2),
            counts=out.counts,
            deprecations=out.deprecations(),
            nodes=nodes[:MAX_NODES_STRUCTURED],
            nodes_total=len(out.nodes),
            errors=out.errors,
            run_results=str(out.run_results_path) if out.run_results_path else None,
            failing_rows=failing or [],
            skipped_after=out.skipped_after,
            target=out.where.target if out.where else None,
            schemas=out.where.schemas if out.where else [],
        )

    def render(self) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in sorted(self.counts.items()))
        verdict = "succeeded" if self.success else "FAILED"
        parts = [
            f"dbt {self.command} {verdict} in {self.seconds:.1f} s: {counts or 'no nodes selected'}. "
            + Where(self.target, self.schemas).sentence()
        ]
        # In full the first time; then one line, unless new ones appear (dbt_parse always lists all).
        new = [d for d in self.deprecations if not d.told_before]
        told = [d for d in self.deprecations if d.told_before]
        if new:
            title = deprecation_title(len(new), "new " if told else "")
            parts.append(findings_block(title, new, 10))
        if told:
            parts.append(("Also " if new else "") + deprecations_line(told))
        bad = [n for n in self.nodes if n.status in ("error", "fail", "runtime error", "warn")]
        parts.extend(problem_line(n) for n in bad[:10])
        parts.append(skipped_line(self.skipped_after, self.counts.get("skipped", 0)))
        if self.failing_rows:
            parts.append("Failing rows (the test's own query, run again):")
            parts.extend(failing_line(f) for f in self.failing_rows)
        shown = self.nodes[:MAX_NODES_SHOWN]
        tests_on = any(n.on for n in shown)  # the "on" column only when tests say what they check
        rows = [
            [
                format_cell(n.name, 50),
                n.resource_type,
                *([format_cell(n.on, 40)] if tests_on else []),
                n.status,
                f"{n.seconds:.2f}",
                "" if n.rows_affected is None else f"{n.rows_affected:,}",
                "" if n.failures is None else str(n.failures),
            ]
            for n in shown
        ]
        if rows:
            header = ["node", "type", *(["on"] if tests_on else []), "status", "s", "rows", "failures"]
            parts.append(markdown_table(header, rows))
        if self.nodes_total > len(rows):
            parts.append(
                f"({len(rows)} of {self.nodes_total} nodes shown, problems first; all in {self.run_results})"
            )
        parts.append(findings_block("Other errors:", self.errors, 5))
        return "\n".join(p for p in parts if p)


class CompiledNode(BaseModel):
    unique_id: str
    sql: str
    truncated: bool


class DbtCompileResult(ToolResult):
    nodes: list[CompiledNode]
    nodes_total: int
    deprecations: int
    target: str | None = Field(None, description="the profile target it compiled for (None: the default)")
    schemas: list[str] = Field([], description="database.schema of the compiled nodes")

    @classmethod
    def of(
        cls, compiled: list[Compiled], validation: Validation, budget: int, where: Where | None = None
    ) -> DbtCompileResult:
        """Each node's SQL up to MAX_SQL_CHARS, as many nodes as fit the answer's `budget`."""
        shown: list[CompiledNode] = []
        used = 0
        for c in compiled:
            sql = c.sql[:MAX_SQL_CHARS]
            if shown and used + len(sql) > budget - 500:
                break
            used += len(sql)
            shown.append(CompiledNode(unique_id=c.unique_id, sql=sql, truncated=len(c.sql) > len(sql)))
        return cls(
            nodes=shown,
            nodes_total=len(compiled),
            deprecations=len(validation.deprecations),
            target=where.target if where else None,
            schemas=where.schemas if where else [],
        )

    def render(self) -> str:
        if not self.nodes:
            return "dbt compile: the selection matched no node with SQL."
        where = Where(self.target, self.schemas).sentence("Compiled for")
        parts = [f"Compiled {self.nodes_total} node(s). {where}"]
        for n in self.nodes:
            cut = " (cut)" if n.truncated else ""
            parts.append(f"-- {n.unique_id}{cut}\n```sql\n{n.sql}\n```")
        if self.nodes_total > len(self.nodes):
            parts.append(f"({len(self.nodes)} of {self.nodes_total} shown; select fewer nodes.)")
        if self.deprecations:
            parts.append(f"Note: {self.deprecations} deprecation(s); see dbt_parse.")
        return "\n".join(parts)


class DbtLsResult(ToolResult):
    resources: list[Resource]
    total: int
    target: str | None = Field(None, description="the profile target it listed for (None: the default)")
    schemas: list[str] = Field([], description="database.schema of the listed nodes")

    @classmethod
    def of(cls, found: list[Resource], where: Where | None = None) -> DbtLsResult:
        return cls(
            resources=found[:MAX_NODES_STRUCTURED],
            total=len(found),
            target=where.target if where else None,
            schemas=where.schemas if where else [],
        )

    def render(self) -> str:
        if not self.total:
            return "dbt ls: nothing matches the selection."
        rows = [
            [format_cell(r.name, 50), r.resource_type, r.materialized or "", format_cell(r.path or "", 60)]
            for r in self.resources[:MAX_NODES_SHOWN]
        ]
        where = Where(self.target, self.schemas).sentence("In")
        header = ["name", "type", "materialized", "path"]
        text = f"{self.total} resource(s). {where}\n" + markdown_table(header, rows)
        if self.total > len(rows):
            text += f"\n({len(rows)} of {self.total} shown; narrow with select/resource_type.)"
        return text


class DbtDocsResult(ToolResult):
    catalog: str
    index: str
    tables_in_catalog: int
    described: int
    undescribed: list[str]
    missing_columns: list[str]
    undocumented_columns: int
    deprecations: int
    # Said in the text only: a new structured field would change the tool's output schema.
    _catalog_errors: list[str] = PrivateAttr(default_factory=list)

    @classmethod
    def of(cls, report: DocsReport, validation: Validation) -> DbtDocsResult:
        out = cls(
            catalog=str(report.catalog_path),
            index=str(report.index_path),
            tables_in_catalog=report.nodes_in_catalog,
            described=report.described,
            undescribed=report.undescribed[:100],
            missing_columns=report.missing_columns[:100],
            undocumented_columns=report.undocumented_columns,
            deprecations=len(validation.deprecations),
        )
        out._catalog_errors = list(report.catalog_errors)
        return out

    def render(self) -> str:
        lines = [
            f"Docs generated: {self.index} (catalog {self.catalog}; {self.tables_in_catalog} tables/views).",
            f"{self.described} resource(s) described, {len(self.undescribed)} without description"
            + (f": {', '.join(self.undescribed[:15])}" if self.undescribed else "")
            + f"; {self.undocumented_columns} column(s) in the database without YAML docs.",
        ]
        if self.missing_columns:
            lines.append(
                f"Documented in YAML but not in the table ({len(self.missing_columns)}): "
                + ", ".join(self.missing_columns[:20])
            )
        if errors := self._catalog_errors:  # the catalog, and with it the docs' columns, may lack tables
            n = MAX_CATALOG_ERRORS_SHOWN
            lines.append(f"WARNING: {len(errors)} catalog error(s); the catalog may be incomplete:")
            lines.extend("- " + _shorten(e, 300) for e in errors[:n])
            if len(errors) > n:
                lines.append(f"- ... {len(errors) - n} more in {self.catalog}")
        if self.deprecations:
            lines.append(f"Note: {self.deprecations} deprecation(s); see dbt_parse.")
        lines.append("Serve locally with `dbt docs serve` from the project folder.")
        return "\n".join(lines)
