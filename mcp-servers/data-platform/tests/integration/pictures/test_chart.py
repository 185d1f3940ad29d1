"""chart through the real server (in-memory client): the engine aggregates, bins or samples before
drawing (checked against pyarrow), the picture comes back as a real PNG, and the PNG, SVG and
Vega-Lite spec are saved in the project; a PostGIS table comes back as a map with a legend."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from mcp.types import ImageContent

from harness import call, call_error, inmemory, text_of
from pgcluster import Cluster
from pngcheck import assert_picture, decode

pytestmark = pytest.mark.anyio


def image_of(result) -> bytes:
    images = [c for c in result.content if isinstance(c, ImageContent)]
    assert len(images) == 1 and images[0].mime_type == "image/png"
    return base64.b64decode(images[0].data)


def sales(rows: int) -> pa.Table:
    """id, region (4 of 5 names, evenly), amount (i & 1023) * 0.5 + 1, qty (i & 15) + 1."""
    if rows <= 100_000:  # plain Python: pyarrow's arithmetic kernels cost ~1 s to start
        return pa.table(
            {
                "id": pa.array(range(rows), pa.int64()),
                "region": [("EU", "US", "APAC", "LATAM")[i & 3] for i in range(rows)],
                "amount": [(i & 1023) * 0.5 + 1.0 for i in range(rows)],
                "qty": pa.array([(i & 15) + 1 for i in range(rows)], pa.int64()),
            }
        )
    i = pa.array(range(rows), pa.int64())
    regions = pa.array(["EU", "US", "APAC", "LATAM", "AFRICA"])
    return pa.table(
        {
            "id": i,
            "region": regions.take(pc.bit_wise_and(i, 3)),
            "amount": pc.add(pc.multiply(pc.bit_wise_and(i, 1023).cast(pa.float64()), 0.5), 1.0),
            "qty": pc.add(pc.bit_wise_and(i, 15), 1),
        }
    )


async def test_bar_chart_sums_in_the_engine_and_saves_png_svg_and_spec(project: Path) -> None:
    table = sales(2_000)
    pq.write_table(table, project / "s.parquet")
    async with inmemory(project) as client:
        await call(client, "read_parquet", path="s.parquet")
        r = await call(client, "chart", data_ref="s", kind="bar", x="region", y="amount", agg="sum")
    text, sc = text_of(r), r.structured_content
    assert "sum(amount) per region" in text and "value axis: sum(amount) (aggregated with sum)" in text
    assert sc["drawn"] == 4 and sc["kind"] == "bar"
    png = assert_picture(image_of(r))
    # The saved spec holds the engine's sums: check them against pyarrow.
    spec = json.loads((project / sc["spec_path"]).read_text(encoding="utf-8"))
    drawn = {d["x"]: d["v"] for d in spec["data"]["values"]}
    expected = table.group_by("region").aggregate([("amount", "sum")])
    assert drawn == pytest.approx(dict(zip(*expected.to_pydict().values(), strict=True)))
    assert (project / sc["png_path"]).read_bytes() == image_of(r)
    assert (project / sc["svg_path"]).read_text(encoding="utf-8").lstrip().startswith(("<svg", "<?xml"))
    assert png.width >= 600


def bars_left_to_right(svg: str, x: str) -> list[str]:
    """The x value of each bar of a rendered SVG, in the order drawn from left to right."""
    found = re.findall(rf'aria-label="{x}: ([^;"]+);[^"]*"[^>]*aria-roledescription="bar" d="M([0-9.]+)', svg)
    return [value for value, _ in sorted(found, key=lambda f: float(f[1]))]


async def test_bars_of_a_numeric_x_stand_in_its_order_and_names_by_size(project: Path) -> None:
    """Months 1..16 drawn 1, 2, ... 16 (a model read a height-sorted month axis as a trend); names
    tallest first. Checked on the drawn SVG, and the answer says which order it is."""
    pq.write_table(sales(2_000), project / "s.parquet")
    async with inmemory(project) as client:
        await call(client, "read_parquet", path="s.parquet")
        by_qty = await call(client, "chart", data_ref="s", kind="bar", x="qty", y="amount", agg="sum")
        by_region = await call(client, "chart", data_ref="s", kind="bar", x="region", y="amount", agg="sum")
    svg = (project / by_qty.structured_content["svg_path"]).read_text(encoding="utf-8")
    assert bars_left_to_right(svg, "qty") == [str(q) for q in range(1, 17)]
    assert "bars in qty order" in text_of(by_qty)
    svg = (project / by_region.structured_content["svg_path"]).read_text(encoding="utf-8")
    totals = {d["x"]: d["v"] for d in drawn_values(project, by_region)}
    assert bars_left_to_right(svg, "region") == sorted(totals, key=lambda r: -totals[r])
    assert "bars sorted by sum(amount), largest first" in text_of(by_region)


async def test_scatter_of_a_big_ref_is_sampled_and_says_so(project: Path) -> None:
    rows = int(os.environ.get("DATA_PLATFORM_CHART_ROWS", "20000"))
    pq.write_table(sales(rows), project / "big.parquet")
    async with inmemory(project) as client:
        await call(client, "read_parquet", path="big.parquet", max_rows=rows)
        r = await call(client, "chart", data_ref="big", type="scatter", x="qty", y="amount", hue="region")
        err = await call_error(client, "chart", data_ref="big", kind="pie", x="region")
        typo = await call_error(client, "chart", data_ref="big", kind="bar", x="regoin")
        no_x = await call_error(client, "chart", data_ref="big", kind="bar", y="amount")
        no_geo = await call_error(client, "chart", data_ref="big", kind="map")
        bad_agg = await call_error(client, "chart", data_ref="big", kind="bar", x="region", y="avg2(amount)")
    assert f"sampled 5,000 of {rows:,} rows" in text_of(r) and r.structured_content["drawn"] == 5_000
    assert_picture(image_of(r))
    assert "kind='pie' is not a chart this tool draws" in err and "histogram" in err
    assert 'Did you mean "region"?' in typo
    assert "A bar chart needs x (a column)" in no_x
    assert "No geometry column found" in no_geo and "x='<geometry column>'" in no_geo
    assert "agg='avg2' is not known" in bad_agg and "median" in bad_agg and "Traceback" not in bad_agg
    assert not (project / ".data-platform" / "charts" / "big-bar-regoin.png").exists()


def weather(days: int = 1_461) -> pa.Table:
    """Daily rows for two cities; Oslo's hottest day is 35.6 °C, the data's maximum."""
    import datetime as dt
    import math

    start = dt.date(2020, 1, 1)
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    oslo = [round(12 + 10 * math.sin(i / 58.1), 1) for i in range(days)]
    oslo[min(200, days - 1)] = 35.6
    rome = [round(20 + 9 * math.sin(i / 58.1), 1) for i in range(days)]
    return pa.table({"date": dates * 2, "city": ["Oslo"] * days + ["Rome"] * days, "temp_max": oslo + rome})


def drawn_values(project: Path, result) -> list[dict]:
    return json.loads((project / result.structured_content["spec_path"]).read_text(encoding="utf-8"))["data"][
        "values"
    ]


async def test_charts_draw_values_as_they_are_and_name_any_aggregate(project: Path) -> None:
    """The issue's case: a line of a daily series drew sums of 1,000 bins (peak ≈68 °C of 35.6)."""
    table = weather()
    pq.write_table(table, project / "w.parquet")
    pq.write_table(table.filter(pc.equal(table["city"], "Oslo")), project / "oslo.parquet")
    async with inmemory(project) as client:
        await call(client, "read_parquet", path="oslo.parquet")
        await call(client, "read_parquet", path="w.parquet")
        line = await call(client, "chart", data_ref="oslo", kind="line", x="date", y="temp_max")
        means = await call(client, "chart", data_ref="w", kind="bar", x="city", y="temp_max")
        sums = await call(client, "chart", data_ref="w", kind="bar", x="city", y="temp_max", aggfunc="sum")
        avg = await call(
            client, "chart", data_ref="w", kind="line", x="date", y="temp_max", agg="avg", title="Daily"
        )
        both = await call(client, "chart", data_ref="w", kind="line", x="date", y="temp_max", color="city")
        clash = await call_error(
            client, "chart", data_ref="w", kind="bar", x="city", y="sum(temp_max)", agg="mean"
        )
    # One row per date: every day drawn, its maximum the data's, the axis named for the column.
    values = drawn_values(project, line)
    assert len(values) == 1_461 and max(v["v"] for v in values) == 35.6
    assert line.structured_content["y_axis"] == "temp_max" and line.structured_content["aggregate"] is None
    assert "one row per date: temp_max drawn as it is" in text_of(line)
    svg = (project / line.structured_content["svg_path"]).read_text(encoding="utf-8")
    assert "temp_max" in svg and "sum(" not in svg and "mean(" not in svg
    assert_picture(image_of(line))
    # Rows sharing an x: the mean unless told, said in the axis, the title and the answer.
    expected = {
        c: pc.mean(table.filter(pc.equal(table["city"], c))["temp_max"]).as_py() for c in ("Oslo", "Rome")
    }
    assert {d["x"]: d["v"] for d in drawn_values(project, means)} == pytest.approx(expected)
    assert (
        means.structured_content["y_axis"] == "mean(temp_max)"
        and means.structured_content["title"] == "mean(temp_max) by city"
    )
    assert "mean(temp_max) per city" in text_of(means) and "agg='sum' for totals" in text_of(means)
    totals = {
        c: pc.sum(table.filter(pc.equal(table["city"], c))["temp_max"]).as_py() for c in ("Oslo", "Rome")
    }
    assert {d["x"]: d["v"] for d in drawn_values(project, sums)} == pytest.approx(totals)
    assert sums.structured_content["y_axis"] == "sum(temp_max)" and "read `aggfunc` as `agg`" in text_of(sums)
    assert 'read `agg="avg"` as `agg="mean"`' in text_of(
        avg
    ) and 'of mean(temp_max) by date, titled "Daily"' in text_of(avg)
    assert avg.structured_content["y_axis"] == "mean(temp_max)"
    spec = json.loads((project / avg.structured_content["spec_path"]).read_text(encoding="utf-8"))
    assert spec["title"] == {"text": "Daily", "subtitle": "mean(temp_max) by date"}
    # One row per (date, city): two lines drawn as they are.
    assert both.structured_content["y_axis"] == "temp_max" and both.structured_content["drawn"] == 2 * 1_461
    assert "two aggregates" in clash


