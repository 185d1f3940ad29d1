"""Maps: geometries of a ref (WKT or GeoJSON text, as pg_query returns PostGIS columns) as shapes.

No tiles or basemaps: only the shapes are drawn, coloured by a column with a legend. The
projection follows the SRID the ref's metadata notes (pg_query writes it): longitude/latitude
(4326 and kin, or SRID 0 with coordinates in range) get Mercator fitted to the shapes; any
projected SRID (metres: 3857, UTM...) is drawn as is (identity, y up). Geometries are parsed
once per ref version and column (`wkt.py`), thinned to what the picture can show, and kept for
the next map: a map of the five NYC boroughs (2.7 MB of WKT) draws a few thousand vertices.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from data_platform.errors import InputError
from data_platform.frames.types import is_numeric
from data_platform.pictures import specs, wkt
from data_platform.render import jsonable

MAX_SHAPES = 5_000
GEO_NAMES = ("geom", "geometry", "the_geom", "geog", "geography", "wkt", "shape", "wkb_geometry")
LONLAT_SRIDS = {4326, 4269, 4258, 4283, 4167, 4619, 4674}
MAP_HEIGHT = 480  # as specs.geoshape draws it, beside specs.WIDTH


def map_data(
    table: pa.Table, schema: pa.Schema, req: Any, key: tuple[Any, ...] | None = None
) -> tuple[int, dict[str, Any], list[str], str]:
    """(shapes drawn, spec, notes, title) for a map of the ref's geometry column.

    `key` names the ref's version (path, created, size): its shapes, parsed and thinned to the
    drawing's pixels, are kept for the next map of the same column.
    """
    column = req.x or _find_geometry(schema)
    if column is None:
        raise InputError(
            "No geometry column found (WKT or GeoJSON text).",
            hint="Pass x='<geometry column>'; pg_query returns PostGIS columns as WKT by default.",
        )
    field = schema.field(column)
    if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
        raise InputError(f"Column {column!r} is {field.type}, not WKT or GeoJSON text.")
    rows = table.num_rows
    step = -(-rows // MAX_SHAPES) if rows > MAX_SHAPES else 1
    if step > 1:
        table = table.take(pa.array(range(0, rows, step)))  # evenly spaced: every k-th row
    shapes = _cached((*key, column) if key is not None else None, lambda: _shapes(table, field))
    notes = list(shapes.notes)
    if step > 1:
        notes.insert(0, f"every {step}th of {rows:,} rows drawn ({len(table):,} shapes)")
    values = table.column(req.color).to_pylist() if req.color else [None] * len(shapes.geoms)
    features: list[dict[str, Any]] = [
        {"type": "Feature", "geometry": g, "properties": {"v": jsonable(v)}}
        for g, v in zip(shapes.geoms, values, strict=True)
        if g is not None
    ]
    if not features:
        raise InputError(f"Column {column!r} holds no geometry this map can read (WKT or GeoJSON).")
    ctype = "nominal"
    if req.color:
        ctype = "quantitative" if is_numeric(schema.field(req.color).type) else "nominal"
        if ctype == "nominal" and len({f["properties"]["v"] for f in features}) > 20:
            notes.append(f"{req.color} has many values: the legend shows the first ones")
    spec = specs.geoshape(features, shapes.projection, req.color, ctype)
    return len(features), spec, notes, f"{column}" + (f" by {req.color}" if req.color else "")


@dataclass
class Shapes:
    """A column's geometries as drawn (None where a row has none readable), and how."""

    geoms: list[dict[str, Any] | None]
    projection: dict[str, Any]
    notes: list[str]


_CACHE: OrderedDict[tuple[Any, ...], Shapes] = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHED_MAPS = 8


def _cached(key: tuple[Any, ...] | None, make: Callable[[], Shapes]) -> Shapes:
    """The shapes kept for `key` (a ref's version and column), else made and kept (the last 8)."""
    if key is None:
        return make()
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
            return found
    shapes = make()
    with _CACHE_LOCK:
        _CACHE[key] = shapes
        while len(_CACHE) > CACHED_MAPS:
            _CACHE.popitem(last=False)
    return shapes


