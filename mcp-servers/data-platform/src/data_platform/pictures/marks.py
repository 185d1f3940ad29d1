"""What each chart kind draws: the engine query over the ref and the Vega-Lite spec of its marks.

Each `_<kind>(eng, con, schema, req, rows)` returns (marks drawn, spec, notes, what is drawn):
a bar is a GROUP BY, a line keeps every point or bins them to a mean with a min-max band, a
scatter is a reservoir sample, a histogram or heatmap counts per bin, a box is quartiles and
whiskers per group. The chart call (chart.py) resolves the request and saves the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from data_platform.errors import InputError
from data_platform.frames import engine
from data_platform.frames.types import is_numeric
from data_platform.pictures import specs
from data_platform.render import jsonable

AGGS = {"sum": "sum", "mean": "avg", "avg": "avg", "average": "avg", "count": "count", "min": "min",
        "max": "max", "median": "median", "size": "count"}  # fmt: skip
AGG_HINT = "Use agg= mean, sum, count, median, min or max (or y='mean(amount)')."
MAX_POINTS = 5_000
MAX_CATEGORIES = 30
# A line keeps every point up to this many (a 1,280-pixel-wide PNG still shows each one's
# extremes); beyond it the x range is cut into LINE_BINS bins, each drawn as its mean with
# a min-max band, so peaks and dips survive. Never a sum of neighbouring points.
MAX_LINE_POINTS = 5_000
LINE_BINS = 1_000
DEFAULT_BINS = 30


@dataclass
class Request:
    kind: str
    x: str | None
    y: str | None
    color: str | None
    agg: str | None
    bins: int | None
    title: str | None


def _need(req: Request, *args: str) -> None:
    missing = [a for a in args if getattr(req, a) is None]
    if missing:
        what = {"x": "x (a column)", "y": "y (a numeric column)"}
        raise InputError(
            f"A {req.kind} chart needs {' and '.join(what.get(m, m) for m in missing)}.",
            hint="e.g. chart(data_ref, kind='bar', x='region', y='amount', agg='sum').",
        )


def _agg(req: Request, default: str) -> tuple[str, str]:
    """(SQL function, the word shown) for req.agg, or the default."""
    word = (req.agg or default).lower()
    if word not in AGGS:
        raise InputError(f"agg={req.agg!r} is not known.", hint=AGG_HINT)
    return AGGS[word], "mean" if AGGS[word] == "avg" else AGGS[word]


def _vtype(t: pa.DataType) -> str:
    if pa.types.is_temporal(t):
        return "temporal"
    return "quantitative" if is_numeric(t) else "nominal"


def _rows(tb: pa.Table) -> list[dict[str, Any]]:
    return [{k: jsonable(v) for k, v in row.items()} for row in tb.to_pylist()]


@dataclass
class Value:
    """What each mark of a bar or line shows, and how the axis, title and answer name it."""

    sql: str  # the SQL value per group of rows sharing the keys
    label: str  # `temp_max` when drawn as is, `mean(temp_max)` when aggregated, `rows` when counted
    agg: str | None  # None: one row per key, values drawn as they are
    note: str
    points: int  # groups (marks before any binning)


def _value(eng: engine.Engine, con: Any, schema: pa.Schema, req: Request, keys: list[str]) -> Value:
    """One row per key: the value as it is. Several: the aggregate asked for, else one that fits.

    The fitting default is the mean for a numeric y (a temperature, a price or a balance
    does not add up) and a count of rows otherwise; sum is drawn only when asked for:
    whether a column is additive is not guessed from its name or type.
    """
    q = engine.quote_ident
    per = " and ".join(keys)
    by = ", ".join(q(k) for k in keys)
    groups_sql = f"SELECT count(*) AS k FROM t WHERE {q(keys[0])} IS NOT NULL GROUP BY {by}"
    sql = f"SELECT max(k), count(*) FROM ({groups_sql})"
    most, groups = eng.run(con, sql).to_pylist()[0].values()
    most = most or 0
    if req.y is None:
        if req.agg and AGGS.get(req.agg.lower()) != "count":
            raise InputError(f"agg={req.agg!r} needs y=<column>.", hint="e.g. y='temp_max', agg='mean'.")
        return Value("count(*)", "rows", "count", f"rows counted per {per}", groups)
    numeric = is_numeric(schema.field(req.y).type)
    fn, word = _agg(req, "mean" if numeric else "count")
    if fn != "count" and not numeric:
        hint = f"Use agg='count' to count rows per {keys[0]}, or a numeric y."
        raise InputError(f"y={req.y!r} is not numeric: {word}({req.y}) cannot be drawn.", hint=hint)
    if most <= 1 and fn != "count":
        note = f"one row per {per}: {req.y} drawn as it is"
        if req.agg:
            note += f" ({word} of one value is the value)"
        return Value(f"any_value({q(req.y)})", req.y, None, note, groups)
    label = f"{word}({req.y})"
    value = f"count({q(req.y)})" if fn == "count" else f"{fn}({q(req.y)})"
    note = f"{label} per {per}: up to {most:,} rows share one {per}"
    if not req.agg:
        note += " (mean by default; agg='sum' for totals, agg='count' for rows)" if numeric else ""
    return Value(value, label, word, note, groups)


def _bar(eng: engine.Engine, con: Any, schema: pa.Schema, req: Request, rows: int) -> tuple:
    _need(req, "x")
    assert req.x is not None  # for the type checker: _need raised otherwise
    q = engine.quote_ident
    val = _value(eng, con, schema, req, [req.x, *([req.color] if req.color else [])])
    c = f", {q(req.color)} AS c" if req.color else ""
    sql = f"""
        WITH g AS (SELECT {q(req.x)} AS x{c}, {val.sql} AS v FROM t GROUP BY ALL),
        r AS (SELECT x, max(abs(v)) AS tot FROM g GROUP BY x),
        k AS (SELECT x FROM r ORDER BY tot DESC NULLS LAST LIMIT {MAX_CATEGORIES})
        SELECT g.*, (SELECT count(*) FROM r) AS n_x FROM g WHERE x IN (SELECT x FROM k)"""
    tb = eng.run(con, sql)
    data = _rows(tb)
    n_x = data[0]["n_x"] if data else 0
    notes = [f"{val.note}; computed in DuckDB over {rows:,} rows"]
    if n_x > MAX_CATEGORIES:
        notes.append(f"top {MAX_CATEGORIES} of {n_x:,} {req.x} values by {val.label}")
    stacked = val.agg in ("count", "sum")  # bars side by side when their values do not add up
    xt = schema.field(req.x).type
    ordered = is_numeric(xt) or pa.types.is_temporal(xt)
    notes.append(f"bars in {req.x} order" if ordered else f"bars sorted by {val.label}, largest first")
    spec = specs.bar(data, req.x, val.label, req.color, stacked, ordered)
    spec["usermeta"] = {"aggregate": val.agg}
    return len(data), spec, notes, f"{val.label} by {req.x}" + (f" and {req.color}" if req.color else "")


def _line(eng: engine.Engine, con: Any, schema: pa.Schema, req: Request, rows: int) -> tuple:
    _need(req, "x")
    assert req.x is not None  # for the type checker: _need raised otherwise
    q = engine.quote_ident
    val = _value(eng, con, schema, req, [req.x, *([req.color] if req.color else [])])
    c, cc = (f", {q(req.color)} AS c", ", c") if req.color else ("", "")
    xt = schema.field(req.x).type
    notes = [f"{val.note}; computed in DuckDB over {rows:,} rows"]
    g = f"SELECT {q(req.x)} AS x{c}, {val.sql} AS v FROM t WHERE {q(req.x)} IS NOT NULL GROUP BY ALL"
    sql, band, label, agg = f"{g} ORDER BY x", False, val.label, val.agg
    if val.points > MAX_LINE_POINTS and (is_numeric(xt) or pa.types.is_temporal(xt)):
        num = _num("x", xt)
        lo, hi = (
            eng.run(con, f"SELECT min({num}), max({num}) FROM ({g}) WHERE isfinite({num})")
            .to_pylist()[0]
            .values()
        )
        if hi is not None and hi > lo:  # finite: literals below
            w = (hi - lo) / LINE_BINS
            step = _from_num(f"(least(floor(({num} - {lo}) / {w}), {LINE_BINS - 1}) * {w} + {lo})", xt)
            sql = f"""SELECT {step} AS x{cc}, avg(v) AS v, min(v) AS lo, max(v) AS hi
                      FROM ({g}) WHERE isfinite({num}) GROUP BY ALL ORDER BY x"""
            band, label = True, f"{val.label}: mean per step, band min to max"
            agg = f"{val.agg} per {req.x}, then " if val.agg else ""
            agg += "mean per step with a min-max band"
            notes.append(
                f"{val.points:,} points binned into {LINE_BINS:,} equal steps of {req.x}: "
                "the line is each step's mean, the band its min to max (peaks kept)"
            )
    data = _rows(eng.run(con, sql))
    spec = specs.line(data, req.x, _vtype(xt), label, req.color, band)
    spec["usermeta"] = {"aggregate": agg}
    drawn = [v for r in data for k in ("v", "lo", "hi") if isinstance(v := r.get(k), int | float)]
    if drawn and (min(drawn) > 0 or max(drawn) < 0):  # the axis is fitted to the values
        notes.append(
            f"the value axis spans {min(drawn):,.6g} to {max(drawn):,.6g}, not from 0: "
            "small changes look large (read the axis, not the height)"
        )
    return (
        len(data),
        spec,
        notes,
        f"{val.label} by {req.x}" + (" (mean per step, band min to max)" if band else ""),
    )


def _num(expr: str, t: pa.DataType) -> str:
    return f"epoch({expr})" if pa.types.is_temporal(t) else f"{expr}::DOUBLE"


def _from_num(expr: str, t: pa.DataType) -> str:
    return f"to_timestamp({expr})" if pa.types.is_temporal(t) else expr


def _scatter(eng: engine.Engine, con: Any, schema: pa.Schema, req: Request, rows: int) -> tuple:
    _need(req, "x", "y")
    assert req.x is not None and req.y is not None  # for the type checker: _need raised otherwise
    q = engine.quote_ident
    c = f", {q(req.color)} AS c" if req.color else ""
    sample = f" USING SAMPLE reservoir({MAX_POINTS} ROWS) REPEATABLE (42)" if rows > MAX_POINTS else ""
    sql = f"SELECT {q(req.x)} AS x, {q(req.y)} AS y{c} FROM t{sample}"
    data = _rows(eng.run(con, sql))
    notes = [f"sampled {len(data):,} of {rows:,} rows in DuckDB (reservoir, seed 42)"] if sample else []
    xt, yt = schema.field(req.x).type, schema.field(req.y).type
    ctype = _vtype(schema.field(req.color).type) if req.color else "nominal"  # a numeric hue: a gradient
    spec = specs.scatter(data, req.x, _vtype(xt), req.y, _vtype(yt), req.color, ctype)
    return len(data), spec, notes, f"{req.y} vs {req.x}"


def _bins(req: Request) -> int:
    n = req.bins or DEFAULT_BINS
    if not 1 <= n <= 200:
        raise InputError(f"bins={n} is out of range.", hint="Use 1 to 200 bins.")
    return n


def _histogram(eng: engine.Engine, con: Any, schema: pa.Schema, req: Request, rows: int) -> tuple:
    _need(req, "x")
    assert req.x is not None  # for the type checker: _need raised otherwise
    xt = schema.field(req.x).type
    if not (is_numeric(xt) or pa.types.is_temporal(xt)):
        bar = Request("bar", req.x, None, req.color, "count", None, req.title)
        data, spec, notes, described = _bar(eng, con, schema, bar, rows)
        return data, spec, [*notes, f"{req.x} is text: counted per value instead of binned"], described
    q = engine.quote_ident
    nb = _bins(req)
    num = _num(q(req.x), xt)
    c = f", {q(req.color)} AS c" if req.color else ""
    sql = f"""
        WITH s AS (SELECT min({num}) AS __dp_lo, max({num}) AS __dp_hi FROM t WHERE isfinite({num}))
        SELECT least(floor(({num} - __dp_lo) / greatest((__dp_hi - __dp_lo) / {nb}, 1e-300)),
                     {nb - 1})::INTEGER AS b{c},
               count(*) AS n, any_value(__dp_lo) AS lo, any_value(__dp_hi) AS hi
        FROM t, s WHERE isfinite({num}) GROUP BY ALL ORDER BY b"""
    tb = _rows(eng.run(con, sql))
    data = []
    for r in tb:
        w = (r["hi"] - r["lo"]) / nb if r["hi"] > r["lo"] else 1.0
        lo, hi = r["lo"] + r["b"] * w, r["lo"] + (r["b"] + 1) * w
        if pa.types.is_temporal(xt):
            lo, hi = specs.epoch_iso(lo), specs.epoch_iso(hi)
        data.append({"lo": lo, "hi": hi, "n": r["n"], **({"c": r["c"]} if req.color else {})})
    notes = [f"binned in DuckDB: {nb} equal-width bins over {rows:,} rows"]
    spec = specs.histogram(data, req.x, _vtype(xt), req.color)
    return len(data), spec, notes, req.x


def _box(eng: engine.Engine, con: Any, schema: pa.Schema, req: Request, rows: int) -> tuple:
    if req.y is None and req.x is not None and is_numeric(schema.field(req.x).type):
        req = Request(req.kind, None, req.x, req.color, req.agg, req.bins, req.title)  # box(x=amount)
    _need(req, "y")
    assert req.y is not None  # for the type checker: _need raised otherwise
    q = engine.quote_ident
    g = q(req.x) if req.x else "'all'"
    # The data's columns are renamed first (d.g, d.y): a column called g, q1 or lf cannot clash.
    sql = f"""
        WITH d AS (SELECT {g} AS g, {q(req.y)}::DOUBLE AS y FROM t WHERE isfinite({q(req.y)}::DOUBLE)),
        top AS (SELECT g FROM d GROUP BY g ORDER BY count(*) DESC LIMIT {MAX_CATEGORIES}),
        s AS (SELECT g, quantile_cont(y, [0.25, 0.5, 0.75]) AS qs FROM d
              WHERE g IN (SELECT g FROM top) GROUP BY g),
        w AS (SELECT g, qs[1] AS q1, qs[2] AS median, qs[3] AS q3,
                     qs[1] - 1.5 * (qs[3] - qs[1]) AS lf, qs[3] + 1.5 * (qs[3] - qs[1]) AS uf FROM s)
        SELECT w.g, any_value(w.q1) AS q1, any_value(w.median) AS median, any_value(w.q3) AS q3,
               min(d.y) FILTER (WHERE d.y >= w.lf) AS lo, max(d.y) FILTER (WHERE d.y <= w.uf) AS hi,
               count(*) AS n, count(*) FILTER (WHERE d.y < w.lf OR d.y > w.uf) AS outliers
        FROM d JOIN w ON d.g = w.g GROUP BY w.g ORDER BY w.g"""
    data = _rows(eng.run(con, sql))
    outliers = sum(r["outliers"] for r in data)
    notes = [f"quartiles and 1.5×IQR whiskers computed in DuckDB over {rows:,} rows"]
    if outliers:
        notes.append(f"{outliers:,} outliers beyond the whiskers, not drawn")
    spec = specs.box(data, req.x, req.y)
    return len(data), spec, notes, f"{req.y}" + (f" by {req.x}" if req.x else "")


def _heatmap(eng: engine.Engine, con: Any, schema: pa.Schema, req: Request, rows: int) -> tuple:
    _need(req, "x", "y")
    assert req.x is not None and req.y is not None  # for the type checker: _need raised otherwise
    q = engine.quote_ident
    nb = _bins(req) if req.bins else 30
    exprs, filters = [], []
    axes: list[tuple[str, float | None]] = []
    for col in (req.x, req.y):
        t = schema.field(col).type
        if is_numeric(t) or pa.types.is_temporal(t):
            num = _num(q(col), t)
            filters.append(f"isfinite({num})")  # NaN and infinities have no cell
            sql = f"SELECT min({num}), max({num}), approx_count_distinct({q(col)}) FROM t WHERE {filters[-1]}"
            lo, hi, distinct = eng.run(con, sql).to_pylist()[0].values()
            if distinct and distinct <= nb:  # few values (small integers): one cell per value
                exprs.append(q(col))
                axes.append(("ordinal", None))
                continue
            w = (hi - lo) / nb if hi is not None and hi > lo else 1.0
            start = f"floor(({_num(q(col), t)} - {lo or 0}) / {w}) * {w} + {lo or 0}"
            exprs.append(_from_num(f"least({start}, {hi or 0})", t))
            axes.append((_vtype(t), w if not pa.types.is_temporal(t) else None))
        else:
            exprs.append(q(col))
            top = f"SELECT {q(col)} FROM t GROUP BY ALL ORDER BY count(*) DESC LIMIT 40"
            filters.append(f"{q(col)} IN ({top})")
            axes.append(("nominal", None))
    if req.color:
        fn, word = _agg(req, "mean")
        value, label = f"{fn}({q(req.color)})", f"{word}({req.color})"
    else:
        value, label = "count(*)", "rows"
    where = " AND ".join([f"{q(req.x)} IS NOT NULL", f"{q(req.y)} IS NOT NULL", *filters])
    sql = f"SELECT {exprs[0]} AS x, {exprs[1]} AS y, {value} AS v FROM t WHERE {where} GROUP BY ALL"
    data = _rows(eng.run(con, sql))
    for r in data:  # bin starts as short labels: 4 significant digits
        for k in ("x", "y"):
            if isinstance(r[k], float):
                r[k] = float(f"{r[k]:.4g}")
    notes = [f"{label} per cell computed in DuckDB over {rows:,} rows"]
    if any(a[0] not in ("nominal", "ordinal") for a in axes):
        notes.append(f"numeric axes binned into {nb} bins")
    if any(a[0] == "nominal" for a in axes):
        notes.append("text axes limited to their 40 most frequent values")
    spec = specs.heatmap(data, req.x, axes[0], req.y, axes[1], label)
    return len(data), spec, notes, f"{label} by {req.x} and {req.y}"


PREPARE = {
    "bar": _bar,
    "line": _line,
    "scatter": _scatter,
    "histogram": _histogram,
    "box": _box,
    "heatmap": _heatmap,
}