def test_a_line_away_from_zero_says_so(tmp_path: Path) -> None:
    """A monthly revenue line between 757k and 929k: the axis is fitted to the values, which the
    answer says (a model read a dip as a collapse)."""
    import datetime as dt

    from data_platform.pictures import chart
    from data_platform.registry import Registry

    registry = Registry(tmp_path / "reg")
    months = [dt.date(2025, m, 1) for m in range(1, 13)]
    revenue = [810e3, 757e3, 790e3, 800e3, 820e3, 815e3, 830e3, 850e3, 870e3, 900e3, 929e3, 838e3]
    registry.put(pa.table({"month": months, "revenue": revenue}), name="monthly", source="test")
    out = chart.chart(
        registry, "monthly", chart.Request("line", "month", "revenue", None, None, None, None), tmp_path
    )
    assert any("spans 757,000 to 929,000, not from 0" in note for note in out.notes), out.notes
    assert_picture(out.picture.png)
    registry.put(pa.table({"month": months, "change": [v - 840e3 for v in revenue]}), name="d", source="test")
    both = chart.chart(
        registry, "d", chart.Request("line", "month", "change", None, None, None, None), tmp_path
    )
    assert not any("not from 0" in note for note in both.notes)  # values on both sides of 0 include it


def test_a_long_line_is_binned_keeping_its_extremes_and_coloured_means_do_not_stack(tmp_path: Path) -> None:
    import datetime as dt
    import math

    from data_platform.pictures import chart
    from data_platform.registry import Registry

    registry = Registry(tmp_path / "reg")
    n = 20_000
    t = [dt.datetime(2024, 1, 1) + dt.timedelta(minutes=i) for i in range(n)]
    v = [math.sin(i / 900) * 10 for i in range(n)]
    v[4321], v[777] = 57.25, -31.5  # one-minute spikes a mean or a sum of neighbours would hide or inflate
    registry.put(pa.table({"t": t, "v": v}), name="long", source="test")
    out = chart.chart(registry, "long", chart.Request("line", "t", "v", None, None, None, None), tmp_path)
    values = json.loads(out.paths["spec"].read_text(encoding="utf-8"))["data"]["values"]
    assert out.drawn == chart.LINE_BINS
    assert max(d["hi"] for d in values) == 57.25 and min(d["lo"] for d in values) == -31.5
    assert max(d["v"] for d in values) < 15  # the line is each step's mean, not a sum
    assert out.y_axis == "v: mean per step, band min to max" and "mean per step" in (out.aggregate or "")
    assert any("binned into 1,000 equal steps" in note for note in out.notes)
    assert out.title == "v by t (mean per step, band min to max)"
    assert_picture(out.picture.png)
    registry.put(weather(30), name="w", source="test")
    bars = chart.chart(
        registry, "w", chart.Request("bar", "city", "temp_max", "city", None, None, None), tmp_path
    )
    spec = json.loads(bars.paths["spec"].read_text(encoding="utf-8"))
    assert spec["encoding"]["y"]["stack"] is None and bars.y_axis == "mean(temp_max)"
    registry.close()


