"""Every Postgres/PostGIS tool through the in-memory client, on real shapes in the suite's PostGIS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pyarrow.ipc as ipc
import pytest

from harness import call, call_error, inmemory, text_of
from pgcluster import Cluster

pytestmark = pytest.mark.anyio

SCHEMA = "GeoMixed"  # mixed case on purpose
WEIRD = '"weird ""name"""'  # the table `weird "name"`, quoted

SETUP = f"""
drop schema if exists "{SCHEMA}" cascade;
create schema "{SCHEMA}";
set search_path = "{SCHEMA}", public;
create table parcels (id int primary key, name text not null default 'unnamed',
                      geom geometry(Polygon, 4326));
comment on table parcels is 'land parcels';
comment on column parcels.name is 'parcel owner';
insert into parcels values
  (1, 'holed', ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,4 2,4 4,2 4,2 2))', 4326)),
  (2, 'square', ST_GeomFromText('POLYGON((20 20,21 20,21 21,20 21,20 20))', 4326));
create table regions (id serial primary key, geom geometry(MultiPolygon, 3857));
insert into regions (geom) values (ST_GeomFromText(
  'MULTIPOLYGON(((0 0,1000 0,1000 1000,0 0)),((2000 2000,3000 2000,3000 3000,2000 2000)))', 3857));
create table poi (id int, geom geometry(Point, 4326), geog geography(Point, 4326));
insert into poi values (1, 'SRID=4326;POINT(2.35 48.85)', 'SRID=4326;POINT(2.35 48.85)'),
                       (2, 'SRID=4326;POINT(-0.12 51.5)', 'SRID=4326;POINT(-0.12 51.5)');
create table roads (id int, geom geometry(LineString, 2154));
insert into roads values (1, ST_GeomFromText('LINESTRING(650000 6860000, 652000 6862000)', 2154));
create table mixed (id int, geom geometry);
insert into mixed values (1, 'POINT(1 1)'), (2, 'LINESTRING(0 0, 1 1)'), (3, 'POLYGON((0 0,1 0,1 1,0 0))'),
  (4, 'POINT(5 5)'), (5, null), (6, 'GEOMETRYCOLLECTION EMPTY');
create table empty_pts (id int, geom geometry(Point, 4326));
create table pts_z (id int, geom geometry(PointZ, 4326));
insert into pts_z values (1, 'SRID=4326;POINT Z (1 2 3)');
create table {WEIRD} (id int, geom geometry(Point, 4326));
insert into {WEIRD} values (1, 'SRID=4326;POINT(7 8)');
create view parcel_centroids as
  select id, ST_Centroid(geom)::geometry(Point, 4326) as c from parcels;
analyze;
"""


@pytest.fixture(scope="module")
def geo(pg: Cluster) -> Iterator[Cluster]:
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(SETUP)
    yield pg
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f'drop schema if exists "{SCHEMA}" cascade')


def env(pg: Cluster, tmp: Path) -> dict[str, str]:
    return {**pg.env(), "HOME": str(tmp)}


async def test_connect_and_catalogue(geo: Cluster, project: Path, tmp_path: Path) -> None:
    async with inmemory(project, env(geo, tmp_path)) as client:
        text = text_of(await call(client, "pg_connect"))
        assert "PostgreSQL 1" in text and "PostGIS 3" in text and "dp_test" in text
        assert geo.password not in text and "***" in text

        text = text_of(await call(client, "pg_schemas"))
        assert SCHEMA in text and "pg_catalog" not in text

        text = text_of(await call(client, "pg_tables", schema=SCHEMA))
        for name in ("parcels", "regions", "poi", "mixed", "parcel_centroids", 'weird "name"'):
            assert name in text
        assert "view" in text and "land parcels" in text
        everything = text_of(await call(client, "pg_tables"))
        assert "spatial_ref_sys" not in everything and "geometry_columns" not in everything
        assert "spatial_ref_sys" in text_of(
            await call(client, "pg_tables", schema="public", include_system=True)
        )

        text = text_of(await call(client, "pg_columns", table="parcels", schema=SCHEMA))
        assert "geometry(Polygon,4326)" in text and "pk" in text and "parcel owner" in text
        assert "'unnamed'::text" in text
        text = text_of(await call(client, "pg_columns", table='weird "name"', schema=SCHEMA))
        assert "geometry(Point,4326)" in text

        err = await call_error(client, "pg_columns", table="parcel", schema=SCHEMA)
        assert 'Did you mean "parcels"' in err
        err = await call_error(client, "pg_tables", schema="geomixed")
        assert "GeoMixed" in err


