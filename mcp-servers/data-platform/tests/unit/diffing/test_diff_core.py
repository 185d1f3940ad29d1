"""The diff core (SQL generator + runner) on DuckDB, checked against counts computed with pyarrow."""

from __future__ import annotations

import functools

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from data_platform.diffing import compare, sql, text
from data_platform.errors import InputError


def _materialise(con: duckdb.DuckDBPyConnection):
    def keep(select: str) -> str:
        con.execute(f"CREATE OR REPLACE TEMP TABLE dp_rows AS {select}")
        return "dp_rows"

    return keep


@pytest.fixture(params=["join", "materialised", "one_pass"])
def run(request: pytest.FixtureRequest):
    """The diff by each strategy: one query per question, the differing rows kept in a temp table,
    or (DuckDB) one aggregate that also proves the keys unique (else the materialised steps)."""
    return functools.partial(_run, strategy=request.param)


def _run(
    left: pa.Table, right: pa.Table, key, dialect: sql.Dialect = sql.DUCKDB, *, strategy: str, **kw
) -> compare.DiffResult:
    con = duckdb.connect()
    con.register("l_t", left)
    con.register("r_t", right)
    if strategy != "join":
        kw["materialise"] = _materialise(con)
    kw["one_pass"] = strategy == "one_pass"
    return compare.diff(
        lambda q: con.sql(q).to_arrow_table(),
        '"l_t"',
        '"r_t"',
        compare.arrow_columns(left.schema),
        compare.arrow_columns(right.schema),
        key,
        dialect=dialect,
        **kw,
    )


LEFT = pa.table(
    {
        "id": [1, 2, 3, 4, 5, 6],
        "amount": [10.0, 20.0, 30.0, None, 50.0, 60.0],
        "region": ["EU", "US", "EU", "US", None, "EU"],
        "gone": [1, 1, 1, 1, 1, 1],
    }
)
RIGHT = pa.table(
    {
        "id": [1, 2, 3, 4, 5, 7],
        "amount": [10.0, 20.005, 31.5, 4.0, 50.0, 70.0],
        "region": ["EU", "US", "EU", "US", None, "US"],
        "new": ["a", "b", "c", "d", "e", "f"],
    }
)


def _changed_by_pyarrow(left: pa.Table, right: pa.Table, key: str, col: str, tol: float = 0.0) -> int:
    joined = left.select([key, col]).join(right.select([key, col]), key, join_type="inner", right_suffix="_r")
    a, b = joined.column(col), joined.column(col + "_r")
    one_null = pc.xor(pc.is_null(a), pc.is_null(b))
    both = pc.and_(pc.is_valid(a), pc.is_valid(b))
    if pa.types.is_floating(a.type):
        differ = pc.greater(pc.abs(pc.subtract(a, b)), tol)
    else:
        differ = pc.not_equal(a, b)
    differ = pc.fill_null(differ, False)
    return int(pc.sum(pc.or_(one_null, pc.and_(both, differ))).as_py() or 0)


@pytest.mark.parametrize("dialect", [sql.DUCKDB, sql.Dialect(distinct_from=False)])
def test_keyed_counts_match_pyarrow(dialect: sql.Dialect, run) -> None:
    r = run(LEFT, RIGHT, ["id"], dialect)
    s = r.keyed
    assert s is not None
    lids, rids = set(LEFT["id"].to_pylist()), set(RIGHT["id"].to_pylist())
    assert (s.only_left, s.only_right) == (len(lids - rids), len(rids - lids)) == (1, 1)
    per = {c.name: c for c in s.columns}
    assert set(per) == {"amount", "region"}  # gone/new are on one side only
    assert per["amount"].changed == _changed_by_pyarrow(LEFT, RIGHT, "id", "amount") == 3
    assert per["region"].changed == _changed_by_pyarrow(LEFT, RIGHT, "id", "region") == 0
    assert per["amount"].max_abs_diff == pytest.approx(1.5)
    assert s.changed == 3 and s.same == 2
    assert (r.left_rows, r.right_rows) == (6, 6)
    assert r.schema.only_left == ["gone"] and r.schema.only_right == ["new"]
    assert r.examples["changed"].column("id").to_pylist() == [2, 3, 4]
    assert r.examples["only_left"].column("id").to_pylist() == [6]
    assert r.examples["only_right"].column("id").to_pylist() == [7]
    line = text.headline(r, "prod", "dev")
    assert line.startswith("2 rows match; 1 only in prod; 1 only in dev; 3 changed: amount (3, max diff 1.5)")


