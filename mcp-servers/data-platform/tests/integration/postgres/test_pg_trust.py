"""Answers that cannot mislead (issue 22), through the in-memory client on the suite's PostGIS:
PostGIS measurements in degrees said, missing relations named, hints only where they apply, the
statement shown where it failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from harness import call, call_error, inmemory, text_of
from pgcluster import Cluster

pytestmark = pytest.mark.anyio

SETUP = """
drop schema if exists trust_geo, agent_c, dbt_dev cascade;
create schema trust_geo; create schema agent_c; create schema dbt_dev;
create table trust_geo.countries (name text, geom geometry(MultiPolygon, 4326));
insert into trust_geo.countries values
  ('square', ST_Multi(ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 1,0 0))', 4326))),
  ('polar', ST_Multi(ST_GeomFromText('POLYGON((0 80,10 80,10 81,0 81,0 80))', 4326)));
create table trust_geo.cities (name text, geom geometry(Point, 4326));
insert into trust_geo.cities values ('a', 'SRID=4326;POINT(0.5 0.5)');
create table trust_geo.parcels_l93 (id int, geom geometry(Polygon, 2154));
insert into trust_geo.parcels_l93 values
  (1, ST_GeomFromText('POLYGON((650000 6860000,651000 6860000,651000 6861000,650000 6860000))', 2154));