async def test_spatial_tools(geo: Cluster, project: Path, tmp_path: Path) -> None:
    async with inmemory(project, env(geo, tmp_path)) as client:
        res = await call(client, "st_tables", schema=SCHEMA)
        text = text_of(res)
        for needle in ("parcels", "regions", "poi", "roads", "mixed", "empty_pts", "pts_z", 'weird "name"'):
            assert needle in text
        assert "parcel_centroids" in text and "view" in text
        assert "geography" in text and "2154" in text and "3857" in text
        rows = {(r[1], r[3]): r for r in res.structured_content["rows"]}
        assert rows[("mixed", "geom")][5] == 0 and rows[("pts_z", "geom")][6] == 3

        text = text_of(await call(client, "st_geometry_type", table="mixed", schema=SCHEMA))
        assert "GEOMETRY" in text
        for kind in ("POINT x2", "LINESTRING x1", "POLYGON x1", "GEOMETRYCOLLECTION x1"):
            assert kind in text
        row = (await call(client, "st_geometry_type", table="mixed", schema=SCHEMA)).structured_content[
            "rows"
        ][0]
        assert row[4] == 1 and row[5] == 1  # one null, one empty
        assert "POINT Z x1" in text_of(await call(client, "st_geometry_type", table="pts_z", schema=SCHEMA))
        text = text_of(await call(client, "st_geometry_type", table="regions", schema=SCHEMA))
        assert "MULTIPOLYGON x1" in text
        text = text_of(await call(client, "st_geometry_type", table="empty_pts", schema=SCHEMA))
        assert "no geometries" in text
        text = text_of(await call(client, "st_geometry_type", table="poi", schema=SCHEMA))
        assert ".geom" in text and ".geog" in text  # both spatial columns
        text = text_of(await call(client, "st_geometry_type", table='weird "name"', schema=SCHEMA))
        assert "POINT x1" in text

        text = text_of(await call(client, "st_srid", table="regions", schema=SCHEMA))
        assert "EPSG:3857" in text and "Pseudo-Mercator" in text and "metre" in text
        text = text_of(await call(client, "st_srid", table="poi", column="geog", schema=SCHEMA))
        assert "EPSG:4326" in text and "degree" in text
        text = text_of(await call(client, "st_srid", table="mixed", schema=SCHEMA))
        assert "no SRID (0)" in text
        assert "EPSG:2154" in text_of(await call(client, "st_srid", table="roads", schema=SCHEMA))

        res = await call(client, "st_extent", table="parcels", schema=SCHEMA)
        assert res.structured_content["rows"][0][1:6] == [0, 0, 21, 21, 4326]
        res = await call(client, "st_extent", table="poi", column="geog", schema=SCHEMA)
        assert res.structured_content["rows"][0][1] == pytest.approx(-0.12)
        res = await call(client, "st_extent", table="empty_pts", schema=SCHEMA)
        assert res.structured_content["rows"][0][1] is None and res.structured_content["rows"][0][6] == 0
        res = await call(client, "st_extent", table="parcel_centroids", schema=SCHEMA)
        assert res.structured_content["rows"][0][6] == 2

        err = await call_error(client, "st_srid", table="poi", column="gem", schema=SCHEMA)
        assert 'Did you mean "geom"' in err
        err = await call_error(client, "st_extent", table="pg_class")
        assert "no geometry or geography column" in err


async def test_query_spatial_and_refs(geo: Cluster, project: Path, tmp_path: Path) -> None:
    async with inmemory(project, env(geo, tmp_path)) as client:
        res = await call(
            client,
            "pg_query",
            sql=f'select id, name, ST_Area(geom) as area, geom from "{SCHEMA}".parcels where id = $1',
            params=[1],
            name="holed",
        )
        text = text_of(res)
        assert "data_ref `holed`" in text and "geom: WKT, SRID 4326" in text
        assert (
            "POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,4 2,4 4,2 4,2 2))"
            in res.structured_content["preview"][0]["geom"]
        )
        assert res.structured_content["preview"][0]["area"] == 96.0
        table = ipc.open_file(project / ".data-platform" / "holed.arrow").read_all()
        assert table.schema.field("geom").metadata[b"srid"] == b"4326"

        # PostgreSQL repeats a name where the SQL does: stored unique (as DuckDB's CTAS would), said.
        res = await call(
            client, "pg_query", sql=f'select 1 as n, 2 as n, geom as n from "{SCHEMA}".parcels limit 1'
        )
        assert [c["name"] for c in res.structured_content["columns"]] == ["n", "n_1", "n_2"]
        assert res.structured_content["preview"][0]["n_1"] == 2
        assert "Repeated column names renamed (a ref's names are unique): n -> n_1, n -> n_2." in text_of(res)

        res = await call(
            client,
            "pg_query",
            sql=f'select geog, ST_Transform(geom, 3857) as merc from "{SCHEMA}".poi order by id',
            geometry="geojson",
        )
        assert '"type":"Point"' in res.structured_content["preview"][0]["geog"]
        assert "merc: GeoJSON, SRID 3857" in text_of(res)

        # Analytics SQL that a naive filter would break: CTE, window, PostGIS, EXPLAIN.
        res = await call(
            client,
            "pg_query",
            sql=f"""with r as (select id, ST_NPoints(geom) n from "{SCHEMA}".mixed where geom is not null)
                    select id, n, rank() over (order by n desc, id) as rk,
                           sum(n) over () as total from r order by rk""",
        )
        assert res.structured_content["rows"] == 5
        res = await call(client, "pg_query", sql=f'explain select * from "{SCHEMA}".parcels')
        assert "Seq Scan" in text_of(res)

        # Existing name: refused without overwrite, replaced with it.
        err = await call_error(client, "pg_query", sql="select 1 as x", name="holed")
        assert "overwrite" in err
        await call(client, "pg_query", sql="select 1 as x", name="holed", overwrite=True)

        # Row guard: a preview and how to get more; nothing stored.
        err = await call_error(
            client, "pg_query", sql="select g from generate_series(1, 50) g", max_rows=20, name="big"
        )
        assert "more than 20 rows" in err and "max_rows" in err and "| 1 |" in err
        assert not (project / ".data-platform" / "big.arrow").exists()
        # 90M rows: the guard must stop the server, not drain it (that would hit the 30 s timeout).
        err = await call_error(
            client, "pg_query", sql="select a from generate_series(1, 3000) a, generate_series(1, 30000) b"
        )
        assert "The query result has more than 100,000 rows, over the row guard of 100,000" in err
        res = await call(client, "pg_query", sql="select g from generate_series(1, 50) g", max_rows=50)
        assert res.structured_content["rows"] == 50

        err = await call_error(client, "pg_query", sql="select * from nope_table")
        assert "nope_table" in err and "does not exist" in err
        err = await call_error(client, "pg_query", sql="select $1::int, $2::int", params=[1])
        assert "2 placeholder" in err
        err = await call_error(client, "pg_query", sql="selec 1")
        assert "syntax error" in err


