"""Pure logic of the Postgres core: the parse layer, parameter rewriting, naming, error classes."""

from __future__ import annotations

import psycopg
import pyarrow as pa
import pytest

from data_platform.config import load_settings
from data_platform.errors import ConnectionFailedError, DatabaseError, ExpressionError, NotConfiguredError
from data_platform.postgres import connection, safety
from data_platform.postgres.arrow_types import plan
from data_platform.postgres.sqltext import qualified, quote_ident
from data_platform.registry.names import unique_names

ALLOWED = [
    "select 1",
    "SELECT 1;",
    "with a as (select 1 x) select * from a",
    "select x, lag(x) over (order by x) from generate_series(1,3) x",
    "select ST_AsText(ST_MakePoint(1, 2))",
    "explain select 1",
    "explain (analyze, format json) select 1",
    "values (1), (2)",
    "table pg_class",
    "show work_mem",
    "select 'drop table x; delete from y'",
    "select $1::int -- trailing ; delete",
    "select * from (select 1) s union all select 2",
]

REFUSED = [
    ("select 1; select 2", "2 statements"),
    ("delete from t", "DELETE"),
    ("with d as (insert into t values (1) returning 1) select * from d", "INSERT"),
    ("select * into t2 from t", "INTO"),
    ("select * from t for share", "FOR UPDATE/SHARE"),
    ("explain delete from t", "EXPLAIN of DeleteStmt"),
    ("copy t to '/tmp/x'", "COPY"),
    ("do $$ begin end $$", "DO"),
    ("select pg_catalog.pg_read_file('x')", "pg_read_file"),
    ("select LO_EXPORT(1, '/tmp/x')", "lo_export"),
    ("select * from dblink('', 'select 1') as t(a int)", "dblink"),
    ("select (select set_config('a.b', 'c', false))", "set_config"),
    ("-- only a comment", "no statement"),
    ("", "empty"),
]


@pytest.mark.parametrize("sql", ALLOWED)
def test_parse_layer_allows_queries(sql: str) -> None:
    checked = safety.check_query(sql)
    assert checked.kind in ("select", "explain", "show")
    assert checked.sql.endswith("\n")


@pytest.mark.parametrize(("sql", "needle"), REFUSED)
def test_parse_layer_refuses(sql: str, needle: str) -> None:
    with pytest.raises(ExpressionError) as info:
        safety.check_query(sql)
    assert needle.lower() in str(info.value).lower()


def test_syntax_errors_are_expression_errors() -> None:
    with pytest.raises(ExpressionError, match="syntax error"):
        safety.check_query("selec 1")


def test_statements_split_with_the_real_parser() -> None:
    sql = "create table a (x text default ';'); insert into a values ($$;$$); -- done"
    assert safety.statements(sql) == ["create table a (x text default ';')", "insert into a values ($$;$$)"]


def test_params_are_cast_at_parser_locations() -> None:
    checked = safety.check_query("select 'é $1', $1 + $2, $10")
    out = safety.substitute_params(checked.sql, checked.params, {1: "integer", 2: "date", 10: "text"})
    assert out.startswith("select 'é $1', ($1::text)::integer + ($2::text)::date, $10")


def test_quoting_and_names() -> None:
    assert quote_ident('weird "name"') == '"weird ""name"""'
    assert qualified("GeoMixed", "t") == '"GeoMixed"."t"'
    assert unique_names(["a", "a", "b", "a", ""])[0] == ["a", "a_1", "b", "a_2", "column"]


def test_plan_wraps_only_when_needed() -> None:
    plain = pa.schema([pa.field("i", pa.int32(), metadata={"POSTGRESQL:type": "int4"})])
    assert plan("select 1", plain, "wkt").sql == "select 1"  # kept as is
    geo = pa.schema(
        [
            pa.field("g", pa.binary(), metadata={"POSTGRESQL:type": "geometry"}),
            pa.field("g", pa.int32(), metadata={"POSTGRESQL:type": "int4"}),
        ]
    )
    p = plan("select x -- c\n", geo, "geojson")
    assert p.sql.startswith("SELECT ") and 'ST_AsGeoJSON(_q."c0")' in p.sql and '"g_1"' in p.sql
    assert "\n) AS _q" in p.sql


def test_not_configured_says_how(tmp_path) -> None:
    settings = load_settings(tmp_path, {}, system_file=tmp_path / "none.env")
    with pytest.raises(NotConfiguredError) as info:
        connection.require(settings)
    for needle in ("POSTGRES_URL", "DATABASE_URL", "PGHOST", "postgres.env", ".env"):
        assert needle in str(info.value)


def test_classify_redacts_and_names_the_setting(tmp_path) -> None:
    url = "postgresql://me:s3cret-pw@db.example:5432/app"
    settings = load_settings(tmp_path, {"DATABASE_URL": url}, system_file=tmp_path / "none.env")
    err = connection.classify(
        psycopg.OperationalError(f'connection to server at "{url}" failed: password authentication failed'),
        settings,
    )
    assert isinstance(err, ConnectionFailedError) and "DATABASE_URL" in str(err)
    assert "s3cret-pw" not in str(err)
    err = connection.classify(psycopg.OperationalError("connection refused"), settings)
    assert err.details["reason"] == "unreachable"
    err = connection.classify(psycopg.OperationalError('database "app" does not exist'), settings)
    assert err.details["reason"] == "database_missing"
    err = connection.classify(Exception("canceling statement due to statement timeout"), settings)
    assert isinstance(err, DatabaseError) and "DATA_PLATFORM_STATEMENT_TIMEOUT" in str(err)
    assert "s3cret-pw" in connection.adbc_uri(settings, True)  # for the driver only
    assert "default_transaction_read_only" in connection.adbc_uri(settings, True)


def test_the_adbc_helper_the_kept_type_catalogue_builds_on_is_there() -> None:
    """`_Databases` keeps the driver's type catalogue through the DB-API module's private
    `_SharedDatabase`; a driver release without it falls back to a catalogue per connection, and
    this test names the change so the speed loss is not silent."""
    import types

    from adbc_driver_manager import dbapi

    assert connection.shares_databases(dbapi)
    assert not connection.shares_databases(types.SimpleNamespace())
