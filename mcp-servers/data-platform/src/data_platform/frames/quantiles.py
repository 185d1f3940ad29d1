"""Exact quantiles of a long numeric column without copying it (the profile's largest temporary).

`pc.quantile` copies every value of a float or wide-range integer column into one buffer to
select in it: 8 bytes a row, per column, per thread (80 MB at once for two 5M-row columns).
Here the same order statistics are found by counting: one pass counts the values in
equal-width buckets over [min, max] (~64 values a bucket on an even spread), which names the
bucket holding each wanted rank; a second pass keeps only those buckets' values, which are
sorted. A bucket too full (values piled up) is narrowed the same way within its own
[min, max], a few times at most; past that, and for short or small-range columns (which
pyarrow counts itself, without a copy), `pc.quantile` answers. The bucket of a value is
monotone in the value, so the k-th value lies in the bucket where the running count passes k:
the answers are `pc.quantile`'s, interpolated with its formula.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PER_BUCKET = 64  # values a bucket holds on an even spread
MAX_BUCKETS = 1 << 16
BLOCK = 1 << 18  # rows per step of a pass: temporaries of ~2 MB each
KEEP = 1 << 20  # values kept from one bucket at most (8 MB); a fuller bucket is narrowed first
NARROWINGS = 4
SHORT = 1 << 16  # up to this many values pyarrow's copy is small: it answers
COUNTED_RANGE = 65536  # integers within this range are counted by pyarrow itself (no copy)
Value = float | np.number  # a value as the column stores it (a numpy scalar), or a bound as a float


def quantiles(data: pa.ChunkedArray, qs: Sequence[float], lo: float, hi: float) -> list[float]:
    """`pc.quantile(data, q=qs, interpolation="linear")` as floats, for `data` without NaN whose
    smallest and largest values are `lo` and `hi` (as floats)."""
    n = len(data) - data.null_count
    t = data.type
    if n <= SHORT or not (pa.types.is_integer(t) or pa.types.is_float32(t) or pa.types.is_float64(t)):
        return _arrow(data, qs)
    if (pa.types.is_integer(t) and hi - lo <= COUNTED_RANGE) or not np.isfinite(hi - lo):
        return _arrow(data, qs)
    plan = []
    for q in qs:
        index = float(n - 1) * q  # as pyarrow: (n - 1) * q, the lower rank and the fraction past it
        lower = int(index)
        plan.append((lower, index - lower))
    ranks = sorted({r for lower, f in plan for r in ((lower,) if f == 0 else (lower, lower + 1))})
    buckets = int(min(MAX_BUCKETS, max(1024, n // PER_BUCKET)))
    if hi > lo:
        values = _order_statistics(data, ranks, lo, hi, buckets)
    else:  # one value (as stored: `lo` may be a rounded decimal)
        values = dict.fromkeys(ranks, pc.min(data).as_py())
    if values is None:
        return _arrow(data, qs)
    out = []
    for lower, fraction in plan:
        low = float(values[lower])
        out.append(low if fraction == 0 else fraction * float(values[lower + 1]) + (1 - fraction) * low)
    return out


def _arrow(data: pa.ChunkedArray, qs: Sequence[float]) -> list[float]:
    return pc.quantile(data, q=list(qs), interpolation="linear").to_pylist()


def _order_statistics(
    data: pa.ChunkedArray, ranks: list[int], lo: float, hi: float, buckets: int
) -> dict[int, Value] | None:
    """The value at each 0-based rank among the non-null values, or None when buckets cannot
    separate them (distinct integers beyond 2**53 that floats merge, for one)."""
    found: dict[int, Value] = {}
    # rank -> (the range of values it lies in, its rank within)
    pending: dict[int, tuple[Value, Value, int]] = {r: (lo, hi, r) for r in ranks}
    for depth in range(NARROWINGS):
        by_range: dict[tuple[Value, Value], list[tuple[int, int]]] = {}
        for r, (a, b, k) in pending.items():
            by_range.setdefault((a, b), []).append((r, k))
        narrowed: dict[int, tuple[Value, Value, int]] = {}
        for (a, b), wanted in by_range.items():
            if a == b:
                found.update((r, a) for r, _ in wanted)
            elif float(b) > float(a):
                narrowed.update(_select(data, a, b, wanted, found, buckets, within=depth > 0))
            else:
                return None
        if any(narrowed[r][:2] == pending[r][:2] for r in narrowed):
            return None  # a bucket that does not split
        pending = narrowed
        if not pending:
            return found
    return None


def _select(
    data: pa.ChunkedArray,
    a: Value,
    b: Value,
    wanted: list[tuple[int, int]],
    found: dict[int, Value],
    buckets: int,
    *,
    within: bool,
) -> dict[int, tuple[Value, Value, int]]:
    """Two passes over the values in [a, b]: count them per bucket, then keep the wanted buckets'
    values (sorted, the answers go into `found`), or a too full bucket's own range, to narrow."""
    scale = buckets / (float(b) - float(a))

    def values() -> Iterator[np.ndarray]:
        for x in _blocks(data):
            yield x[(x >= a) & (x <= b)] if within else x

    floats, ints = np.empty(BLOCK, np.float64), np.empty(BLOCK, np.int64)  # reused: no page faults

    def bucket(x: np.ndarray) -> np.ndarray:  # floor((x - a) * scale), the last one closed
        y, idx = floats[: len(x)], ints[: len(x)]
        np.subtract(x, a, out=y, dtype=np.float64)
        y *= scale
        np.copyto(idx, y, casting="unsafe")  # y >= 0: truncation is floor
        np.minimum(idx, buckets - 1, out=idx)
        return idx

    counts = np.zeros(buckets, np.int64)
    for x in values():
        counts += np.bincount(bucket(x), minlength=buckets)
    ends = np.cumsum(counts)
    targets: dict[int, list[tuple[int, int]]] = {}
    for r, k in wanted:
        t = int(np.searchsorted(ends, k, side="right"))
        targets.setdefault(t, []).append((r, k - (int(ends[t - 1]) if t else 0)))
    want = np.zeros(buckets, bool)
    want[list(targets)] = True
    kept: dict[int, list[np.ndarray]] = {t: [] for t in targets}
    span: dict[int, tuple[Value, Value]] = {}
    for x in values():
        idx = bucket(x)
        hit = want[idx]
        if not hit.any():
            continue
        xs, bs = x[hit], idx[hit]
        for t in targets:
            v = xs[bs == t]
            if not len(v):
                continue
            if counts[t] <= KEEP:
                kept[t].append(v)
            else:
                low, high = v.min(), v.max()
                span[t] = (min(span[t][0], low), max(span[t][1], high)) if t in span else (low, high)
    narrowed: dict[int, tuple[Value, Value, int]] = {}
    for t, ranked in targets.items():
        if counts[t] <= KEEP:
            ordered = np.sort(np.concatenate(kept[t]))
            found.update((r, ordered[k]) for r, k in ranked)
        else:
            narrowed.update((r, (span[t][0], span[t][1], k)) for r, k in ranked)
    return narrowed


def _blocks(data: pa.ChunkedArray) -> Iterator[np.ndarray]:
    """The non-null values, BLOCK rows at a time (views of the column where it has no nulls)."""
    for start in range(0, len(data), BLOCK):
        part = data.slice(start, BLOCK)
        if part.null_count:
            part = part.drop_null()
        for chunk in part.chunks:
            if len(chunk):
                yield chunk.to_numpy(zero_copy_only=False)
