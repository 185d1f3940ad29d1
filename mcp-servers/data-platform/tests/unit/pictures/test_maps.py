"""Maps: geometry text parsed in one pass, thinned to the picture's pixels, kept per ref version.

The thinned shapes must still be the data's shapes: every vertex drawn is a vertex of the data,
no vertex of the data is more than a pixel away from what is drawn, and the PNG fills the same
pixels as the shapes drawn unthinned.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow as pa
import pytest

from data_platform.pictures import chart, geo, specs, wkt
from data_platform.pictures.render import render
from data_platform.registry import Registry
from pngcheck import assert_picture, decode


def as_geojson(text: str) -> dict | None:
    parsed = wkt.parse(text)
    return None if parsed is None else wkt.finish(parsed, None)


def test_wkt_and_geojson_text_parse_to_geojson() -> None:
    square = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
    cases = {
        "POINT (1 2)": {"type": "Point", "coordinates": [1.0, 2.0]},
        "SRID=4326;point z (1 2 3)": {"type": "Point", "coordinates": [1.0, 2.0]},
        "LINESTRING(0 0, 1 1, 2 0)": {"type": "LineString", "coordinates": [[0, 0], [1, 1], [2, 0]]},
        "POLYGON((0 0,1 0,1 1,0 0),(0.2 0.2, 0.3 0.2, 0.3 0.3, 0.2 0.2))": {
            "type": "Polygon",
            "coordinates": [square, [[0.2, 0.2], [0.3, 0.2], [0.3, 0.3], [0.2, 0.2]]],
        },
        "MULTIPOINT((1 2),(3 4))": {"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]},
        "MULTIPOINT (1 2, 3 4)": {"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]},
        "MULTIPOLYGON (((0 0,1 0,1 1,0 0)), ((2 2, 3 2, 3 3, 2 2)))": {
            "type": "MultiPolygon",
            "coordinates": [[square], [[[2, 2], [3, 2], [3, 3], [2, 2]]]],
        },
        "GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0, 1e1 -1.5))": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Point", "coordinates": [1, 2]},
                {"type": "LineString", "coordinates": [[0, 0], [10, -1.5]]},
            ],
        },
        '{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}': {
            "type": "Polygon",
            "coordinates": [square],
        },
    }
    for text, want in cases.items():
        assert as_geojson(text) == want, text
    for bad in ("POINT EMPTY", "POLYGON((0 0, 1 1)", "hello", "POINT(1)", "POINT(1 2) tail", '{"a": 1}',
                "POLYGON((0 0, 1 x, 1 1, 0 0))", "CIRCLE(1 2)", ""):  # fmt: skip
        assert wkt.parse(bad) is None, bad


def coastline(n: int, cx: float = -73.95, cy: float = 40.7, r: float = 0.1) -> list[tuple[float, float]]:
    """A closed ring of n vertices with bays at every scale (a fixed pattern, no randomness)."""
    pts = []
    for i in range(n):
        a = 2 * math.pi * i / n
        k = 1 + sum(0.15 / f * math.sin(f * a + f * f) for f in range(2, 300, 7))
        pts.append((cx + r * k * math.cos(a), cy + r * k * math.sin(a)))
    return [*pts, pts[0]]


def ring_wkt(pts: list[tuple[float, float]]) -> str:
    return "POLYGON((" + ",".join(f"{x!r} {y!r}" for x, y in pts) + "))"


def distance_to_segment(p: tuple[float, float], a: list[float], b: list[float]) -> float:
    ux, uy = b[0] - a[0], b[1] - a[1]
    t = ((p[0] - a[0]) * ux + (p[1] - a[1]) * uy) / ((ux * ux + uy * uy) or 1.0)
    t = max(0.0, min(1.0, t))
    return math.hypot(p[0] - a[0] - t * ux, p[1] - a[1] - t * uy)


def test_a_long_ring_is_thinned_to_the_pixels_and_stays_within_one_of_the_data() -> None:
    pts = coastline(20_000)
    parsed = wkt.parse(ring_wkt(pts))
    assert parsed is not None
    box = wkt.extent([parsed])
    assert box is not None
    grid = wkt.grid_for(box, (specs.WIDTH, geo.MAP_HEIGHT), True)
    drawn = wkt.finish(parsed, grid)
    assert drawn is not None
    ring = drawn["coordinates"][0]
    assert 50 < len(ring) < 2_000, len(ring)  # 20,000 vertices in a ~600-pixel drawing
    assert ring[0] == ring[-1]  # still closed
    data = {(x, y) for x, y in pts}
    assert all(tuple(v) in data for v in ring)  # the data's own coordinates, none moved
    # Every vertex of the data lies within a pixel of the drawn outline (0.85 px by construction):
    # checked in pixel units, against the drawn segment it was dropped from (in order).
    sx, sy = 1 / grid.dx, 1 / grid.dy
    scaled = [[x * sx, y * sy] for x, y in ring]
    index: dict[tuple[float, float], int] = {}
    for i, v in enumerate(ring[:-1]):
        index.setdefault((v[0], v[1]), i)
    j = 0
    for x, y in pts[:-1]:
        j = index.get((x, y), j)
        seg = (scaled[j], scaled[j + 1])
        assert distance_to_segment((x * sx, y * sy), *seg) <= 1.0


@pytest.mark.slow
def test_a_thinned_map_fills_the_pixels_of_the_full_shapes_and_is_kept_per_ref_version(
    tmp_path: Path,
) -> None:
    registry = Registry(tmp_path / "reg")
    field = pa.field("geom", pa.string(), metadata={"encoding": "WKT", "srid": "4326"})
    schema = pa.schema([pa.field("name", pa.string()), field])
    east = coastline(30_000)
    west = coastline(30_000, cx=-74.3, r=0.08)
    table = pa.table([["east", "west"], [ring_wkt(east), ring_wkt(west)]], schema=schema)
    registry.put(table, name="shores", source="test")
    req = chart.Request("map", None, None, "name", None, None, None)
    out = chart.chart(registry, "shores", req, tmp_path)
    assert any("simplified to the picture's resolution" in n for n in out.notes), out.notes
    spec = json.loads(out.paths["spec"].read_text(encoding="utf-8"))
    drawn = sum(len(f["geometry"]["coordinates"][0]) for f in spec["data"]["values"]["features"])
    assert drawn < 6_000, drawn
    # The same shapes drawn from every vertex of the data (wound as the map winds them).
    full = [
        {"type": "Feature", "geometry": geo._rewind(wkt.finish(wkt.parse(ring_wkt(p)), None)),
         "properties": {"v": name}}
        for name, p in (("east", east), ("west", west))
    ]  # fmt: skip
    reference = specs.geoshape(full, {"type": "mercator"}, "name", "nominal")
    reference["title"] = spec["title"]
    reference["background"] = "white"
    thin, whole = decode(out.picture.png), decode(render(reference).png)
    assert_picture(out.picture.png)
    assert (thin.width, thin.height) == (whole.width, whole.height)
    for rgb in ((76, 120, 168), (245, 133, 24)):  # Vega's first two colours: east, west
        a, b = thin.share_of((*rgb, 255)), whole.share_of((*rgb, 255))
        assert b > 0.02 and abs(a - b) < 0.02 * b, (rgb, a, b)
    # The ref replaced under the same name: the map draws the new shapes, not the kept ones.
    registry.put(table.slice(0, 1), name="shores", source="test", overwrite=True)
    again = chart.chart(registry, "shores", req, tmp_path)
    assert again.drawn == 1
    registry.close()