def test_tolerance(run) -> None:
    r = run(LEFT, RIGHT, ["id"], tolerance=0.01)
    per = {c.name: c for c in r.keyed.columns}
    assert per["amount"].changed == _changed_by_pyarrow(LEFT, RIGHT, "id", "amount", 0.01) == 2
    assert r.keyed.same == 3


def test_duplicate_keys_reported_not_joined(run) -> None:
    left = pa.table({"k": [1, 1, 2, 3, 3, 3], "v": [1, 2, 3, 4, 5, 6]})
    right = pa.table({"k": [1, 2, 2, 3], "v": [1, 3, 3, 9]})
    r = run(left, right, ["k"])
    assert r.duplicates == {"left": (2, 5), "right": (1, 2)}
    s = r.keyed
    # Left keeps k=2 only, right keeps k=1 and k=3: nothing matches, nothing multiplied.
    assert (s.same, s.changed, s.only_left, s.only_right) == (0, 0, 1, 2)
    assert (r.left_rows, r.right_rows) == (6, 4)
    assert r.examples["duplicates_left"].to_pylist() == [{"k": 3, "rows": 3}, {"k": 1, "rows": 2}]
    assert "2 duplicate keys in left (5 rows, not compared)" in text.headline(r)


def test_composite_key_and_type_change(run) -> None:
    left = pa.table({"a": [1, 1, 2], "b": ["x", "y", "x"], "v": pa.array([1, 2, 3], pa.int32())})
    right = pa.table({"a": [1, 1, 2], "b": ["x", "y", "z"], "v": pa.array([1.0, 2.5, 3.0], pa.float64())})
    r = run(left, right, ["a", "b"])
    assert r.schema.type_changed == [("v", "int32", "double")]
    s = r.keyed
    assert (s.same, s.changed, s.only_left, s.only_right) == (1, 1, 1, 1)
    assert s.columns[0].max_abs_diff == pytest.approx(0.5)  # int vs float still compares as numbers


def test_keyless_multiset_against_pyarrow(run) -> None:
    left = pa.table({"a": [1, 1, 1, 2, None], "b": ["x", "x", "x", "y", None]})
    right = pa.table({"a": [1, 2, 2, None, 5], "b": ["x", "y", "y", None, "q"]})
    r = run(left, right, None)
    m = r.multiset
    # Counted independently: group each side by all columns and subtract the counts.
    lg = {
        (x["a"], x["b"]): x["count"]
        for x in left.group_by(["a", "b"])
        .aggregate([([], "count_all")])
        .rename_columns(["a", "b", "count"])
        .to_pylist()
    }
    rg = {
        (x["a"], x["b"]): x["count"]
        for x in right.group_by(["a", "b"])
        .aggregate([([], "count_all")])
        .rename_columns(["a", "b", "count"])
        .to_pylist()
    }
    only_left = sum(max(0, n - rg.get(k, 0)) for k, n in lg.items())
    only_right = sum(max(0, n - lg.get(k, 0)) for k, n in rg.items())
    assert (m.only_left, m.only_right, m.same) == (only_left, only_right, 3) == (2, 2, 3)
    ex = r.examples["only_left"].to_pylist()
    assert ex == [{"a": 1, "b": "x", "left_count": 3, "right_count": 1}]
    assert "3 rows on both sides; 2 only in left; 2 only in right" in text.headline(r)


def test_bad_key_names_the_columns(run) -> None:
    with pytest.raises(InputError) as err:
        run(LEFT, RIGHT, ["idd"])
    assert "Did you mean 'id'?" in str(err.value)
    with pytest.raises(InputError, match="not in the right"):
        run(LEFT, RIGHT, ["gone"])


def test_quoting_is_pluggable() -> None:
    backtick = sql.Dialect(quote=lambda n: "`" + n.replace("`", "``") + "`")
    plan = sql.KeyedDiff("t1", "t2", [sql.Col("id")], [sql.Col("we`ird", numeric=True)], dialect=backtick)
    q = plan.summary_sql()
    assert "`we``ird`" in q and '"' not in q
