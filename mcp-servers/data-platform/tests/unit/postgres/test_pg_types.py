"""PostgreSQL types into Arrow refs: exact numerics, zones, arrays, JSON, UUID, intervals, bytea, NULLs."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from data_platform.config import load_settings
from data_platform.errors import DatabaseError
from data_platform.postgres import connection, safety
from data_platform.postgres.query import run_query
from data_platform.registry import Registry
from pgcluster import Cluster

SETUP = """
drop schema if exists dp_types cascade; create schema dp_types;
create type dp_types.mood as enum ('ok', 'sad');
create table dp_types.t (i int4, b int8, f float8, n numeric(12,2), big numeric, tz timestamptz, ts timestamp,
  d date, iv interval, a int[], ta text[], j json, jb jsonb, u uuid, by bytea, ip inet, m dp_types.mood,
  g geometry(Point, 4326));
insert into dp_types.t values
 (1, 9007199254740993, 1.5, 1234567890.12, 123456789012345678901234.5678901, '2024-03-10 12:00:00+02',
  '2024-03-10 12:00:00', '2024-03-10', '1 mon 2 days 03:00:00', '{1,NULL,3}', '{"a b","c"}', '{"k": [1, 2]}',
  '{"z": null}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff', '10.1.2.3/32', 'sad',
  'SRID=4326;POINT(1 2)'),
 (null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null);
