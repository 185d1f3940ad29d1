"""pandas-style statistics for a ref, computed column by column with pyarrow.

Numeric columns: count, nulls, mean, std (sample), min, 25%, 50%, 75%, max
(linear quantiles, as pandas). Other columns: count, nulls, distinct, top,
freq, and min/max where ordered (dates, timestamps, strings). NaN counts
separately from null for floats. One pass per statistic over memory-mapped
columns, no conversion to pandas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from data_platform.frames.types import is_nested, is_numeric
from data_platform.registry import RefInfo, Registry
from data_platform.render import jsonable, type_name


@dataclass
class ColumnStats:
    name: str
    type: str
    count: int
    nulls: int
    stats: dict[str, Any] = field(default_factory=dict)


def describe(
    registry: Registry, ref: str, columns: list[str] | None = None
) -> tuple[RefInfo, list[ColumnStats]]:
    """Statistics for every column of `ref` (or the named ones)."""
    from data_platform.frames.expr import resolve_column

    info = registry.info(ref)
    table = registry.get(ref)
    names = [resolve_column(c, info.schema.names, ref) for c in columns] if columns else info.schema.names
    return info, [_column(n, table.column(n)) for n in names]


def _scalar(s: pa.Scalar) -> Any:
    try:
        return jsonable(s.as_py())
    except (ValueError, OverflowError, pa.ArrowInvalid):
        return str(s)


def _column(name: str, col: pa.ChunkedArray) -> ColumnStats:
    t = col.type
    nulls = col.null_count
    cs = ColumnStats(name, type_name(t), len(col) - nulls, nulls)
    if cs.count == 0:
        return cs
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if (is_numeric(t) and not pa.types.is_decimal(t)) or pa.types.is_decimal(t):
        data = col
        if pa.types.is_floating(t):
            nan = pc.sum(pc.is_nan(col)).as_py() or 0
            if nan:
                cs.stats["nan"] = nan
                data = pc.drop_null(pc.if_else(pc.is_nan(col), None, col))
        as_float = data.cast(pa.float64()) if not pa.types.is_floating(t) else data
        mm = pc.min_max(data)
        cs.stats["mean"] = _round(pc.mean(as_float).as_py())
        cs.stats["std"] = _round(pc.stddev(as_float, ddof=1).as_py())
        cs.stats["min"] = _scalar(mm["min"])
        q = pc.quantile(as_float, q=[0.25, 0.5, 0.75], interpolation="linear").to_pylist()
        cs.stats["25%"], cs.stats["50%"], cs.stats["75%"] = (_round(x) for x in q)
        cs.stats["max"] = _scalar(mm["max"])
        return cs
    if is_nested(t) or pa.types.is_null(t):
        return cs
    try:
        cs.stats["distinct"] = pc.count_distinct(col).as_py()
        counts = pc.value_counts(col)
        if len(counts):
            top = pc.index(counts.field("counts"), pc.max(counts.field("counts")))
            i = top.as_py()
            cs.stats["top"] = _scalar(counts.field("values")[i])
            cs.stats["freq"] = counts.field("counts")[i].as_py()
    except pa.ArrowNotImplementedError:
        pass
    if not pa.types.is_boolean(t):
        try:
            mm = pc.min_max(col)
            cs.stats["min"], cs.stats["max"] = _scalar(mm["min"]), _scalar(mm["max"])
        except pa.ArrowNotImplementedError:
            pass
    return cs


def _round(x: float | None) -> float | None:
    if x is None:
        return None
    return float(f"{x:.6g}") if abs(x) < 1e15 else x
