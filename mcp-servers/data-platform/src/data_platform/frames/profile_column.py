"""One column's profile, in one pass over the column as stored: nulls, min/max, mean and std,
quartiles, a histogram, IQR outliers, and value counts (distinct, top values, text patterns) where
the column is text, boolean, or numeric with few distinct values.

Nothing here copies the column: kernels take it as stored, quantiles are counted in blocks
(frames/quantiles.py), and what makes temporaries as long as the column goes SLICE rows at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from data_platform.frames import textpatterns
from data_platform.frames.column_summaries import ColumnProfile
from data_platform.frames.describe import _round, _scalar
from data_platform.frames.quantiles import quantiles
from data_platform.frames.types import is_numeric
from data_platform.render import type_name

TOP = 8
BINS = 20
SLICE = 1 << 16  # rows per slice where a pass makes temporaries as long as the column


def _kind(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "boolean"
    if is_numeric(t):
        return "numeric"
    if pa.types.is_temporal(t):
        return "temporal"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "text"
    return "other"


def profile_of(name: str, col: pa.ChunkedArray) -> ColumnProfile:
    """The profile of one column (`col`, named `name`), its problems included."""
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    cp = ColumnProfile(name, type_name(t), _kind(t), len(col), col.null_count)
    if cp.rows == cp.nulls:
        cp.distinct = 0
        if cp.rows:
            cp.problems.append("every value is null")
        return cp
    if cp.nulls:
        cp.problems.append(
            f"{cp.nulls:,} null{'s' if cp.nulls > 1 else ''} ({textpatterns._pct(cp.nulls, cp.rows)})"
        )
    if cp.kind == "numeric":
        _numeric(cp, col)
    elif cp.kind == "temporal":
        _temporal(cp, col)
    elif cp.kind in ("text", "boolean"):
        _counted(cp, col)
    if cp.distinct == 1 and cp.rows > 1:
        cp.problems.append(f"a single value ({cp.top[0][0] if cp.top else cp.stats.get('min')!r})")
    return cp


def _counted(cp: ColumnProfile, col: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """Value counts without nulls: distinct, top values, and (text) patterns and length range."""
    counts = pc.value_counts(col)
    values, freqs = counts.field("values"), counts.field("counts")
    if values.null_count:
        keep = pc.is_valid(values)
        values, freqs = values.filter(keep), freqs.filter(keep)
    cp.distinct = len(values)
    order = pc.select_k_unstable(freqs, k=min(TOP, len(freqs)), sort_keys=[("dummy", "descending")])
    cp.top = [(_scalar(values[i]), freqs[i].as_py()) for i in order.to_pylist()]
    if cp.kind == "text" and len(values):
        mm = pc.min_max(values)
        cp.stats["min"], cp.stats["max"] = _scalar(mm["min"]), _scalar(mm["max"])
        lengths = pc.min_max(pc.utf8_length(values))
        cp.stats["length"] = f"{lengths['min'].as_py()}-{lengths['max'].as_py()}"
        found = textpatterns.find_sampled(values, freqs)
        cp.problems += found.problems(cp.rows - cp.nulls)
        cp.looks_like = found.looks_like(cp.rows - cp.nulls)
    return values, freqs


def _numeric(cp: ColumnProfile, col: pa.ChunkedArray) -> None:
    """Statistics on the column as stored: integers are not copied to floats (the kernels take
    them), quantiles are counted in blocks, outliers slice by slice (a column with NaN or of
    decimals is copied once, without them or as floats)."""
    data = col
    if pa.types.is_floating(col.type):
        nan = pc.sum(pc.is_nan(col)).as_py() or 0
        if nan:
            cp.stats["nan"] = nan
            cp.problems.append(f"{nan:,} NaN values")
            data = pc.drop_null(pc.if_else(pc.is_nan(col), None, col))
    if len(data) - data.null_count == 0:
        return
    exact = pc.min_max(data)  # in the column's own type for the answer
    cp.stats["min"], cp.stats["max"] = _scalar(exact["min"]), _scalar(exact["max"])
    lo, hi = float(exact["min"].as_py()), float(exact["max"].as_py())
    if pa.types.is_decimal(data.type):
        data = data.cast(pa.float64())  # mean and quantiles of decimals come as floats, as pandas
    cp.stats["mean"] = _round(pc.mean(data).as_py())
    cp.stats["std"] = _round(pc.stddev(data, ddof=1).as_py())
    q1, q2, q3 = quantiles(data, [0.25, 0.5, 0.75], lo, hi)
    cp.stats["25%"], cp.stats["50%"], cp.stats["75%"] = _round(q1), _round(q2), _round(q3)
    iqr = q3 - q1
    low, high = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    if iqr > 0 and (lo < low or hi > high):
        cp.outliers = sum(
            pc.sum(pc.or_(pc.less(part, low), pc.greater(part, high))).as_py() or 0
            for part in map(_floats, slices(data))
        )
    else:
        cp.outliers = 0
    cp.outlier_range = (_round(low), _round(high))
    if cp.outliers:
        word = "outliers" if cp.outliers > 1 else "outlier"
        bounds = f"[{_round(low)}, {_round(high)}]"
        cp.problems.append(f"{cp.outliers:,} {word} outside {bounds} (1.5×IQR), max {_round(hi)}")
    if pa.types.is_integer(data.type) and hi - lo < 60:
        # A small integer domain: one bin per value, so distinct and top values come exact and free.
        hist = _histogram(data, lo - 0.5, hi + 0.5, int(hi - lo) + 1)
        cp.histogram = [(int(a + 0.5), int(a + 0.5), n) for a, _, n in hist]
        seen = [(v, n) for v, _, n in cp.histogram if n]
        cp.distinct = len(seen)
        cp.top = sorted(seen, key=lambda vn: -vn[1])[:TOP]
    else:
        cp.histogram = _histogram(data, lo, hi)


def slices(values: pa.ChunkedArray) -> Iterator[pa.ChunkedArray]:
    """SLICE rows at a time: a kernel's temporaries (casts to float, masks) stay a few MB."""
    for start in range(0, len(values), SLICE):
        yield values.slice(start, SLICE)


