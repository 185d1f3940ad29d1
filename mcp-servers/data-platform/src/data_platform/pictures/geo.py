"""Maps: geometries of a ref (WKT or GeoJSON text, as pg_query returns PostGIS columns) as shapes.

No tiles or basemaps: only the shapes are drawn, coloured by a column with a legend. The
projection follows the SRID the ref's metadata notes (pg_query writes it): longitude/latitude
(4326 and kin, or SRID 0 with coordinates in range) get Mercator fitted to the shapes; any
projected SRID (metres: 3857, UTM...) is drawn as is (identity, y up).
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pyarrow as pa

from data_platform.errors import InputError
from data_platform.frames.types import is_numeric
from data_platform.pictures import specs
from data_platform.render import jsonable

MAX_SHAPES = 5_000
GEO_NAMES = ("geom", "geometry", "the_geom", "geog", "geography", "wkt", "shape", "wkb_geometry")
LONLAT_SRIDS = {4326, 4269, 4258, 4283, 4167, 4619, 4674}
_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def map_data(table: pa.Table, schema: pa.Schema, req: Any) -> tuple[int, dict[str, Any], list[str], str]:
    """(shapes drawn, spec, notes, title) for a map of the ref's geometry column."""
    column = req.x or _find_geometry(schema)
    if column is None:
        raise InputError(
            "No geometry column found (WKT or GeoJSON text).",
            hint="Pass x='<geometry column>'; pg_query returns PostGIS columns as WKT by default.",
        )
    field = schema.field(column)
    if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
        raise InputError(f"Column {column!r} is {field.type}, not WKT or GeoJSON text.")
    meta = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
    rows = table.num_rows
    notes: list[str] = []
    if rows > MAX_SHAPES:
        idx = pa.array(range(0, rows, -(-rows // MAX_SHAPES)))  # evenly spaced: every k-th row
        table = table.take(idx)
        notes.append(f"every {-(-rows // MAX_SHAPES)}th of {rows:,} rows drawn ({len(table):,} shapes)")
    geoms = table.column(column).to_pylist()
    values = table.column(req.color).to_pylist() if req.color else [None] * len(geoms)
    features: list[dict[str, Any]] = []
    skipped = 0
    for g, v in zip(geoms, values, strict=True):
        shape = to_geojson(g) if g else None
        if shape is None:
            skipped += 1
            continue
        features.append({"type": "Feature", "geometry": shape, "properties": {"v": jsonable(v)}})
    if not features:
        raise InputError(f"Column {column!r} holds no geometry this map can read (WKT or GeoJSON).")
    if skipped:
        notes.append(f"{skipped:,} rows without a readable geometry skipped")
    srid = _srid(meta.get("srid", ""))
    projection, how = _projection(srid, features)
    notes.append(how)
    if projection["type"] != "identity":
        for f in features:  # d3's spherical polygons wind the other way from PostGIS/OGC
            f["geometry"] = _rewind(f["geometry"])
    ctype = "nominal"
    if req.color:
        ctype = "quantitative" if is_numeric(schema.field(req.color).type) else "nominal"
        if ctype == "nominal" and len({f["properties"]["v"] for f in features}) > 20:
            notes.append(f"{req.color} has many values: the legend shows the first ones")
    spec = specs.geoshape(features, projection, req.color, ctype)
    return len(features), spec, notes, f"{column}" + (f" by {req.color}" if req.color else "")


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


def _projection(srid: int | None, features: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    xs, ys = [], []
    for f in features[:500]:
        for x, y in _coords(f["geometry"]):
            xs.append(x)
            ys.append(y)
    in_degrees = bool(xs) and -180 <= min(xs) <= max(xs) <= 180 and -90 <= min(ys) <= max(ys) <= 90
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


def to_geojson(text: str) -> dict[str, Any] | None:
    """A GeoJSON geometry from WKT/EWKT or GeoJSON text; None when it is neither."""
    s = text.strip()
    if s.startswith("{"):
        try:
            g = json.loads(s)
        except ValueError:
            return None
        return g if isinstance(g, dict) and "type" in g else None
    if s.upper().startswith("SRID="):
        s = s.split(";", 1)[-1]
    try:
        geom, rest = _wkt(s)
    except (ValueError, IndexError):
        return None
    return geom if not rest.strip() else None


_NAMES = {"POINT": "Point", "LINESTRING": "LineString", "POLYGON": "Polygon", "MULTIPOINT": "MultiPoint",
          "MULTILINESTRING": "MultiLineString", "MULTIPOLYGON": "MultiPolygon"}  # fmt: skip


def _wkt(s: str) -> tuple[dict[str, Any], str]:
    m = re.match(r"\s*([A-Za-z]+)\s*(ZM|Z|M)?\s*", s)
    if not m:
        raise ValueError(s[:20])
    kind, rest = m.group(1).upper(), s[m.end() :]
    if rest.upper().startswith("EMPTY"):
        raise ValueError("empty")
    if kind == "GEOMETRYCOLLECTION":
        rest = rest.lstrip()[1:]
        parts = []
        while True:
            g, rest = _wkt(rest)
            parts.append(g)
            rest = rest.lstrip()
            if rest.startswith(","):
                rest = rest[1:]
                continue
            return {"type": "GeometryCollection", "geometries": parts}, rest[1:]
    if kind not in _NAMES:
        raise ValueError(kind)
    coords, rest = _nested(rest.lstrip())
    if kind == "POINT":
        coords = coords[0]
    elif kind == "MULTIPOINT" and coords and isinstance(coords[0][0], list):
        coords = [c[0] for c in coords]  # MULTIPOINT((1 2),(3 4))
    return {"type": _NAMES[kind], "coordinates": coords}, rest


def _nested(s: str) -> tuple[list[Any], str]:
    """Parse '( ... )' into nested lists; a run of numbers becomes [x, y] pairs."""
    if not s.startswith("("):
        raise ValueError(s[:20])
    s = s[1:]
    items: list[Any] = []
    while True:
        s = s.lstrip()
        if s.startswith("("):
            inner, s = _nested(s)
            items.append(inner)
        else:
            end = s.find(",") if "," in s else len(s)
            close = s.find(")")
            stop = close if end == -1 or close < end else end
            nums = [float(n) for n in _NUM.findall(s[:stop])]
            if len(nums) < 2:
                raise ValueError(s[:20])
            items.append(nums[:2])
            s = s[stop:]
        s = s.lstrip()
        if s.startswith(","):
            s = s[1:]
            continue
        if s.startswith(")"):
            return items, s[1:]
        raise ValueError(s[:20])
