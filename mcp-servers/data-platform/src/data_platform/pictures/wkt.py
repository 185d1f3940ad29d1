"""Geometry text (WKT/EWKT or GeoJSON) to GeoJSON geometries, simplified to a drawing's pixels.

The parser walks the text once by index (no slicing of the rest: a 2.7 MB borough map parsed in
quadratic time took seconds) and reads each ring's numbers in one split. A ring's coordinates are
first kept as two flat lists (`Run`), so the extent of every shape is known before any vertex is
kept; `finish` then drops the vertices the picture cannot show (TOLERANCE_PX) and rings smaller
than a pixel. What is kept is the data's own coordinates, never moved.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

_KIND = re.compile(r"\s*([A-Za-z]+)\s*(?:ZM|Z|M)?\s*", re.IGNORECASE)
_NAMES = {"POINT": "Point", "LINESTRING": "LineString", "POLYGON": "Polygon", "MULTIPOINT": "MultiPoint",
          "MULTILINESTRING": "MultiLineString", "MULTIPOLYGON": "MultiPolygon"}  # fmt: skip


@dataclass
class Run:
    """The vertices of one ring, line or point set, as flat x and y lists."""

    xs: list[float]
    ys: list[float]


# Vertices are dropped while the outline drawn stays within this many pixels of every vertex of
# the data: within a quarter-pixel cell of the vertex kept before (at most 0.35 px), then within
# half a pixel of the line through the vertices kept around them (Douglas-Peucker): 0.85 px.
TOLERANCE_PX = 0.5


@dataclass
class Grid:
    """One pixel of the picture as (dx, dy) in the data's units."""

    dx: float
    dy: float


def parse(text: str) -> dict[str, Any] | None:
    """A geometry whose innermost coordinate lists are `Run`s; None when the text is neither."""
    s = text.strip()
    if s.startswith("{"):
        try:
            g = json.loads(s)
        except ValueError:
            return None
        if not isinstance(g, dict) or "type" not in g:
            return None
        try:
            return _runs_of(g)
        except (TypeError, IndexError, KeyError, ValueError):
            return None
    if s[:5].upper() == "SRID=":
        s = s.split(";", 1)[-1]
    try:
        geom, end = _wkt(s, 0)
    except (ValueError, IndexError):
        return None
    return geom if not s[end:].strip() else None


def _wkt(s: str, i: int) -> tuple[dict[str, Any], int]:
    m = _KIND.match(s, i)
    if not m:
        raise ValueError(s[i : i + 20])
    kind, i = m.group(1).upper(), m.end()
    if s[i : i + 5].upper() == "EMPTY":
        raise ValueError("empty")
    if kind == "GEOMETRYCOLLECTION":
        i = _expect(s, i, "(")
        parts = []
        while True:
            g, i = _wkt(s, i)
            parts.append(g)
            i = _skip(s, i)
            if s[i] == ",":
                i += 1
                continue
            return {"type": "GeometryCollection", "geometries": parts}, _expect(s, i, ")")
    if kind not in _NAMES:
        raise ValueError(kind)
    coords, i = _nested(s, i)
    if kind == "POINT":
        if not isinstance(coords, Run) or len(coords.xs) != 1:
            raise ValueError("point")
    elif kind == "MULTIPOINT" and isinstance(coords, list):  # MULTIPOINT((1 2),(3 4))
        coords = Run([r.xs[0] for r in coords], [r.ys[0] for r in coords])
    return {"type": _NAMES[kind], "coordinates": coords}, i


def _skip(s: str, i: int) -> int:
    while s[i] in " \t\r\n":
        i += 1
    return i


def _expect(s: str, i: int, char: str) -> int:
    i = _skip(s, i)
    if s[i] != char:
        raise ValueError(s[i : i + 20])
    return i + 1


