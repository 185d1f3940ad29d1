"""The pieces the filter parser builds, and their Arrow-kernel twins.

A parsed piece always has its SQL (what DuckDB runs); where a condition has exactly SQL's
meaning on Arrow kernels (a column against literals), it also carries a `Mask` that computes
the same boolean column without DuckDB (~2x faster here). A mask raises `NoKernel` when the
column's type would need SQL's casts; DuckDB then decides.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from data_platform.frames.types import is_numeric

Mask = Callable[[pa.Table], pa.ChunkedArray]
"""A condition evaluated by Arrow kernels on a table: a boolean column (null where SQL says NULL)."""
Conjuncts = list[tuple[Mask, frozenset[str]]]

_NO_VALUE = object()


@dataclass
class Part:
    """One parsed piece: its SQL and, when it is simple enough, what the kernel path needs."""

    sql: str
    mask: Mask | None = None  # a condition with a kernel twin
    column: str | None = None  # a bare column reference
    value: object = _NO_VALUE  # a non-NULL literal's Python value
    cols: frozenset[str] = frozenset()
    conjuncts: Conjuncts | None = None  # the parts of an AND
    quoted: str | None = None  # a "double-quoted" name no column has, read as a string
    quoted_column: bool = False  # a column written "double-quoted" (pandas would read text)

    @property
    def literal(self) -> bool:
        return self.value is not _NO_VALUE


def cols(*parts: Part) -> frozenset[str]:
    return frozenset().union(*(p.cols for p in parts))


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class NoKernel(Exception):
    """This condition needs SQL's own semantics: let DuckDB evaluate it."""


def is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def kernel_column(t: pa.Table, name: str) -> pa.ChunkedArray:
    col = t.column(name)
    if not (is_numeric(col.type) or is_text(col.type) or pa.types.is_boolean(col.type)):
        raise NoKernel  # dates, timestamps...: SQL casts a string literal to them
    return col


def text_column(t: pa.Table, name: str) -> pa.ChunkedArray:
    col = t.column(name)
    if not is_text(col.type):
        raise NoKernel
    return col


def boolean_column(t: pa.Table, name: str) -> pa.ChunkedArray:
    col = t.column(name)
    if not pa.types.is_boolean(col.type):
        raise NoKernel  # SQL decides what a non-boolean condition means (an error, here)
    return col


# col OP literal. NaN: SQL orders it above every number, IEEE says every comparison is false;
# `x > v` as NOT (x <= v) (and >= as NOT <) gives SQL's answer for NaN and NULL alike.
_CMP: dict[str, Callable[[pa.ChunkedArray, object], pa.ChunkedArray]] = {
    "=": pc.equal,
    "<>": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": lambda c, v: pc.invert(pc.less_equal(c, v)),
    ">=": lambda c, v: pc.invert(pc.less(c, v)),
}
SWAP = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def compare_mask(left: Part, op: str, right: Part) -> Mask | None:
    if left.literal and right.column:
        left, right, op = right, left, SWAP[op]
    if not (left.column and right.literal):
        return None  # column-to-column or expressions: NaN = NaN is true in SQL only
    name, value = left.column, right.value
    return lambda t: _CMP[op](kernel_column(t, name), value)


def conjoin(parts: list[Part]) -> Part:
    """parts AND-ed, keeping each part's mask separate so evaluate() can apply them in turn."""
    if len(parts) == 1:
        return parts[0]
    sql = "(" + " AND ".join(p.sql for p in parts) + ")"
    if not all(p.mask is not None for p in parts):
        return Part(sql, cols=cols(*parts))
    masks = [p.mask for p in parts if p.mask is not None]
    conjuncts = [c for p, m in zip(parts, masks, strict=True) for c in (p.conjuncts or [(m, p.cols)])]
    return Part(
        sql,
        lambda t: functools.reduce(pc.and_kleene, [m(t) for m in masks]),
        cols=cols(*parts),
        conjuncts=conjuncts,
    )


def disjoin(parts: list[Part]) -> Part:
    if len(parts) == 1:
        return parts[0]
    sql = "(" + " OR ".join(p.sql for p in parts) + ")"
    if not all(p.mask is not None for p in parts):
        return Part(sql, cols=cols(*parts))
    masks = [p.mask for p in parts if p.mask is not None]
    return Part(sql, lambda t: functools.reduce(pc.or_kleene, [m(t) for m in masks]), cols=cols(*parts))


def negate(part: Part) -> Part:
    mask = part.mask
    return Part(f"(NOT {part.sql})", (lambda t: pc.invert(mask(t))) if mask else None, cols=part.cols)


def _same_kind(t: pa.DataType, value: object) -> bool:
    if isinstance(value, bool):
        return pa.types.is_boolean(t)
    if isinstance(value, int | float):
        return is_numeric(t)
    return isinstance(value, str) and is_text(t)


def in_mask(name: str, values: list[object], negated: bool) -> Mask:
    """col [NOT] IN (literals). is_in() says false for a NULL where SQL says NULL: put it back,
    so NOT (col IN ...) drops NULL rows as SQL does."""

    def mask(t: pa.Table) -> pa.ChunkedArray:
        col = kernel_column(t, name)
        if not all(_same_kind(col.type, v) for v in values):
            raise NoKernel  # e.g. text IN (1, 2): SQL would cast the column, not the numbers
        try:
            found = pc.is_in(col, value_set=pa.array(values).cast(col.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            raise NoKernel from None
        found = pc.if_else(pc.is_valid(col), found, pa.scalar(None, pa.bool_()))
        return pc.invert(found) if negated else found

    return mask
