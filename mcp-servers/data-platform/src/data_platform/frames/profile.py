"""A profile of a ref: what each column holds, what looks wrong, and how the columns relate.

Out of core and in few passes over the memory-mapped columns:
1. per column, in threads (pyarrow kernels release the GIL): nulls, min/max, quartiles, a
   histogram, IQR outliers, value counts (distinct, top values, text patterns) where the
   column is text, boolean, or numeric with few distinct values;
2. one DuckDB scan for the whole table: approximate distinct counts (HyperLogLog) of the
   other columns and the correlations between numeric columns;
3. exact checks, only where needed: candidate keys (single columns whose approximate count
   says unique, else pairs) and duplicate rows (skipped when a key exists: then there are
   none), each counted from a 64-bit hash per row sorted in one array, not a hash table;
   and columns that repeat another column, in one DuckDB scan.

Memory: nothing holds a second copy of the table, nor of a column: quantiles are counted out of
the column in blocks (frames/quantiles.py), and the largest temporary left is the 8-byte hash
of each row where a key or duplicates are checked. The ref's mapped pages count in RSS once read:
each column's pass reads its column through a mapping of its own, gone after the pass
(`Registry.column`), so the ref's pages are not all resident at once; the kept mapping holds
only what steps 2-3 read (bench/bench_pictures.py, 5M rows: a call's peak RSS 1.24x -> 0.85x
the ref).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from data_platform import work
from data_platform.frames import correlation, engine, profile_column
from data_platform.frames.column_summaries import ColumnProfile
from data_platform.frames.columns import resolve_column
from data_platform.frames.profile_column import profile_of, slices
from data_platform.frames.types import is_numeric
from data_platform.registry import RefInfo, Registry

MAX_COLUMNS = 60
MAX_CORR = 12  # numeric columns whose pairwise correlations are computed
MAX_KEY_CHECKS = 3  # unsorted likely-unique columns checked exactly (~0.2 s each on 2M rows)
ONE_TO_ONE_MAX = 10_000  # columns mapping one-to-one are checked up to this many distinct values
EXACT_DISTINCT_ROWS = 1_000_000  # up to this many rows, distinct counts are exact (cheap there)


@dataclass
class Profile:
    info: RefInfo
    columns: list[ColumnProfile]
    duplicate_rows: int | None
    candidate_keys: list[list[str]]
    correlations: list[tuple[str, str, float]]
    duplicate_columns: list[tuple[str, str, str]]  # (a, b, "equal" | "one-to-one")
    not_profiled: list[str]

    def problems(self) -> list[str]:
        """Every problem found, as `column: sentence`, table-level ones first."""
        out = []
        if self.duplicate_rows:
            out.append(f"{self.duplicate_rows:,} duplicate row{'s' if self.duplicate_rows != 1 else ''}")
        out += [f"{a} repeats {b} ({how})" for a, b, how in self.duplicate_columns]
        out += [f"{c.name}: {p}" for c in self.columns for p in c.problems]
        return out


def profile(
    registry: Registry,
    ref: str,
    columns: list[str] | None = None,
    *,
    sandbox: engine.Engine | None = None,
) -> Profile:
    """Profile up to MAX_COLUMNS columns of `ref` (or the named ones)."""
    info = registry.info(ref)
    table = registry.get(ref)
    names = [resolve_column(c, info.schema.names, ref) for c in columns] if columns else info.schema.names
    shown, left = names[:MAX_COLUMNS], names[MAX_COLUMNS:]
    total = len(shown) + 2
    done = 0

    def one(name: str) -> ColumnProfile:
        work.check()
        return profile_of(name, registry.column(ref, table, name))  # its pages, then gone

    profiles: list[ColumnProfile] = []
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        for cp in pool.map(one, shown):
            profiles.append(cp)
            done += 1
            work.progress(done, total, f"column {cp.name}")
    work.check()
    pa.default_memory_pool().release_unused()  # the column passes' freed buffers, before DuckDB's
    sub = table.select(shown)
    with engine.scoped(sandbox) as eng, eng.over({"t": sub}) as con:
        correlations = _scan(eng, con, sub, profiles)
        work.progress(done + 1, total, "keys and duplicates")
        work.check()
        keys, dup_rows, dup_cols = _exact(eng, con, sub, profiles)
    pa.default_memory_pool().release_unused()
    work.progress(total, total, "done")
    return Profile(info, profiles, dup_rows, keys, correlations, dup_cols, left)


def _scan(
    eng: engine.Engine, con: Any, table: pa.Table, profiles: list[ColumnProfile]
) -> list[tuple[str, str, float]]:
    """Approximate distinct counts where value counts were not taken (one DuckDB scan), and the
    correlations between numeric columns (one streamed pyarrow pass)."""
    q = engine.quote_ident
    need = [c for c in profiles if c.distinct is None and c.kind != "other" and c.rows > c.nulls]
    if need:
        exact = table.num_rows <= EXACT_DISTINCT_ROWS  # a small table: "≈4 distinct" of 5 rows reads oddly
        count = "count(DISTINCT {})" if exact else "approx_count_distinct({})"
        exprs = [count.format(q(c.name)) for c in need]
        row = eng.run(con, "SELECT " + ", ".join(exprs) + " FROM t").to_pylist()[0]
        for c, n in zip(need, row.values(), strict=True):
            c.distinct, c.distinct_exact = min(int(n), c.rows - c.nulls), exact
    centres = {
        c.name: float(c.stats["mean"])
        for c in profiles
        if c.kind == "numeric" and c.stats.get("mean") is not None and (c.stats.get("std") or 0) > 0
    }
    return correlation.correlations(table, dict(list(centres.items())[:MAX_CORR]))


def _exact(
    eng: engine.Engine, con: Any, table: pa.Table, profiles: list[ColumnProfile]
) -> tuple[list[list[str]], int | None, list[tuple[str, str, str]]]:
    """Exact checks: keys among likely-unique columns, duplicate rows, repeated columns."""
    q = engine.quote_ident
    rows = table.num_rows
    usable = [c for c in profiles if c.kind != "other" and c.distinct is not None]
    if rows == 0 or not usable:
        return [], 0 if rows == 0 else None, []
    likely = [c for c in usable if c.nulls == 0 and (c.distinct or 0) >= _likely_unique(c) * rows]
    hashed = 0
    for c in likely:
        work.check()
        if (c.distinct_exact and c.distinct == rows) or _strictly_increasing(table.column(c.name)):
            c.distinct, c.distinct_exact = rows, True  # a sorted id column needs no hashing
        elif hashed < MAX_KEY_CHECKS:
            c.distinct, c.distinct_exact = _distinct_hashes(eng, con, q(c.name), rows), True
            hashed += 1
    keys = [[c.name] for c in likely if c.distinct == rows]
    # Pairs of high-cardinality columns, when no single column can be a key.
    by_card = sorted((c for c in usable if c.nulls == 0), key=lambda c: -(c.distinct or 0))[:4]
    pairs = [] if likely else [(a, b) for a, b in combinations(by_card, 2) if (a.distinct or 0) > 1][:3]
    for a, b in pairs:
        work.check()
        if _distinct_hashes(eng, con, f"{q(a.name)}, {q(b.name)}", rows) == rows:
            keys.append([a.name, b.name])
    # Columns that may repeat each other: same nulls and (approximately) the same distinct count.
    similar = [
        (a, b)
        for a, b in combinations(usable, 2)
        if a.nulls == b.nulls and _close(a.distinct or 0, b.distinct or 0) and (a.distinct or 0) > 1
    ][:10]
    exprs: dict[str, str] = {}
    for a, b in similar:
        if a.kind == b.kind:
            differ = f"{q(a.name)} IS DISTINCT FROM {q(b.name)}"
            exprs[f"e:{a.name}\x00{b.name}"] = f"count(*) FILTER (WHERE {differ})"
        most = max(a.distinct or 0, b.distinct or 0)
        # Nearly unique columns map one-to-one trivially (each row its own value): not a finding.
        # Few values each, so these hash tables stay small.
        if most <= ONE_TO_ONE_MAX and most <= (rows - a.nulls) / 2:
            exprs[f"m:{a.name}\x00{b.name}"] = (
                f"count(DISTINCT ({q(a.name)}, {q(b.name)})) - greatest(count(DISTINCT {q(a.name)}), "
                f"count(DISTINCT {q(b.name)}))"
            )
    got = _run(eng, con, exprs) if exprs else {}
    dup_rows: int | None = 0  # a unique, non-null column: no two rows can be equal
    if not (keys and len(keys[0]) == 1):
        work.check()
        everything = ", ".join(q(n) for n in table.schema.names)
        dup_rows = rows - _distinct_hashes(eng, con, everything, rows)
    dup_cols: list[tuple[str, str, str]] = []
    for a, b in similar:
        if got.get(f"e:{a.name}\x00{b.name}") == 0:
            dup_cols.append((b.name, a.name, "equal"))
        elif got.get(f"m:{a.name}\x00{b.name}") == 0:
            dup_cols.append((b.name, a.name, "one-to-one"))
    return keys, dup_rows, dup_cols


def _likely_unique(c: ColumnProfile) -> float:
    """The share of distinct values from which a column is checked as a key: an approximate
    count (HyperLogLog) was 4.7% under for 2M unique ids, and a key missed is a key not found."""
    return 0.97 if c.distinct_exact else 0.9


def _distinct_hashes(eng: engine.Engine, con: Any, values: str, rows: int) -> int:
    """Distinct rows of `values` (SQL expressions over t), counted by a 64-bit hash of each row.

    The hashes stream into one array, sorted in place: 8 bytes a row, where DuckDB's
    count(DISTINCT ...) built a hash table of ~60 bytes a row (most of the profile's peak
    memory) and took 3-4x longer. Two values colliding has odds ~1e-6 in 5M rows; it could
    only hide a key or a duplicate, never invent one.
    """
    import numpy as np

    hashes = np.empty(rows, dtype=np.uint64)
    n = 0
    with engine.translated(memory_limit=eng.memory_limit):
        for batch in con.sql(f"SELECT hash({values}) FROM t").to_arrow_reader(profile_column.SLICE):
            part = batch.column(0).to_numpy()
            hashes[n : n + len(part)] = part
            n += len(part)
    hashes = hashes[:n]
    if not n:
        return 0
    hashes.sort()
    return int(np.count_nonzero(hashes[1:] != hashes[:-1])) + 1


def _strictly_increasing(col: pa.ChunkedArray) -> bool:
    """Each value above the one before (no nulls, no NaN): then the column is unique, in one pass."""
    t = col.type
    if not ((is_numeric(t) and not pa.types.is_decimal(t)) or pa.types.is_temporal(t)) or col.null_count:
        return False
    previous = None
    for chunk in (c for part in slices(col) for c in part.chunks):  # slices: the casts and
        if not len(chunk):  # differences below stay a few MB however long a chunk is
            continue
        if pa.types.is_temporal(chunk.type):
            chunk = chunk.view(pa.int32() if chunk.type.bit_width == 32 else pa.int64())
        # uint64 as floats (those past 2**63 fit no int64): rounding keeps order, so floats that
        # increase mean integers that do; equal neighbours only send the column to the hash check.
        floats = pa.types.is_floating(chunk.type) or pa.types.is_uint64(chunk.type)
        values = pc.cast(chunk, pa.float64() if floats else pa.int64(), safe=not floats)
        if previous is not None and not values[0].as_py() > previous:
            return False
        if len(values) > 1:
            smallest = pc.min(pc.pairwise_diff(values)).as_py()
            if smallest is None or not smallest > 0:  # NaN differences make no order
                return False
        previous = values[-1].as_py()
    return True


def _close(a: int, b: int) -> bool:
    return a == b or abs(a - b) <= 0.03 * max(a, b)


def _run(eng: engine.Engine, con: Any, exprs: dict[str, str]) -> dict[str, Any]:
    """The repeated-column checks, one scan for all of them."""
    sql = "SELECT " + ", ".join(f"{e} AS c{i}" for i, e in enumerate(exprs.values())) + " FROM t"
    row = eng.run(con, sql).to_pylist()[0]
    return {label: row[f"c{i}"] for i, label in enumerate(exprs)}
