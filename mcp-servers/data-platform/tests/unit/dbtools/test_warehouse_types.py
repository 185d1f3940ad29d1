"""Rows fetched through dbt-postgres's cursor (dbtools/warehouse.py) keep PostgreSQL's types where
no value carries one: a failing not_null test's rows are all null, and an empty result has none."""

from __future__ import annotations

import psycopg2
import pyarrow as pa

from data_platform.dbtools.warehouse import _arrow
from pgcluster import Cluster

SQL = (
    "select null::text as t, null::varchar(5) as v, null::int as i, null::bigint as b, null::bool as ok, "
    "null::float8 as f, null::date as d, null::timestamptz as ts, 1 as n, null::numeric as x"
)


def test_null_columns_and_empty_results_keep_postgres_types(pg: Cluster) -> None:
    expected = {
        "t": pa.string(),
        "v": pa.string(),
        "i": pa.int64(),  # as values of any integer type read here
        "b": pa.int64(),
        "ok": pa.bool_(),
        "f": pa.float64(),
        "d": pa.date32(),
        "ts": pa.timestamp("us", "UTC"),
        "n": pa.int64(),
        "x": pa.null(),  # numeric's precision is not in the description: no type is invented
    }
    with psycopg2.connect(pg.url) as conn:
        for sql, rows in ((SQL, 1), (f"{SQL} where false", 0)):
            fetched = _arrow(conn.cursor(), sql, 1000)
            table = pa.Table.from_batches(list(fetched.batches), schema=fetched.schema)
            assert table.num_rows == rows
            assert {f.name: f.type for f in table.schema} == expected, sql
