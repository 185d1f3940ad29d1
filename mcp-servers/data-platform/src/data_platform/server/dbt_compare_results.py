"""dbt_compare's answer: the diff core's headline first, then per-column counts and the example refs."""

from __future__ import annotations

from data_platform.dbtools.compare import CompareOutcome
from data_platform.diffing import text as diff_text
from data_platform.diffing.sql import ColumnChange
from data_platform.render import markdown_table
from data_platform.server.boundary import ToolResult


class DbtCompareResult(ToolResult):
    model: str
    target: str
    against: str
    relation: str
    against_relation: str
    key: list[str]
    rows: int  # in target
    against_rows: int
    only_in_target: int
    only_in_against: int
    changed: int | None = None  # keyed only
    same: int
    columns: list[ColumnChange] = []
    schema_changes: list[str] = []
    schema_summary: list[str] = []  # the changes, or that columns and types match
    examples: dict[str, str] = {}  # kind -> data_ref

    def ref_names(self) -> list[str]:
        return list(self.examples.values())

    @classmethod
    def of(cls, out: CompareOutcome) -> DbtCompareResult:
        r = out.result
        # The diff core's left is `against` (the baseline), its right this target.
        keyed, ms = r.keyed, r.multiset
        only_left = keyed.only_left if keyed else (ms.only_left if ms else 0)
        only_right = keyed.only_right if keyed else (ms.only_right if ms else 0)
        return cls(
            model=out.model,
            target=out.here,
            against=out.there,
            relation=out.here_relation,
            against_relation=out.there_relation,
            key=r.key,
            rows=r.right_rows,
            against_rows=r.left_rows,
            only_in_target=only_right,
            only_in_against=only_left,
            changed=keyed.changed if keyed else None,
            same=keyed.same if keyed else (ms.same if ms else 0),
            columns=keyed.columns if keyed else [],
            schema_changes=diff_text.schema_lines(r.schema, out.there, out.here),
            schema_summary=diff_text.schema_said(r.schema, out.there, out.here),
            examples=dict(out.refs),
        )  # fmt: skip

    def render(self) -> str:
        head = (
            f"dbt_compare {self.model}: {self.target} ({self.relation}, {self.rows:,} rows) against "
            f"{self.against} ({self.against_relation}, {self.against_rows:,} rows)"
            + (f", key {', '.join(self.key)}" if self.key else ", no key (row sets)")
        )
        counts = [f"{self.same:,} rows the same", f"{self.only_in_target:,} only in {self.target}",
                  f"{self.only_in_against:,} only in {self.against}"]  # fmt: skip
        if self.changed is not None:
            counts.append(f"{self.changed:,} changed")
        parts = [head, "; ".join(counts) + ".", *(self.schema_summary or self.schema_changes)]
        changed = [c for c in self.columns if c.changed]
        if changed:
            rows = [[c.name, f"{c.changed:,}", "" if c.max_abs_diff is None else f"{c.max_abs_diff:g}"]
                    for c in sorted(changed, key=lambda c: -c.changed)[:30]]  # fmt: skip
            parts.append(markdown_table(["column", "changed", "max abs diff"], rows))
        if self.examples:
            parts.append("Examples (at most 20 rows each): "
                         + "; ".join(f"{k} → data_ref `{v}`" for k, v in self.examples.items())
                         + (f" (changed: `<column>_left` is {self.against}, `<column>_right` {self.target})"
                            if "changed" in self.examples else ""))  # fmt: skip
        if self.changed and not self.columns:
            parts.append("Pass key= (the model's unique key) to count changes per column.")
        return "\n".join(parts)
