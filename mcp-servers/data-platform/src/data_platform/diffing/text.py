"""The diff's answer in words: one line first, then what a person needs to act on it."""

from __future__ import annotations

from data_platform.diffing.compare import DiffResult, SchemaDiff
from data_platform.diffing.sql import Side
from data_platform.render import format_float


def _n(v: int) -> str:
    return f"{v:,}"


def headline(result: DiffResult, left: str = "left", right: str = "right") -> str:
    """E.g. "12,403 rows match; 17 only in prod; 3 changed: amount (3, max diff 0.01)"."""
    if result.keyed is not None:
        s = result.keyed
        parts = [f"{_n(s.same)} rows match"]
        if s.only_left:
            parts.append(f"{_n(s.only_left)} only in {left}")
        if s.only_right:
            parts.append(f"{_n(s.only_right)} only in {right}")
        if s.changed:
            cols = []
            for c in sorted(s.columns, key=lambda c: -c.changed):
                if not c.changed:
                    continue
                extra = f", max diff {format_float(c.max_abs_diff)}" if c.max_abs_diff is not None else ""
                cols.append(f"{c.name} ({_n(c.changed)}{extra})")
            shown = ", ".join(cols[:6]) + (f", +{len(cols) - 6} more columns" if len(cols) > 6 else "")
            parts.append(f"{_n(s.changed)} changed: {shown}")
        else:
            parts.append("0 changed")
        labels: dict[Side, str] = {"left": left, "right": right}
        for side, label in labels.items():
            if side in result.duplicates:
                keys, rows = result.duplicates[side]
                parts.append(f"{_n(keys)} duplicate keys in {label} ({_n(rows)} rows, not compared)")
        return "; ".join(parts)
    m = result.multiset
    assert m is not None
    return (
        f"{_n(m.same)} rows on both sides; {_n(m.only_left)} only in {left}; "
        f"{_n(m.only_right)} only in {right} "
        f"(no key: compared as row sets, duplicates counted)"
    )


def schema_lines(schema: SchemaDiff, left: str = "left", right: str = "right") -> list[str]:
    """Schema differences in words (empty when the columns and types agree)."""
    lines = []
    if schema.only_left:
        lines.append(f"Columns only in {left} (not compared): " + ", ".join(schema.only_left[:30]))
    if schema.only_right:
        lines.append(f"Columns only in {right} (not compared): " + ", ".join(schema.only_right[:30]))
    if schema.type_changed:
        lines.append("Types differ: " + ", ".join(f"{n} {a} → {b}" for n, a, b in schema.type_changed[:30]))
    return lines


def schema_said(schema: SchemaDiff, left: str = "left", right: str = "right") -> list[str]:
    """The differences, or in words that the columns and types match: silence reads as unknown."""
    lines = schema_lines(schema, left, right)
    if lines:
        return lines
    n = f"all {len(schema.common):,} columns" if schema.common else "every column"
    return [f"Columns and types match: {n} have the same names and types in {left} and {right}."]