@pytest.mark.slow
async def test_scatter_and_histogram_of_a_5m_row_ref(project: Path) -> None:
    """The issue's case: 5M rows; the scatter is a sample, the histogram's bins add up to every row."""
    rows = 5_000_000
    pq.write_table(sales(rows), project / "huge.parquet")
    async with inmemory(project) as client:
        await call(client, "read_parquet", path="huge.parquet", max_rows=rows)
        r = await call(client, "chart", data_ref="huge", kind="scatter", x="qty", y="amount")
        h = await call(client, "chart", data_ref="huge", kind="histogram", x="amount", bins=50)
    assert "sampled 5,000 of 5,000,000 rows" in text_of(r)
    assert_picture(image_of(r))
    spec = json.loads((project / h.structured_content["spec_path"]).read_text(encoding="utf-8"))
    assert sum(d["n"] for d in spec["data"]["values"]) == rows
    assert "50 equal-width bins over 5,000,000 rows" in text_of(h)
    assert_picture(image_of(h))


@pytest.mark.slow  # the fast tier has one profile and one chart call of its own
async def test_histogram_box_line_and_heatmap_draw(project: Path) -> None:
    table = sales(3_000)
    pq.write_table(table, project / "s.parquet")
    async with inmemory(project) as client:
        await call(client, "read_parquet", path="s.parquet")
        h = await call(client, "chart", data_ref="s", kind="histogram", x="amount", nbins=8)
        b = await call(client, "chart", data_ref="s", kind="box", x="region", y="amount")
        line = await call(client, "chart", data_ref="s", kind="line", x="qty", y="mean(amount)")
        m = await call(client, "chart", data_ref="s", kind="heatmap", x="qty", y="region")
    spec = json.loads((project / h.structured_content["spec_path"]).read_text(encoding="utf-8"))
    assert [d["n"] for d in spec["data"]["values"]] and sum(d["n"] for d in spec["data"]["values"]) == 3_000
    box = json.loads((project / b.structured_content["spec_path"]).read_text(encoding="utf-8"))
    eu = next(d for d in box["data"]["values"] if d["g"] == "EU")
    eu_amounts = table.filter(pc.equal(table["region"], "EU"))["amount"]
    assert eu["median"] == pytest.approx(pc.quantile(eu_amounts, q=0.5).to_pylist()[0])
    means = json.loads((project / line.structured_content["spec_path"]).read_text(encoding="utf-8"))
    by_qty = {d["x"]: d["v"] for d in means["data"]["values"]}
    q1 = table.filter(pc.equal(table["qty"], 1))["amount"]
    assert by_qty[1] == pytest.approx(pc.mean(q1).as_py())
    assert m.structured_content["drawn"] == 16  # qty = (i & 15) + 1 fixes region = i & 3: one cell per qty
    for r in (h, b, line, m):
        assert_picture(image_of(r))
    # The histogram's bars rise from zero: they fill a good part of the picture, not thin dashes.
    assert decode(image_of(h)).share_of((76, 120, 168, 255)) > 0.15