def _shapes(table: pa.Table, field: pa.Field) -> Shapes:
    """Parse every row's geometry once, fit the projection, and thin the vertices to the pixels."""
    meta = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
    parsed = [wkt.parse(g) if g else None for g in table.column(field.name).to_pylist()]
    found = [g for g in parsed if g is not None]
    notes = []
    skipped = len(parsed) - len(found)
    if skipped:
        notes.append(f"{skipped:,} rows without a readable geometry skipped")
    box = wkt.extent(found)
    projection, how = _projection(_srid(meta.get("srid", "")), box)
    notes.append(how)
    mercator = projection["type"] != "identity"
    grid = wkt.grid_for(box, (specs.WIDTH, MAP_HEIGHT), mercator) if box else None
    before = sum(len(r.xs) for g in found for r in wkt.runs(g))
    geoms = [wkt.finish(g, grid) if g is not None else None for g in parsed]
    if mercator:
        geoms = [_rewind(g) if g is not None else None for g in geoms]  # d3 winds the other way
    after = sum(len(_coords(g)) for g in geoms if g is not None)
    if after < before:
        notes.append(f"shapes simplified to the picture's resolution: {after:,} of {before:,} vertices drawn")
    return Shapes(geoms, projection, notes)


def _find_geometry(schema: pa.Schema) -> str | None:
    for f in schema:
        meta = f.metadata or {}
        if meta.get(b"encoding", b"").lower() in (b"wkt", b"geojson"):
            return f.name
    for f in schema:
        if f.name.lower() in GEO_NAMES:
            return f.name
    return None


def _srid(text: str) -> int | None:
    found = [int(s) for s in text.split(",") if s.strip().isdigit()]
    return found[0] if len(found) == 1 else None


def _projection(
    srid: int | None, box: tuple[float, float, float, float] | None
) -> tuple[dict[str, Any], str]:
    in_degrees = box is not None and -180 <= box[0] <= box[2] <= 180 and -90 <= box[1] <= box[3] <= 90
    if srid in LONLAT_SRIDS or (srid in (None, 0) and in_degrees):
        return {"type": "mercator"}, f"SRID {srid or 'unknown'}: longitude/latitude, Mercator projection"
    return {"type": "identity", "reflectY": True}, f"SRID {srid or 'unknown'}: planar coordinates drawn as is"


def _rewind(g: dict[str, Any]) -> dict[str, Any]:
    """Exterior rings clockwise and holes counter-clockwise, as d3-geo reads spherical polygons.

    OGC (and PostGIS's output) winds exteriors counter-clockwise; d3 would read such a ring as
    the whole globe minus the shape and flood the map.
    """
    t = g.get("type")
    if t == "Polygon":
        return {**g, "coordinates": _rings(g["coordinates"])}
    if t == "MultiPolygon":
        return {**g, "coordinates": [_rings(p) for p in g["coordinates"]]}
    if t == "GeometryCollection":
        return {**g, "geometries": [_rewind(p) for p in g.get("geometries", [])]}
    return g


def _rings(rings: list[list[list[float]]]) -> list[list[list[float]]]:
    out = []
    for i, ring in enumerate(rings):
        ccw = _signed_area(ring) > 0
        want_cw = i == 0
        out.append(ring[::-1] if ccw == want_cw else ring)
    return out


def _signed_area(ring: list[list[float]]) -> float:
    """Shoelace: positive for counter-clockwise in (x east, y north)."""
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(ring)) / 2


def _coords(g: dict[str, Any]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []

    def walk(c: Any) -> None:
        if isinstance(c, list | tuple) and c and isinstance(c[0], int | float):
            out.append((float(c[0]), float(c[1])))
        elif isinstance(c, list | tuple):
            for part in c:
                walk(part)

    if g.get("type") == "GeometryCollection":
        for part in g.get("geometries", []):
            out += _coords(part)
    else:
        walk(g.get("coordinates"))
    return out