async def test_execute_load_explain(geo: Cluster, project: Path, tmp_path: Path) -> None:
    async with inmemory(project, env(geo, tmp_path)) as client:
        s = SCHEMA
        res = await call(
            client, "pg_execute", sql=f'create table "{s}".notes (id int primary key, body text)'
        )
        assert "CREATE TABLE" in text_of(res)
        res = await call(
            client,
            "pg_execute",
            sql=f'insert into "{s}".notes values ($1, $2), ($3, $4)',
            params=[1, "a", 2, "b"],
        )
        assert res.structured_content["rows_affected"] == 2
        assert "VACUUM" in text_of(await call(client, "pg_execute", sql=f'vacuum "{s}".notes'))
        err = await call_error(client, "pg_execute", sql=f'begin; delete from "{s}".notes; commit')
        assert "one transaction" in err
        # A failing second statement rolls back the first.
        await call_error(
            client, "pg_execute", sql=f'delete from "{s}".notes; insert into "{s}".notes values (1, 1/0)'
        )
        res = await call(client, "pg_query", sql=f'select count(*) as n from "{s}".notes')
        assert res.structured_content["preview"][0]["n"] == 2

        await call(client, "pg_query", sql=f'select id, name, geom from "{s}".parcels order by id', name="p")
        res = await call(client, "pg_load", data_ref="p", table="Parcels Copy", schema=s)
        assert res.structured_content["rows"] == 2
        text = text_of(await call(client, "pg_columns", table="Parcels Copy", schema=s))
        assert "| geom | geometry(Geometry,4326) |" in text  # WKT in the ref, geometry again in the table
        res = await call(client, "st_srid", table="Parcels Copy", schema=s)
        assert res.structured_content["rows"][0][2] == "4326 x2"
        err = await call_error(client, "pg_load", data_ref="p", table="Parcels Copy", schema=s)
        assert "already exists" in err and "replace" in err
        await call(client, "pg_load", data_ref="p", table="Parcels Copy", schema=s, mode="append")
        res = await call(client, "pg_query", sql=f'select count(*) as n from "{s}"."Parcels Copy"')
        assert res.structured_content["preview"][0]["n"] == 4
        await call(client, "pg_load", data_ref="p", table="Parcels Copy", schema=s, mode="replace")
        res = await call(client, "pg_query", sql=f'select count(*) as n from "{s}"."Parcels Copy"')
        assert res.structured_content["preview"][0]["n"] == 2
        err = await call_error(client, "pg_load", data_ref="nope", table="x", schema=s)
        assert "nope" in err
        err = await call_error(client, "pg_load", data_ref="p", table="x", schema=s, mode="append")
        assert "does not exist" in err

        text = text_of(await call(client, "pg_explain", sql=f'select * from "{s}".parcels where id = 1'))
        assert "Scan" in text
        text = text_of(await call(client, "pg_explain", sql=f'select * from "{s}".parcels', analyze=True))
        assert "actual time" in text
        text = text_of(await call(client, "pg_explain", sql=f'delete from "{s}".notes'))
        assert "Delete on notes" in text
        err = await call_error(client, "pg_explain", sql=f'delete from "{s}".notes', analyze=True)
        assert "only queries are analyzed" in err
        res = await call(client, "pg_explain", sql="select 1", format="json")
        assert '"Plan"' in text_of(res)
        res = await call(client, "pg_query", sql=f'select count(*) as n from "{s}".notes')
        assert res.structured_content["preview"][0]["n"] == 2