def _nested(s: str, i: int) -> tuple[Run | list[Any], int]:
    """'( ... )' from index i: a Run for a list of vertices, else a list of nested parts."""
    i = _expect(s, i, "(")
    if _skip(s, i) < len(s) and s[_skip(s, i)] == "(":
        items: list[Any] = []
        while True:
            inner, i = _nested(s, i)
            items.append(inner)
            i = _skip(s, i)
            if s[i] == ",":
                i += 1
                continue
            return items, _expect(s, i, ")")
    close = s.find(")", i)
    if close < 0:
        raise ValueError("unclosed")
    text = s[i:close]
    if "(" in text:
        raise ValueError(text[:20])
    first = text.split(",", 1)[0].split()
    dims = len(first)
    values = text.replace(",", " ").split()
    if dims < 2 or len(values) % dims or len(values) != dims * (text.count(",") + 1):
        raise ValueError(text[:20])
    numbers = [float(v) for v in values]
    return Run(numbers[0::dims], numbers[1::dims]), close + 1


def _runs_of(g: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON geometry with its vertex lists as Runs (the same shape as parsed WKT)."""
    t = g["type"]
    if t == "GeometryCollection":
        return {"type": t, "geometries": [_runs_of(p) for p in g.get("geometries", [])]}
    depth = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2,
             "MultiPolygon": 3}[t]  # fmt: skip
    coords = g["coordinates"]
    if depth == 0:
        return {"type": t, "coordinates": Run([float(coords[0])], [float(coords[1])])}

    def to_run(c: Any, level: int) -> Any:
        if level == 1:
            return Run([float(p[0]) for p in c], [float(p[1]) for p in c])
        return [to_run(part, level - 1) for part in c]

    return {"type": t, "coordinates": to_run(coords, depth)}


def runs(g: dict[str, Any]) -> list[Run]:
    """Every Run of a parsed geometry."""
    if g["type"] == "GeometryCollection":
        return [r for p in g["geometries"] for r in runs(p)]
    out: list[Run] = []

    def walk(c: Any) -> None:
        if isinstance(c, Run):
            out.append(c)
        else:
            for part in c:
                walk(part)

    walk(g["coordinates"])
    return out


def extent(geoms: list[dict[str, Any]]) -> tuple[float, float, float, float] | None:
    """(xmin, ymin, xmax, ymax) over parsed geometries; None when they hold no vertex."""
    all_runs = [r for g in geoms for r in runs(g) if r.xs]
    if not all_runs:
        return None
    return (
        min(min(r.xs) for r in all_runs),
        min(min(r.ys) for r in all_runs),
        max(max(r.xs) for r in all_runs),
        max(max(r.ys) for r in all_runs),
    )


def grid_for(box: tuple[float, float, float, float], size: tuple[int, int], mercator: bool) -> Grid:
    """A pixel's size in the data's units, for shapes of extent `box` fitted into `size` pixels."""
    xmin, ymin, xmax, ymax = box
    width, height = size
    if mercator:  # d3's Mercator: x = longitude, y = ln(tan(pi/4 + latitude/2)), in radians
        lat = [math.radians(max(-85.0, min(85.0, v))) for v in (ymin, ymax)]
        span_x = math.radians(xmax - xmin)
        span_y = abs(
            math.log(math.tan(math.pi / 4 + lat[1] / 2)) - math.log(math.tan(math.pi / 4 + lat[0] / 2))
        )
        scale = min(width / span_x if span_x else math.inf, height / span_y if span_y else math.inf)
        if not math.isfinite(scale):
            return Grid(0.0, 0.0)
        step = math.degrees(1 / scale)
        # A degree of latitude is drawn 1/cos(latitude) taller: the cell is smallest nearest a pole.
        return Grid(step, step * math.cos(max(abs(lat[0]), abs(lat[1]))))
    span_x, span_y = xmax - xmin, ymax - ymin
    scale = min(width / span_x if span_x else math.inf, height / span_y if span_y else math.inf)
    if not math.isfinite(scale):
        return Grid(0.0, 0.0)
    return Grid(1 / scale, 1 / scale)


def finish(g: dict[str, Any], grid: Grid | None) -> dict[str, Any] | None:
    """The GeoJSON geometry, its vertices thinned to `grid`'s pixels (None: all kept); None if
    nothing is left bigger than a pixel (a shape smaller than one keeps its outline, unthinned)."""
    t = g["type"]
    if t == "GeometryCollection":
        parts = [p for p in (finish(p, grid) for p in g["geometries"]) if p is not None]
        return {"type": t, "geometries": parts} if parts else None
    c = g["coordinates"]
    if t == "Point":
        return {"type": t, "coordinates": [c.xs[0], c.ys[0]]}
    if t == "MultiPoint":
        return {"type": t, "coordinates": _pairs(c, None, 1)}
    if t == "LineString":
        line = _pairs(c, grid, 2)
        return {"type": t, "coordinates": line or _pairs(c, None, 2)}
    if t == "MultiLineString":
        lines = [p for p in (_pairs(r, grid, 2) for r in c) if p]
        return {"type": t, "coordinates": lines or [_pairs(c[0], None, 2)]} if c else None
    if t == "Polygon":
        poly = _polygon(c, grid)
        return {"type": t, "coordinates": poly or _polygon(c[:1], None)} if c else None
    polys = [p for p in (_polygon(rings, grid) for rings in c) if p]
    if not polys and c:
        polys = [_polygon(c[0][:1], None)]
    return {"type": t, "coordinates": polys} if polys else None


def _polygon(rings: list[Run], grid: Grid | None) -> list[list[list[float]]]:
    """Exterior and holes thinned; empty when the exterior is smaller than a pixel."""
    out = []
    for i, ring in enumerate(rings):
        kept = _pairs(ring, grid, 4, closed=True)
        if not kept:
            if i == 0:
                return []
            continue  # a hole smaller than a pixel
        out.append(kept)
    return out


def _pairs(run: Run, grid: Grid | None, least: int, closed: bool = False) -> list[list[float]]:
    """[x, y] pairs thinned within TOLERANCE_PX; [] when fewer than `least` are left."""
    xs, ys = run.xs, run.ys
    if grid is None or grid.dx <= 0 or grid.dy <= 0 or len(xs) <= least:
        return [[x, y] for x, y in zip(xs, ys, strict=True)]
    dx, dy = grid.dx * TOLERANCE_PX / 2, grid.dy * TOLERANCE_PX / 2  # quarter-pixel cells
    out: list[list[float]] = []
    last = None
    for x, y in zip(xs, ys, strict=True):
        cell = (math.floor(x / dx), math.floor(y / dy))
        if cell != last:
            out.append([x, y])
            last = cell
    if closed:
        if out[-1] != [xs[-1], ys[-1]]:  # the closing vertex shared its cell with the one before
            out.append([xs[-1], ys[-1]])
        if len(out) > 1 and out[-1] == out[-2]:
            out.pop()
        if out[0] != out[-1]:
            out.append(list(out[0]))
    elif out[-1] != [xs[-1], ys[-1]]:
        out.append([xs[-1], ys[-1]])  # a line ends where the data ends
    if len(out) > least:
        out = _peucker(out, 1 / (grid.dx * TOLERANCE_PX), 1 / (grid.dy * TOLERANCE_PX))
    return out if len(out) >= least else []


def _peucker(pts: list[list[float]], sx: float, sy: float) -> list[list[float]]:
    """Douglas-Peucker in units of the tolerance (x*sx, y*sy): drop the vertices within one unit
    of the line through the vertices kept around them. The ends are kept (a ring stays closed)."""
    xs = [p[0] * sx for p in pts]
    ys = [p[1] * sy for p in pts]
    keep = [False] * len(pts)
    keep[0] = keep[-1] = True
    if xs[0] == xs[-1] and ys[0] == ys[-1] and len(pts) > 3:  # a ring: split at its farthest vertex
        far = max(range(1, len(pts) - 1), key=lambda i: (xs[i] - xs[0]) ** 2 + (ys[i] - ys[0]) ** 2)
        keep[far] = True
        stack = [(0, far), (far, len(pts) - 1)]
    else:
        stack = [(0, len(pts) - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        ax, ay = xs[a], ys[a]
        ux, uy = xs[b] - ax, ys[b] - ay
        norm = ux * ux + uy * uy or 1.0
        best, worst = -1, 1.0  # squared distance of one unit: closer is dropped
        for i in range(a + 1, b):
            px, py = xs[i] - ax, ys[i] - ay
            t = (px * ux + py * uy) / norm  # to the segment, not the line: what is drawn
            t = 0.0 if t < 0 else 1.0 if t > 1 else t
            px, py = px - t * ux, py - t * uy
            d = px * px + py * py
            if d > worst:
                best, worst = i, d
        if best > 0:
            keep[best] = True
            stack.append((a, best))
            stack.append((best, b))
    return [p for p, k in zip(pts, keep, strict=True) if k]
