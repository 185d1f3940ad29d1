"""dbt_impact: the review of a change against a baseline (dbtools/impact.py), and its answer.

The answer reads in five seconds (one line: what changed, what it reaches, what the data says),
then in Recce's order (STYLE.md 19): lineage difference, schema, row counts, values, profile.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel

from data_platform.dbtools import impact as impact_mod
from data_platform.dbtools.column_breaks import Break
from data_platform.dbtools.statediff import Changed, Impacted
from data_platform.diffing.sql import ColumnChange
from data_platform.render import markdown_table
from data_platform.server.boundary import ToolResult, run_sync, state_of
from data_platform.server.declare import ToolList


class ModelReview(BaseModel):
    model: str
    why: str
    relation: str
    baseline_relation: str
    rows: int | None = None
    baseline_rows: int | None = None
    key: list[str] = []
    key_from: str = ""
    columns_added: list[str] = []
    columns_removed: list[str] = []
    type_changes: list[str] = []  # "amount numeric → double precision"
    only_in_target: int | None = None
    only_in_baseline: int | None = None
    changed: int | None = None
    same: int | None = None
    columns: list[ColumnChange] = []
    examples: dict[str, str] = {}
    profile: list[impact_mod.ColumnProfile] = []
    problem: str | None = None


class DbtImpactResult(ToolResult):
    baseline: str
    baseline_label: str  # how the answer and the example refs name the baseline's side
    baseline_how: str
    target: str
    modified: list[Changed]
    new: list[Changed]
    deleted: list[Changed]
    impacted: list[Impacted]
    tests: dict[str, list[str]]
    models: list[ModelReview]
    models_candidates: int
    models_cap: int
    breaks: list[Break] = []  # a modified model's columns gone that downstream models still read
    breaks_problem: str | None = None

    def ref_names(self) -> list[str]:
        return [r for m in self.models for r in m.examples.values()]

    @classmethod
    def of(cls, out: impact_mod.ImpactOutcome) -> DbtImpactResult:
        c = out.changes
        return cls(
            baseline=out.baseline.name,
            baseline_label=out.baseline.label,
            baseline_how=out.baseline.how,
            target=out.target,
            modified=c.modified,
            new=c.new,
            deleted=c.deleted,
            impacted=c.impacted[:200],
            tests=c.tests,
            models=[_model(m) for m in out.models],
            models_candidates=out.candidates,
            models_cap=out.cap,
            breaks=out.breaks,
            breaks_problem=out.breaks_problem,
        )

    def headline(self) -> str:
        if not (self.modified or self.new or self.deleted):
            return (
                f"dbt_impact vs {self.baseline}: no model, seed or snapshot changed "
                "(it compares the code, the two manifests; the data is compared only for changed models)."
            )
        parts = [
            f"{len(self.modified)} modified ({', '.join(m.name for m in self.modified[:5])}"
            + (", ..." if len(self.modified) > 5 else "")
            + ")"
        ]
        if self.new:
            parts.append(f"{len(self.new)} new")
        if self.deleted:
            parts.append(f"{len(self.deleted)} deleted")
        parts.append(f"{len(self.impacted)} impacted downstream")
        if self.breaks:
            readers = sorted({b.reader for b in self.breaks})
            parts.append(f"{len(readers)} will fail at run ({', '.join(readers[:5])}: columns gone)")
        data = []
        for m in self.models:
            bits = []
            if m.type_changes:
                bits.append("type " + ", ".join(t.split(" ", 1)[0] for t in m.type_changes))
            if m.columns_added or m.columns_removed:
                bits.append(f"{len(m.columns_added)}+/{len(m.columns_removed)}- columns")
            if m.rows is not None and m.baseline_rows is not None and m.rows != m.baseline_rows:
                bits.append(f"rows {m.baseline_rows:,}→{m.rows:,}")
            if m.changed:
                bits.append(f"{m.changed:,} row{'s' if m.changed != 1 else ''} changed")
            if bits:
                data.append(f"{m.model} ({'; '.join(bits)})")
        tail = ("; data: " + ", ".join(data[:4]) + (" ..." if len(data) > 4 else "")) if data else ""
        compared = [m for m in self.models if not m.problem]
        if compared and not data:
            tail = f"; data: no difference in the {len(compared)} model(s) compared"
        elif self.models and not compared:
            tail = "; data not compared (see why below)"
        return f"dbt_impact vs {self.baseline}: " + ", ".join(parts) + tail + "."

    def render(self) -> str:
        lines = [self.headline(), f"Baseline: {self.baseline_how}; changed side: target {self.target}."]
        if self.modified or self.new or self.deleted:
            rows = [
                [m.name, m.resource_type, ", ".join(m.reasons), "; ".join(m.detail[:3])]
                for m in self.modified[:30]
            ]
            rows += [[m.name, m.resource_type, "new", ""] for m in self.new[:10]]
            rows += [[m.name, m.resource_type, "deleted", ""] for m in self.deleted[:10]]
            lines += ["Modified:", markdown_table(["node", "type", "why", "detail"], rows)]
        if self.impacted:
            shown = ", ".join(
                f"{i.name} ({i.resource_type}, {i.distance} below {i.via})" for i in self.impacted[:20]
            )
            more = f" and {len(self.impacted) - 20} more" if len(self.impacted) > 20 else ""
            lines.append(f"Impacted downstream ({len(self.impacted)}): {shown}{more}.")
        if self.breaks:
            lines.append("Breaks: " + "; ".join(b.text() for b in self.breaks[:20]) + ".")
        elif self.breaks_problem:
            lines.append(f"Columns read downstream not checked: {self.breaks_problem}")
        covered = [f"{n}: {len(t)}" for n, t in self.tests.items()]
        if covered:
            lines.append(
                f"Tests covering them ({sum(len(t) for t in self.tests.values())}): "
                + ", ".join(covered[:15])
            )
        if self.models:
            cap = (
                f" (the first {self.models_cap} of {self.models_candidates}; select= to choose)"
                if self.models_candidates > len(self.models)
                else ""
            )
            done = sum(1 for m in self.models if not m.problem)
            lines.append(f"Data ({done} of {len(self.models)} model(s) compared in the warehouse{cap}):")
            rows = []
            for m in self.models:
                if m.problem:
                    rows.append([m.model, m.why, "", "", m.problem[:160]])
                    continue
                schema = (
                    "; ".join(
                        [
                            *m.type_changes,
                            *(f"+{c}" for c in m.columns_added),
                            *(f"-{c}" for c in m.columns_removed),
                        ]
                    )
                    or "same"
                )
                rows_txt = f"{m.baseline_rows:,} → {m.rows:,}" if m.rows is not None else ""
                if m.changed is not None:
                    cols = ", ".join(f"{c.name} {c.changed:,}" for c in m.columns if c.changed) or "none"
                    values = (
                        f"key {', '.join(m.key)} ({m.key_from}): {m.changed:,} changed, "
                        f"{m.only_in_baseline:,} only in {self.baseline_label}, {m.only_in_target:,} only in "
                        f"{self.target}; columns: {cols}"
                    )
                else:
                    values = (
                        f"no key (rows as sets): {m.only_in_baseline:,} only in {self.baseline_label}, "
                        f"{m.only_in_target:,} only in {self.target}"
                    )
                rows.append([m.model, m.why, schema, rows_txt, values])
            lines.append(markdown_table(["model", "why", "schema", "rows", "values"], rows))
            refs = [
                f"{m.model}: " + ", ".join(f"`{r}`" for r in m.examples.values())
                for m in self.models
                if m.examples
            ]
            if refs:
                sides = (
                    f" (`*_changed`: `<column>_left` is {self.baseline_label}, "
                    f"`<column>_right` {self.target})"
                    if any("changed" in m.examples for m in self.models)
                    else ""
                )
                lines.append("Examples (data_refs, at most 20 rows each): " + "; ".join(refs[:10]) + sides)
            prof = [(m.model, p) for m in self.models for p in m.profile]
            if prof:
                lines.append(
                    markdown_table(
                        ["model", "column", "side", "rows", "null %", "distinct", "min", "max", "mean"],
                        [
                            [
                                model,
                                p.column,
                                p.side,
                                f"{p.rows:,}",
                                f"{100 * p.nulls / p.rows:.1f}" if p.rows else "",
                                f"{p.distinct:,}",
                                _short(p.min),
                                _short(p.max),
                                "" if p.mean is None else f"{p.mean:.4g}",
                            ]
                            for model, p in prof[:30]
                        ],
                    )
                )
        lines.append("Next: " + self.next_step())
        return "\n".join(lines)

    def next_step(self) -> str:
        steps = []
        if self.breaks:
            steps.append("keep the columns listed under Breaks or change the models that read them")
        if self.modified or self.new:
            steps.append(
                f"dbt_build select='state:modified+' state='{self.baseline}' "
                "(builds only what changed and what depends on it, parents read from the baseline)"
            )
        if any(m.problem and m.problem.startswith("not built") for m in self.models):
            steps.append("build the models not built yet, then call dbt_impact again")
        if any(m.problem and "same relation" in m.problem for m in self.models):
            rev = self.baseline.removeprefix("git:")
            steps.append(f"against='git:{rev}@<target>' (e.g. prod) to compare data with that target's")
        refs = self.ref_names()
        if refs:
            steps.append(f"head `{refs[0]}`")
        if self.tests:
            steps.append(f"dbt_test select='state:modified+' state='{self.baseline}' for the tests listed")
        compared = [m for m in self.models if not m.problem]
        if compared and not any(m.key for m in compared):
            steps.append("key=[...] to count changes per column")
        if not (self.modified or self.new or self.deleted) and self.baseline_how.startswith("target "):
            steps.append(
                f"the code is the same: dbt_compare model=<model> against='{self.baseline}' compares a "
                f"model's data in {self.target} and {self.baseline}"
            )
        return "; ".join(steps) or "nothing to do."


def _short(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 24 else text[:23] + "…"


def _model(m: impact_mod.ModelData) -> ModelReview:
    out = ModelReview(
        model=m.name,
        why=m.why,
        relation=m.relation,
        baseline_relation=m.base_relation,
        key=m.key,
        key_from=m.key_from,
        examples=m.refs,
        problem=m.problem,
    )
    r = m.result
    if r is None:
        return out
    out.rows, out.baseline_rows = r.right_rows, r.left_rows
    out.columns_added, out.columns_removed = list(r.schema.only_right), list(r.schema.only_left)
    out.type_changes = [f"{n} {a} → {b}" for n, a, b in r.schema.type_changed]
    if r.keyed is not None:
        k = r.keyed
        out.only_in_target, out.only_in_baseline, out.changed, out.same = (
            k.only_right,
            k.only_left,
            k.changed,
            k.same,
        )
        out.columns = k.columns
    elif r.multiset is not None:
        ms = r.multiset
        out.only_in_target, out.only_in_baseline, out.same = ms.only_right, ms.only_left, ms.same
    out.profile = m.profile
    return out


TOOLS = ToolList("dbt", toolsets=("dbt",))


@TOOLS.declare(read_only=False, open_world=True)  # as dbt_compare: dbt writes its artifacts (state folders)
async def dbt_impact(
    ctx: Context,
    against: str,
    select: str | None = None,
    key: list[str] | None = None,
) -> DbtImpactResult:
    """A change vs a baseline (target, git:rev, dir): nodes, schema, rows, values"""
    from data_platform.server.dbt_tools import _service

    state = state_of(ctx)
    out = await run_sync(
        impact_mod.review,
        _service(ctx),
        state.registry,
        against=against,
        select=select,
        key=key,
        profile=True,  # changed columns only: a few aggregates, no parameter spent on it
    )
    return DbtImpactResult.of(out)