def _floats(part: pa.ChunkedArray) -> pa.ChunkedArray:
    """Integers as the floats arithmetic with a float turns them into, without refusing those past
    2**53 (64-bit ids, nanosecond times), which pyarrow's implicit cast does."""
    return pc.cast(part, pa.float64(), safe=False) if pa.types.is_integer(part.type) else part


def _histogram(values: pa.ChunkedArray, lo: float, hi: float, bins: int = BINS) -> list[tuple[Any, Any, int]]:
    """Equal-width bins over [lo, hi] (the last bin closed), as (low, high, rows)."""
    if hi <= lo:
        return [(lo, hi, len(values) - values.null_count)]
    width = (hi - lo) / bins
    by_bin: dict[int, int] = {}
    for part in slices(values):  # times (integer bounds) subtract exactly, as integers
        shifted = pc.subtract(_floats(part) if isinstance(lo, float) else part, lo)
        idx = pc.cast(pc.floor(pc.divide(_floats(shifted), width)), pa.int32(), safe=False)
        counts = pc.value_counts(pc.min_element_wise(idx, bins - 1).drop_null())
        for b, n in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True):
            by_bin[b] = by_bin.get(b, 0) + n
    return [(_round(lo + i * width), _round(lo + (i + 1) * width), by_bin.get(i, 0)) for i in range(bins)]


def _temporal(cp: ColumnProfile, col: pa.ChunkedArray) -> None:
    t = col.type
    mm = pc.min_max(col)
    cp.stats["min"], cp.stats["max"] = _scalar(mm["min"]), _scalar(mm["max"])
    storage = pa.int32() if pa.types.is_date32(t) or pa.types.is_time32(t) else pa.int64()
    ints = col.cast(storage)  # a view of the same buffers; the histogram casts slice by slice
    imm = pc.min_max(ints)
    hist = _histogram(ints, imm["min"].as_py(), imm["max"].as_py())
    cp.histogram = [(_as(lo, t, storage), _as(hi, t, storage), n) for lo, hi, n in hist]


def _as(x: float, t: pa.DataType, storage: pa.DataType) -> Any:
    return _scalar(pa.scalar(int(x), storage).cast(t))