"""


@pytest.fixture
def settings(pg: Cluster, tmp_path: Path):
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(SETUP)
    yield load_settings(tmp_path, {"POSTGRES_URL": pg.url}, system_file=tmp_path / "none.env")
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("drop schema dp_types cascade")


def test_types_round_trip(settings, tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    out = run_query(settings, reg, "select * from dp_types.t order by i nulls last", name="types")
    t = reg.get("types")
    s = t.schema
    assert s.field("i").type == pa.int32() and s.field("b").type == pa.int64()
    assert s.field("n").type == pa.decimal128(12, 2)
    assert pa.types.is_decimal(s.field("big").type)
    assert s.field("tz").type == pa.timestamp("us", tz="UTC")
    assert s.field("ts").type == pa.timestamp("us")
    assert s.field("iv").type == pa.month_day_nano_interval()
    row, empty = t.to_pylist()
    assert row["b"] == 9007199254740993
    assert row["n"] == decimal.Decimal("1234567890.12")
    assert row["big"] == decimal.Decimal("123456789012345678901234.5678901")
    assert row["tz"] == dt.datetime(2024, 3, 10, 10, 0, tzinfo=dt.UTC)
    assert row["d"] == dt.date(2024, 3, 10)
    assert (row["iv"].months, row["iv"].days, row["iv"].nanoseconds) == (1, 2, 3 * 3600 * 10**9)
    assert row["a"] == [1, None, 3] and row["ta"] == ["a b", "c"]
    assert row["j"] == '{"k": [1, 2]}' and row["jb"] == '{"z": null}'
    assert s.field("jb").metadata[b"pg_type"] == b"jsonb"
    assert row["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert row["by"] == b"\x00\xff"
    assert row["ip"] == "10.1.2.3/32" and row["m"] == "sad"
    assert row["g"] == "POINT(1 2)" and s.field("g").metadata[b"srid"] == b"4326"
    assert all(v is None for v in empty.values())
    assert out.info.rows == 2


def test_params_take_the_type_postgres_infers(settings, tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    out = run_query(
        settings,
        reg,
        "select i from dp_types.t where d = $1 and u = $2 and a && $3 and jb ? $4 and n > $5 and $6",
        ["2024-03-10", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", [1, 2], "z", 1.5, True],
    )
    assert out.table.column("i").to_pylist() == [1]
    # A value that looks like SQL stays a value.
    out = run_query(settings, reg, "select $1::text as v", ["'); drop table dp_types.t; --"])
    assert out.table.column("v").to_pylist() == ["'); drop table dp_types.t; --"]


def test_the_session_layer_alone_refuses_writes(settings) -> None:
    """Layer 3 without layers 1-2: the connection itself is read-only."""
    with pytest.raises(Exception, match="read-only"), connection.session(settings) as conn:
        conn.execute("delete from dp_types.t")
    with (
        connection.adbc_connection(settings) as conn,
        conn.cursor() as cur,
        pytest.raises(Exception, match="read-only"),
    ):
        cur.execute("delete from dp_types.t")
    with connection.session(settings) as conn, pytest.raises(Exception, match="VOLATILE"):
        safety.check_functions(conn, {"random", "pg_stat_reset"})
    with psycopg.connect(settings.postgres.url()) as conn:
        assert conn.execute("select count(*) from dp_types.t").fetchone()[0] == 2


def test_statement_timeout_applies_and_says_what_to_do(settings, tmp_path: Path) -> None:
    quick = settings.model_copy(update={"statement_timeout_s": 0.5})
    reg = Registry(tmp_path / "reg")
    with pytest.raises(DatabaseError, match="DATA_PLATFORM_STATEMENT_TIMEOUT"):
        run_query(quick, reg, "select count(*) from generate_series(1, 500000000)")
    with connection.session(quick, read_only=True) as conn:
        assert conn.execute("show statement_timeout").fetchone()[0] == "500ms"


def test_odd_types_arrive_readable(settings, tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    out = run_query(
        settings,
        reg,
        "select row(1, 'a') as r, 12.5::money as m, array['{\"a\": 1}'::jsonb] as ja, int4range(1, 5) as rg,"
        " 'NaN'::numeric as nan, ST_MakePoint(1, 2, 3) as z, array[1.5::numeric(5,2)] as na",
    )
    row = out.table.to_pylist()[0]
    assert row["r"] == "(1,a)" and row["m"] == decimal.Decimal("12.50") and row["rg"] == "[1,5)"
    assert row["ja"] == '{"{\\"a\\": 1}"}' and row["nan"].lower() == "nan"
    assert row["z"] == "POINT Z (1 2 3)" and row["na"] == "{1.50}"
    assert any("nan: numeric kept as text" in n for n in out.notes) and "z: WKT, SRID 0" in out.notes


def test_a_type_made_after_the_drivers_catalogue_was_read_arrives_as_before(settings, tmp_path: Path) -> None:
    """The ADBC driver's catalogue of types is kept between queries (connection._Databases): a type
    created later (its OID unknown to it) reads the catalogue again, and arrives as it always did."""
    reg = Registry(tmp_path / "reg")
    run_query(settings, reg, "select 1 as warm")  # the catalogue is read (or already kept)
    pg_url = settings.postgres.url()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "create type dp_types.later as enum ('x', 'y');"
            "create domain dp_types.pos as int check (value > 0)"
        )
    out = run_query(
        settings,
        reg,
        "select 'y'::dp_types.later as e, array['x'::dp_types.later] as ea, 3::dp_types.pos as p",
    )
    assert out.table.to_pylist() == [{"e": "y", "ea": ["x"], "p": 3}]
    assert out.table.schema.field("e").type == pa.string()


def test_numeric_with_nan_falls_back_to_text(settings, tmp_path: Path) -> None:
    """numeric(10,2) is a decimal, unless a NaN is in the data: then the whole column is kept as text."""
    reg = Registry(tmp_path / "reg")
    out = run_query(
        settings, reg, "select x::numeric(10,2) as x from (values (1.5), ('NaN')) v(x)", name="nan"
    )
    assert out.table.column("x").type == pa.string()
    assert [v.lower() for v in out.table.column("x").to_pylist()] == ["1.50", "nan"]
    assert reg.get("nan").num_rows == 2 and any("kept as text" in n for n in out.notes)
    out = run_query(settings, reg, "select x::numeric(10,2) as x from (values (1.5), (2)) v(x)", name="ok")
    assert reg.get("ok").schema.field("x").type == pa.decimal128(10, 2)
    assert reg.get("ok").column("x").to_pylist() == [decimal.Decimal("1.50"), decimal.Decimal("2.00")]


def test_streamed_result_is_exact_and_a_late_nan_reads_it_whole(settings, tmp_path: Path) -> None:
    """Big results are converted batch by batch; a NaN in a later batch must not break the types."""
    reg = Registry(tmp_path / "reg")
    n = 600_000
    sql = f"select g, (g * 1.5)::numeric(12,2) as n, md5(g::text) as s from generate_series(1, {n}) g"
    out = run_query(settings, reg, sql, name="streamed", max_rows=n)
    assert reg.reader("streamed").num_record_batches > 1  # really more than one batch
    t = reg.get("streamed")
    assert t.num_rows == n and t.schema.field("n").type == pa.decimal128(12, 2)
    assert t.column("n").to_pylist()[-1] == decimal.Decimal(n) * decimal.Decimal("1.5")
    assert sum(t.column("g").to_pylist()) == n * (n + 1) // 2
    assert out.table.num_rows == 50 and out.table.column("g").to_pylist()[:3] == [1, 2, 3]
    late_nan = sql.replace(
        "(g * 1.5)::numeric(12,2)", f"(case when g = {n} then 'NaN' else g * 1.5 end)::numeric(12,2)"
    )
    out = run_query(settings, reg, late_nan, name="late_nan", max_rows=n)
    t = reg.get("late_nan")
    assert t.num_rows == n and t.schema.field("n").type == pa.string()
    assert t.column("n").to_pylist()[-1].lower() == "nan" and any("kept as text" in x for x in out.notes)
    with pytest.raises(Exception, match="more than 599,999 rows"):
        run_query(settings, reg, sql, name="guarded", max_rows=n - 1)
    assert not reg.exists("guarded")
