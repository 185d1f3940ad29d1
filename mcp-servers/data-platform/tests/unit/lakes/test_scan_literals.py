"""Literals in a scan filter take the column's type (lakes/pushdown.py), with the cast's checks."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from data_platform.errors import ExpressionError
from data_platform.lakes.pushdown import scan_filter

TABLE = pa.table(
    {
        "i8": pa.array([1, 2, 3], pa.int8()),
        "u16": pa.array([1, 2, 3], pa.uint16()),
        "f32": pa.array([1.5, 2.5, 3.5], pa.float32()),
        "s": pa.array(["a", "b", "c"], pa.large_string()),
        "d": pa.array([dt.date(2025, 1, d) for d in (1, 2, 3)], pa.date32()),
    }
)


@pytest.mark.parametrize(
    ("where", "rows"),
    [
        ("i8 IN (2, 3)", 2),
        ("u16 >= 2", 2),
        ("f32 > 2", 2),
        ("f32 < 2.5", 1),
        ("s == 'b'", 1),
        ("d >= '2025-01-02'", 2),
        ("d >= DATE '2025-01-03'", 1),
    ],
)
def test_a_literal_is_made_in_the_column_type(where: str, rows: int) -> None:
    expr, _ = scan_filter(where, TABLE.schema, "t")
    assert ds.dataset(TABLE).to_table(filter=expr).num_rows == rows


@pytest.mark.parametrize("where", ["i8 = 300", "d = 5", "i8 = 'x'"])
def test_a_literal_the_column_type_cannot_hold_is_refused(where: str) -> None:
    with pytest.raises(ExpressionError):
        scan_filter(where, TABLE.schema, "t")


@pytest.mark.parametrize("where", ["s == 5", "5 = s", "s IN (1, 2)", "s BETWEEN 1 AND 3", "s != -1"])
def test_a_number_beside_a_text_column_is_refused_not_read_as_text(where: str) -> None:
    """Cast to the text "5" it matched nothing and the read answered 0 rows, silently."""
    from data_platform.lakes.pushdown import iceberg_filter

    with pytest.raises(ExpressionError, match=r"`s` is text and -?\d is a number") as err:
        scan_filter(where, TABLE.schema, "t")
    assert "Quote the value" in (err.value.hint or "")
    with pytest.raises(ExpressionError, match="is text"):
        iceberg_filter(where, TABLE.schema, "t")
    expr, _ = scan_filter("s IN ('1', 'b')", TABLE.schema, "t")
    assert ds.dataset(TABLE).to_table(filter=expr).num_rows == 1


@pytest.mark.parametrize(
    "where",
    ["s LIKE 'b%'", "s ILIKE 'B%'", "s NOT LIKE '%b%'", "s LIKE '_'", "s LIKE 'a' OR s LIKE 'c%'"],
)
def test_like_in_the_scan_keeps_what_duckdb_keeps(where: str) -> None:
    import duckdb

    from data_platform.lakes.pushdown import iceberg_filter

    words = pa.table({"s": ["a", "b", "bb", None, "B", "c_d"]})
    expr, _ = scan_filter(where, words.schema, "t")
    ours = ds.dataset(words).to_table(filter=expr).column("s").to_pylist()
    assert ours == [r[0] for r in duckdb.sql(f"SELECT s FROM words WHERE {where}").fetchall()]
    if where == "s LIKE 'b%'":
        assert "StartsWith" in repr(iceberg_filter(where, words.schema, "t"))
    with pytest.raises(ExpressionError, match="cannot be pushed"):
        scan_filter("s LIKE 'a\\\\%'", words.schema, "t")  # a backslash: pyarrow escapes, DuckDB does not
