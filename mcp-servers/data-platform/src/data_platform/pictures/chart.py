"""Charts from refs: the engine aggregates, bins or samples first, so only what is drawn travels.

A 5M-row scatter becomes a 5,000-row reservoir sample (said in the notes); a bar chart is a
GROUP BY; a histogram or heatmap is counted per bin in DuckDB; a box plot is quartiles and
whiskers per group. The Vega-Lite spec (with its small inline data) is saved beside the PNG
and SVG, so a person can open, edit or re-render it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_platform import work
from data_platform.errors import InputError
from data_platform.frames import engine
from data_platform.frames.columns import resolve_column
from data_platform.pictures import geo, specs
from data_platform.pictures.files import safe_stem, write_atomic
from data_platform.pictures.marks import AGG_HINT, AGGS, LINE_BINS, PREPARE, Request
from data_platform.pictures.render import Picture, render, warm_up_soon
from data_platform.registry import Registry

__all__ = ["KINDS", "LINE_BINS", "ChartOutput", "Request", "chart"]

KINDS = ("bar", "line", "scatter", "histogram", "box", "heatmap", "map")


@dataclass
class ChartOutput:
    kind: str
    picture: Picture
    paths: dict[str, Path]
    rows: int  # rows of the ref
    drawn: int  # marks drawn (bars, points, bins, shapes)
    notes: list[str] = field(default_factory=list)
    described: str = ""
    title: str = ""  # as drawn: the caller's title, else what is drawn (`mean(temp_max) by date`)
    y_axis: str = ""  # the value axis (a heatmap's or map's colour) as titled in the picture
    aggregate: str | None = None  # None: values drawn as they are


def chart(
    registry: Registry,
    ref: str,
    req: Request,
    out_dir: Path,
    *,
    sandbox: engine.Engine | None = None,
) -> ChartOutput:
    """Draw `req` from `ref`; files go to `out_dir/charts`."""
    warm_up_soon()  # V8 starts (once a process) while the data is read and aggregated
    info = registry.info(ref)  # the ref first: a damaged or missing one matters more than the kind
    table = registry.get(ref)
    kind = _kind(req.kind)
    names = info.schema.names
    agg, y_text = _shorthand(req.y, names, req.agg)
    x = resolve_column(req.x, names, ref) if req.x else None
    y = resolve_column(y_text, names, ref) if y_text else None
    color = resolve_column(req.color, names, ref) if req.color else None
    req = Request(kind, x, y, color, agg, req.bins, req.title)
    work.progress(0, 3, "aggregating")
    if kind == "map":
        version = (str(info.path), info.created, info.size_bytes)  # the map's parsed shapes are kept
        data, spec, notes, described = geo.map_data(table, info.schema, req, key=version)
    else:
        with engine.scoped(sandbox) as eng, eng.over({"t": table}) as con:
            data, spec, notes, described = PREPARE[kind](eng, con, table.schema, req, info.rows)
    work.check()
    work.progress(1, 3, "drawing")
    title = req.title or described
    if title:  # the caller's title keeps what is drawn as its subtitle
        spec["title"] = {"text": req.title, "subtitle": described} if req.title and described else title
    spec.setdefault("background", "white")
    picture = render(spec, scale=2.0)
    work.progress(2, 3, "saving")
    stem = safe_stem(info.name, kind, x or "", y or "", color or "", req.agg or "")
    folder = out_dir / "charts"
    paths = {
        "png": write_atomic(folder / f"{stem}.png", picture.png),
        "svg": write_atomic(folder / f"{stem}.svg", picture.svg.encode("utf-8")),
        "spec": write_atomic(folder / f"{stem}.vl.json", specs.dumps(picture.spec)),
    }
    axis = _value_axis(spec)
    if "aggregate" in spec.get("usermeta", {}):
        aggregate = spec["usermeta"]["aggregate"]
    else:
        fn = re.match(r"(\w+)\(", axis)
        aggregate = fn.group(1) if fn else "count" if axis == "rows" else None
    return ChartOutput(kind, picture, paths, info.rows, data, notes, described, title, axis, aggregate)


def _value_axis(spec: dict[str, Any]) -> str:
    """The title of what the marks' values mean: the y axis, or the colour of a heatmap or map."""
    enc = spec.get("encoding", {})
    mark = spec.get("mark")
    if (mark.get("type") if isinstance(mark, dict) else mark) in ("rect", "geoshape"):
        return str(enc.get("color", {}).get("title") or "")
    for layer in [spec, *spec.get("layer", [])[::-1]]:
        y = layer.get("encoding", {}).get("y")
        if y and y.get("title"):
            return str(y["title"])
    return ""


def _shorthand(y: str | None, names: list[str], agg: str | None) -> tuple[str | None, str | None]:
    """Vega-Lite's `sum(amount)` (and `count()`) as (agg, column); a real column name wins."""
    if y is None or y in names:
        return agg, y
    m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z_0-9]*)\s*\((.*)\)\s*", y)
    if not m:
        return agg, y
    fn, inner = m.group(1).lower(), m.group(2).strip().strip("\"'`")
    if fn not in AGGS and (inner in names or not inner):
        raise InputError(f"agg={m.group(1)!r} is not known.", hint=AGG_HINT)
    if fn in AGGS and agg and agg.lower() in AGGS and AGGS[agg.lower()] != AGGS[fn]:
        raise InputError(
            f"y={y!r} and agg={agg!r} ask for two aggregates.", hint="Send one: agg= or y='fn(col)'."
        )
    return (fn, inner or None) if fn in AGGS else (agg, y)


def _kind(kind: str) -> str:
    k = (kind or "").strip().lower()
    k = {"hist": "histogram", "boxplot": "box", "points": "scatter", "point": "scatter", "column": "bar",
         "barh": "bar", "area": "line", "density_heatmap": "heatmap", "choropleth": "map",
         "geo": "map", "geoshape": "map"}.get(k, k)  # fmt: skip
    if k not in KINDS:
        hint = f"Use one of: {', '.join(KINDS)}."
        raise InputError(f"kind={kind!r} is not a chart this tool draws.", hint=hint)
    return k