SHAPES = """
drop table if exists pic_parcels;
create table pic_parcels (id int primary key, land_use text, area_ha float8, geom geometry(Polygon, 4326));
insert into pic_parcels values
  (1, 'farm',   12.5, ST_GeomFromText('POLYGON((2.0 48.0, 2.4 48.0, 2.4 48.3, 2.0 48.3, 2.0 48.0))', 4326)),
  (2, 'forest', 30.0, ST_GeomFromText('POLYGON((2.4 48.0, 2.9 48.0, 2.9 48.4, 2.4 48.3, 2.4 48.0))', 4326)),
  (3, 'town',    4.2, ST_GeomFromText('POLYGON((2.0 48.3, 2.4 48.3, 2.4 48.6, 2.0 48.5, 2.0 48.3))', 4326)),
  (4, 'farm',    8.8, ST_GeomFromText('POLYGON((2.4 48.3, 2.9 48.4, 2.9 48.6, 2.4 48.6, 2.4 48.3))', 4326));
"""


@pytest.mark.slow  # the fast tier has one profile and one chart call of its own
async def test_map_of_a_postgis_table_with_a_legend(pg: Cluster, project: Path, tmp_path: Path) -> None:
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(SHAPES)
    async with inmemory(project, {**pg.env(), "HOME": str(tmp_path)}) as client:
        await call(client, "pg_query", sql="select * from pic_parcels order by id", name="parcels")
        r = await call(client, "chart", data_ref="parcels", kind="map", color="land_use")
        sql = "select id, geom from pic_parcels"
        await call(client, "pg_query", sql=sql, name="pj", geometry="geojson")
        g = await call(client, "chart", data_ref="pj", kind="map", geometry="geom")
        sql = "select id, area_ha, ST_Transform(geom, 3857) as geom from pic_parcels"
        await call(client, "pg_query", sql=sql, name="metres")
        m = await call(client, "chart", data_ref="metres", kind="map", color="area_ha")
    assert "SRID 4326: longitude/latitude, Mercator projection" in text_of(r)
    assert r.structured_content["drawn"] == 4 and g.structured_content["drawn"] == 4
    spec = json.loads((project / r.structured_content["spec_path"]).read_text(encoding="utf-8"))
    features = spec["data"]["values"]["features"]
    assert [f["properties"]["v"] for f in features] == ["farm", "forest", "town", "farm"]
    forest = features[1]["geometry"]["coordinates"][0]
    assert sorted(map(tuple, forest[:-1])) == [(2.4, 48.0), (2.4, 48.3), (2.9, 48.0), (2.9, 48.4)]
    assert forest[1] == [2.4, 48.3]  # wound clockwise for d3 (PostGIS gave it counter-clockwise)
    assert spec["encoding"]["color"]["title"] == "land_use"  # the legend
    svg = (project / r.structured_content["svg_path"]).read_text(encoding="utf-8")
    assert "forest" in svg and "town" in svg  # legend entries drawn
    png = assert_picture(image_of(r))
    # Each land use fills a real part of the picture (not only its legend dot): farm blue,
    # forest orange, town red of Vega's default scheme; a mis-wound polygon floods everything.
    shares = [png.share_of((*rgb, 255)) for rgb in ((76, 120, 168), (245, 133, 24), (228, 87, 86))]
    assert all(0.03 < s < 0.5 for s in shares), shares
    assert_picture(image_of(g))
    assert "SRID 3857: planar coordinates drawn as is" in text_of(m)
    assert_picture(image_of(m))
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("drop table pic_parcels")