create table trust_geo.any_geom (id int, geom geometry);
insert into trust_geo.any_geom values (1, 'POINT(1 1)');
create table agent_c.raw_payments (id int, amount int);
create table dbt_dev.raw_payments (id int, amount int);
create table dbt_dev.raw_paymentz (id int);
"""


@pytest.fixture(scope="module")
def trust(pg: Cluster) -> Iterator[Cluster]:
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(SETUP)
    yield pg
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("drop schema if exists trust_geo, agent_c, dbt_dev cascade")


def env(pg: Cluster, tmp: Path) -> dict[str, str]:
    return {**pg.env(), "HOME": str(tmp)}


async def test_a_measurement_in_degrees_is_said_and_only_then(
    trust: Cluster, project: Path, tmp_path: Path
) -> None:
    async with inmemory(project, env(trust, tmp_path)) as client:
        text = text_of(
            await call(
                client, "pg_query", sql="select name, ST_Area(geom) as area from trust_geo.countries c"
            )
        )
        assert "ST_Area(geom) is in square degrees, not metres" in text, text
        assert "SRID 4326" in text and "ST_Area(geom::geography)" in text

        # Through an alias, a join, ST_DWithin's distance argument and a function of the column.
        r = await call(
            client,
            "pg_query",
            sql="select c.name from trust_geo.countries c join trust_geo.cities p "
            "on ST_DWithin(p.geom, c.geom, 1000) where ST_Length(ST_Boundary(c.geom)) > 0",
        )
        text = text_of(r)
        assert "ST_DWithin(p.geom) is in degrees (its distance argument too)" in text, text
        assert "ST_Length(c.geom) is in degrees" in text
        # A point set to 4326 by hand is in degrees too.
        text = text_of(
            await call(
                client,
                "pg_query",
                sql="select ST_Distance(ST_SetSRID(ST_MakePoint(0, 0), 4326), "
                "ST_SetSRID(ST_MakePoint(1, 1), 4326)) as d",
            )
        )
        assert "ST_Distance(st_setsrid(..., 4326)) is in degrees" in text, text

        # st_extent says the units of the box's coordinates.
        r = await call(client, "st_extent", table="countries", schema="trust_geo")
        assert r.structured_content["rows"][0][-1] == "degrees"
        r = await call(client, "st_extent", table="parcels_l93", schema="trust_geo")
        assert r.structured_content["rows"][0][-1] == "metre", r.structured_content

        # No note where it does not apply: geography, a projected SRID, a transform, no SRID, no measure.
        for sql in (
            "select ST_Area(geom::geography) as a from trust_geo.countries",
            "select ST_Area(geom) as a from trust_geo.parcels_l93",
            "select ST_Area(ST_Transform(geom, 3857)) as a from trust_geo.countries",
            "select ST_Length(geom) as a from trust_geo.any_geom",
            "select name, ST_AsText(geom) as g from trust_geo.countries",
            "with c as (select geom from trust_geo.countries) select ST_Area(c.geom) as a from c",
            "with c as (select ST_Transform(geom, 3857) as geom from trust_geo.countries) "
            "select ST_Area(geom) as a from c",
            "select ST_Area(geom) as a from (select ST_Transform(geom, 3857) as geom "
            "from trust_geo.countries) s",
        ):
            text = text_of(await call(client, "pg_query", sql=sql))
            assert "degrees" not in text, (sql, text)


async def test_a_missing_relation_names_the_ones_that_exist(
    trust: Cluster, project: Path, tmp_path: Path
) -> None:
    async with inmemory(project, env(trust, tmp_path)) as client:
        err = await call_error(client, "pg_query", sql="select * from raw_payments")
        assert 'relation "raw_payments" does not exist' in err
        assert '"agent_c"."raw_payments" (not on the search_path)' in err, err
        assert '"dbt_dev"."raw_payments" (not on the search_path)' in err
        assert '"dbt_dev"."raw_paymentz"' in err and "Schema-qualify" in err
        # The same in every tool that runs SQL, and for a close name in a named schema.
        err = await call_error(client, "pg_explain", sql="select * from raw_payments")
        assert '"agent_c"."raw_payments"' in err
        err = await call_error(client, "pg_execute", sql="delete from raw_payment")
        assert '"dbt_dev"."raw_payments"' in err and "Close names" in err, err
        err = await call_error(client, "diff", left="select * from raw_payments", right="select 1 as id")
        assert '"agent_c"."raw_payments"' in err, err
        err = await call_error(client, "pg_query", sql="select * from nothing_like_it_at_all")
        assert "No relation named" in err


async def test_hints_apply_and_the_statement_is_shown_where_it_failed(
    trust: Cluster, project: Path, tmp_path: Path
) -> None:
    async with inmemory(project, env(trust, tmp_path)) as client:
        # A syntax error: the failing line with a caret, and no word about $1 placeholders.
        err = await call_error(client, "pg_query", sql="select name,\n  amount frm agent_c.raw_payments")
        assert "$1" not in err and "placeholder" not in err, err
        assert "LINE 2:   amount frm agent_c.raw_payments\n" in err and "\n" + " " * 21 + "^\n" in err, err
        # A shell-quoting slip reaches the server as another identifier: the caret shows it.
        err = await call_error(client, "pg_query", sql="select name from trust_geo.countries where name = O")
        assert 'column "o" does not exist' in err and "LINE 1:" in err and "^" in err, err
        assert "$1" not in err
        # Parameters given but no placeholder: said as such, not "$1..$0".
        err = await call_error(client, "pg_query", sql="select 1 as x", params=[5])
        assert "no $1, $2, ... placeholders" in err and "$0" not in err, err
        # A placeholder whose type PostgreSQL cannot infer: the cast hint, where it applies.
        err = await call_error(client, "pg_query", sql="select 1 as x where $1 is null", params=["a"])
        assert "could not determine data type of parameter $1" in err and "$1::date" in err, err
        # A placeholder query failing for another reason: no cast hint.
        err = await call_error(
            client, "pg_query", sql="select * from agent_c.raw_payments where nosuch = $1", params=[1]
        )
        assert 'column "nosuch" does not exist' in err and "::date" not in err, err
        # A missing relation whose name holds "database" is not a missing database.
        err = await call_error(client, "pg_query", sql="select * from database_events")
        assert 'relation "database_events" does not exist' in err and "PGDATABASE" not in err, err
        # A NUL character: no advice to use pg_execute.
        err = await call_error(client, "pg_query", sql="select 1\x00")
        assert "NUL" in err and "pg_execute" not in err, err
        # A wrong table name in a catalogue tool: "case-sensitive" only when case is the problem.
        err = await call_error(client, "pg_columns", table="countriez", schema="trust_geo")
        assert "case-sensitive" not in err and 'Did you mean "countries"' in err, err
        err = await call_error(client, "pg_columns", table="Countries", schema="trust_geo")
        assert "case-sensitive" in err, err
        # An error with no position: the statement as received, bounded.
        err = await call_error(
            client, "pg_query", sql="select 1 / (count(*) - count(*)) as x from agent_c.raw_payments"
        )
        assert "division by zero" in err and "Statement as received:\nselect 1 / (count(*)" in err, err
