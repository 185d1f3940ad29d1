"""Vega-Lite specs for each chart kind, over data the engine already aggregated (small, inline).

Fields in the data are short fixed names (x, y, v, c, lo, hi...) so a column called anything
(dots, brackets, quotes) cannot break a field reference; the axis titles carry the real names.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

WIDTH, HEIGHT = 640, 360
BLUE = "#4c78a8"


def dumps(spec: dict[str, Any]) -> bytes:
    """The spec as a person opens it: indented, unless it is big (a map's shapes), where
    indenting costs seconds (pure-Python encoder) and a line per number helps nobody."""
    compact = json.dumps(spec, ensure_ascii=False, default=str, separators=(",", ":"))
    if len(compact) > 100_000:
        return compact.encode("utf-8")
    return json.dumps(spec, indent=1, ensure_ascii=False, default=str).encode("utf-8")


def epoch_iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None).isoformat()


def _base(data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"width": WIDTH, "height": HEIGHT, "data": {"values": data}}


def _color(color: str | None, field: str = "c", ctype: str = "nominal") -> dict[str, Any]:
    return {"color": {"field": field, "type": ctype, "title": color}} if color else {}


def bar(
    data: list[dict[str, Any]],
    x: str,
    value: str,
    color: str | None,
    stacked: bool = True,
    ordered: bool = False,
) -> dict[str, Any]:
    """Coloured bars stack only when their values add up (counts, sums); else they stand side by side.
    `ordered` (x a number or a date): bars in x's order, as a reader of months or years expects;
    else the tallest first."""
    side = {} if stacked or not color else {"xOffset": {"field": "c", "type": "nominal"}}
    return {
        **_base(data),
        "mark": {"type": "bar", "color": BLUE} if not color else "bar",
        "encoding": {
            "x": {
                "field": "x",
                "type": "nominal",
                "title": x,
                "sort": "ascending" if ordered else "-y",
                "axis": {"labelLimit": 160},
            },
            "y": {"field": "v", "type": "quantitative", "title": value, "stack": "zero" if stacked else None},
            **_color(color),
            **side,
        },
    }


def line(
    data: list[dict[str, Any]], x: str, xtype: str, value: str, color: str | None, band: bool = False
) -> dict[str, Any]:
    """A line through the values; with `band`, each binned step's min-max range drawn under it."""
    xenc = {"field": "x", "type": "nominal" if xtype == "nominal" else xtype, "title": x}
    y = {"field": "v", "type": "quantitative", "title": value, "scale": {"zero": False}}
    mark = {"type": "line", "point": len(data) <= 60}
    if not band:
        # padding: the points at the ends of x sit on the plot's edges (half cut off without it)
        return {**_base(data), "padding": 12, "mark": mark, "encoding": {"x": xenc, "y": y, **_color(color)}}
    area = {"y": {**y, "field": "lo"}, "y2": {"field": "hi"}, **_color(color)}
    return {
        **_base(data),
        "encoding": {"x": xenc},
        "layer": [
            {
                "mark": {"type": "area", "opacity": 0.3, **({} if color else {"color": BLUE})},
                "encoding": area,
            },
            {"mark": mark, "encoding": {"y": y, **_color(color)}},
        ],
    }


def scatter(
    data: list[dict[str, Any]], x: str, xtype: str, y: str, ytype: str, color: str | None, ctype: str
) -> dict[str, Any]:
    size = 8 if len(data) > 1000 else 30
    # No ARIA label per point (`x: 3; y: 41.5` for up to 5,000 points): the SVG shrinks by a third
    # and is made ~40% faster; the picture is the same pixels.
    return {
        **_base(data),
        "mark": {"type": "circle", "size": size, "opacity": 0.6, "aria": False},
        "encoding": {
            "x": {"field": "x", "type": xtype, "title": x, "scale": {"zero": False}},
            "y": {"field": "y", "type": ytype, "title": y, "scale": {"zero": False}},
            **_color(color, "c", ctype),
        },
    }


def histogram(data: list[dict[str, Any]], x: str, xtype: str, color: str | None) -> dict[str, Any]:
    return {
        **_base(data),
        # vertical: bars rise from zero (a ranged x alone would make Vega-Lite draw them sideways)
        "mark": {"type": "bar", "binSpacing": 0, "orient": "vertical", **({} if color else {"color": BLUE})},
        "encoding": {
            "x": {"field": "lo", "type": xtype, "title": x},
            "x2": {"field": "hi"},
            "y": {"field": "n", "type": "quantitative", "title": "rows", "stack": "zero"},
            **_color(color),
        },
    }


def box(data: list[dict[str, Any]], x: str | None, y: str) -> dict[str, Any]:
    xenc = {"x": {"field": "g", "type": "nominal", "title": x or ""}}
    yscale = {"type": "quantitative", "title": y, "scale": {"zero": False}}
    return {
        **_base(data),
        "encoding": xenc,
        "layer": [
            {"mark": {"type": "rule"}, "encoding": {"y": {"field": "lo", **yscale}, "y2": {"field": "hi"}}},
            {
                "mark": {"type": "bar", "size": 28, "color": BLUE},
                "encoding": {"y": {"field": "q1", **yscale}, "y2": {"field": "q3"}},
            },
            {
                "mark": {"type": "tick", "color": "white", "size": 28, "thickness": 2},
                "encoding": {"y": {"field": "median", **yscale}},
            },
        ],
    }


def heatmap(
    data: list[dict[str, Any]],
    x: str,
    xaxis: tuple[str, float | None],
    y: str,
    yaxis: tuple[str, float | None],
    value: str,
) -> dict[str, Any]:
    def axis(field: str, title: str, kind: tuple[str, float | None]) -> dict[str, Any]:
        if kind[0] in ("nominal", "ordinal"):
            return {"field": field, "type": kind[0], "title": title}
        # Binned numeric or temporal axis: ordinal cells labelled by their start.
        return {"field": field, "type": "ordinal", "title": title, "axis": {"labelOverlap": "greedy"}}

    return {
        **_base(data),
        "mark": "rect",
        "encoding": {
            "x": axis("x", x, xaxis),
            "y": {**axis("y", y, yaxis), "sort": "descending"},
            "color": {"field": "v", "type": "quantitative", "title": value, "scale": {"scheme": "viridis"}},
        },
    }


def geoshape(
    features: list[dict[str, Any]], projection: dict[str, Any], color: str | None, ctype: str
) -> dict[str, Any]:
    enc: dict[str, Any] = {}
    if color:
        enc["color"] = {"field": "properties.v", "type": ctype, "title": color}
    collection = {"type": "FeatureCollection", "features": features}
    fill = {} if color else {"fill": BLUE}
    return {
        "width": WIDTH,
        "height": 480,
        "data": {"values": collection, "format": {"property": "features"}},
        "projection": projection,
        "mark": {"type": "geoshape", "stroke": "white", "strokeWidth": 0.5, **fill},
        "encoding": enc,
    }