@pytest.mark.slow
def test_columns_named_like_the_engines_own_aliases_and_non_finite_values(tmp_path: Path) -> None:
    """Columns called g, y, lo, hi, b, n (the names our SQL uses inside) and NaN/inf values."""
    from data_platform.pictures import chart
    from data_platform.registry import Registry

    registry = Registry(tmp_path / "reg")
    n = [1.0, 2.0, float("nan"), float("inf"), 5.0, None] * 50
    ys = [float(i) for i in range(300)]
    table = pa.table({"lo": n, "hi": [1.0] * 300, "g": ["a", "b", "c"] * 100, "y": ys})
    registry.put(table, name="t", source="test")
    kinds = [
        ("histogram", "lo", None, "g"),
        ("box", "g", "y", None),
        ("bar", "g", "sum(y)", None),
        ("line", "y", "lo", None),
        ("heatmap", "lo", "g", "y"),
        ("scatter", "lo", "y", "g"),
    ]
    for kind, x, y, color in kinds:
        out = chart.chart(registry, "t", chart.Request(kind, x, y, color, None, None, None), tmp_path)
        assert_picture(out.picture.png)
        assert out.paths["spec"].exists()
    drawn = chart.chart(registry, "t", chart.Request("box", "g", "y", None, None, None, None), tmp_path)
    box = json.loads(drawn.paths["spec"].read_text(encoding="utf-8"))["data"]["values"]
    a = sorted(float(i) for i in range(0, 300, 3))
    assert next(d for d in box if d["g"] == "a")["median"] == pytest.approx((a[49] + a[50]) / 2)
    hist = chart.chart(registry, "t", chart.Request("histogram", "lo", None, None, None, 4, None), tmp_path)
    counts = json.loads(hist.paths["spec"].read_text(encoding="utf-8"))["data"]["values"]
    assert sum(d["n"] for d in counts) == 150  # 1, 2 and 5 fifty times each; NaN, inf, null left out
    registry.close()


@pytest.mark.slow
def test_the_renderer_fetches_nothing() -> None:
    """A spec that names a data URL is refused by the renderer itself (allowed_base_urls=[])."""
    from data_platform.pictures.render import RenderError, render

    spec = {"data": {"url": "https://example.com/data.csv"}, "mark": "bar", "encoding": {}}
    with pytest.raises(RenderError, match="External data url not allowed"):
        render(spec)
