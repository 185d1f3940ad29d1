"""groupby: our `{out: "func(col)"}` form and pandas' forms (aggspec.py), on Acero or the sandbox.

Acero is the fastest here (bench/bench_frames.py); DuckDB takes what Acero lacks
(median, types it cannot aggregate).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from data_platform.errors import InputError
from data_platform.frames import engine
from data_platform.frames.aggspec import parse_aggs
from data_platform.frames.ops import OpResult, Output, column, narrow_hugeints, sort_nulls_last, store
from data_platform.registry import Registry

_ARROW_AGG = {
    "sum": "sum",
    "mean": "mean",
    "min": "min",
    "max": "max",
    "count_distinct": "count_distinct",
    "first": "first",
    "last": "last",
}
_SQL_AGG = {
    "sum": "sum({c})",
    "mean": "avg({c})",
    "min": "min({c})",
    "max": "max({c})",
    "count": "count({c})",
    "size": "count(*)",
    "count_distinct": "count(DISTINCT {c})",
    "median": "median({c})",
    "std": "stddev_samp({c})",
    "var": "var_samp({c})",
    "first": "arg_min({c}, __row)",
    "last": "arg_max({c}, __row)",
}


def groupby(
    registry: Registry,
    ref: str,
    by: Sequence[str],
    aggs: Mapping[str, object],
    out: Output,
    *,
    sandbox: engine.Engine | None = None,
) -> OpResult:
    """Group by key columns; aggs in our form or pandas' (frames/aggspec.py), told back in notes."""
    info = registry.info(ref)
    keys = [column(k, info) for k in by]  # none: the whole table is one group (pandas' df.agg)
    specs, notes = parse_aggs(aggs, info)
    clash = [o for o, _, _ in specs if o in keys]
    if clash:
        raise InputError(
            f"Output name {clash[0]!r} is also a group key; choose another name.",
            hint=f'e.g. {{"n_{clash[0]}": ["{clash[0]}", "count"]}}.',
        )
    table = registry.get(ref)
    if all(f != "median" for _, f, _ in specs):
        try:
            result = _groupby_arrow(table, keys, specs)
        except (pa.ArrowNotImplementedError, pa.ArrowTypeError):
            result = _groupby_duckdb(table, keys, specs, sandbox)
    else:
        result = _groupby_duckdb(table, keys, specs, sandbox)
    if keys:
        result = sort_nulls_last(result, [(k, "ascending") for k in keys])
    base = f"{ref}_by_{'_'.join(keys)}" if keys else f"{ref}_totals"
    res = store(registry, result, out, base[:48], f"groupby {ref} by {', '.join(keys) or '(whole table)'}")
    res.notes.extend(
        [*notes, f"{result.num_rows:,} groups." if keys else "No key: the whole table as one group."]
    )
    return res


def _groupby_arrow(table: pa.Table, keys: list[str], specs: list[tuple[str, str, str | None]]) -> pa.Table:
    ordered = any(f in ("first", "last") for _, f, _ in specs)
    aggregations: list[tuple] = []
    for _, func, col in specs:
        if col is None:
            aggregations.append(([], "count_all"))
        elif func == "std":
            aggregations.append((col, "stddev", pc.VarianceOptions(ddof=1)))
        elif func == "var":
            aggregations.append((col, "variance", pc.VarianceOptions(ddof=1)))
        elif func == "count":
            aggregations.append((col, "count", pc.CountOptions(mode="only_valid")))
        else:
            aggregations.append((col, _ARROW_AGG[func]))
    needed = sorted({c for _, _, c in specs if c} | set(keys), key=table.column_names.index)
    result = table.select(needed).group_by(keys, use_threads=not ordered).aggregate(aggregations)
    # Acero names outputs "<col>_<func>" after the keys' position; rebuild in our order.
    agg_cols = result.columns[: len(specs)] if result.column_names[0] not in keys else None
    if agg_cols is None:
        agg_cols = result.columns[len(keys) :]
        key_cols = result.columns[: len(keys)]
    else:
        key_cols = [result.column(k) for k in keys]
    return pa.table(list(key_cols) + list(agg_cols), names=keys + [o for o, _, _ in specs])


def _groupby_duckdb(
    table: pa.Table, keys: list[str], specs: list[tuple[str, str, str | None]], sandbox: engine.Engine | None
) -> pa.Table:
    if any(f in ("first", "last") for _, f, _ in specs):
        table = table.append_column("__row", pa.array(range(table.num_rows), type=pa.int64()))
    q = engine.quote_ident
    select = [q(k) for k in keys] + [
        (_SQL_AGG[f].format(c=q(c)) if c else "count(*)") + f" AS {q(o)}" for o, f, c in specs
    ]
    group = f" GROUP BY {', '.join(q(k) for k in keys)}" if keys else ""
    sql_text = f"SELECT {', '.join(select)} FROM t{group}"
    with engine.scoped(sandbox) as eng, eng.over({"t": table}) as con:
        return narrow_hugeints(eng.run(con, sql_text))
