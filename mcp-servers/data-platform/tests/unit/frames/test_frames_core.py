"""The frames core without a server: the filter language, the SQL sandbox, paths, readers, ops."""

from __future__ import annotations

import os
import random
import statistics
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_platform.config import load_settings
from data_platform.errors import AlreadyExistsError, ExpressionError, GuardError, InputError, NotFoundError
from data_platform.frames import (
    csv_reader,
    engine,
    grouping,
    joins,
    json_reader,
    ops,
    parquet,
    sniff,
    writers,
)
from data_platform.frames.describe import describe
from data_platform.frames.expr import compile_filter, evaluate
from data_platform.frames.types import parse_type
from data_platform.paths import resolve_path
from data_platform.registry import Registry, Target
from frame_fixtures import write_fixtures

COLS = ["amount", "country", "day", "Order Id"]
SANDBOX = engine.Engine("1GB")  # this module's own locked DuckDB (the server keeps one per state)


# -- the filter language ----------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "sql"),
    [
        ("amount > 100 AND country = 'FR'", "((\"amount\" > 100) AND (\"country\" = 'FR'))"),
        ("amount >= 1 or not country is null", '(("amount" >= 1) OR (NOT ("country" IS NULL)))'),
        ("country IN ('FR', 'D''E')", "(\"country\" IN ('FR', 'D''E'))"),
        ("country not like 'A%'", "(\"country\" NOT LIKE 'A%')"),
        ("day BETWEEN DATE '2024-01-01' AND DATE '2024-12-31'",
         "(\"day\" BETWEEN DATE '2024-01-01' AND DATE '2024-12-31')"),
        ('"Order Id" != 3', '("Order Id" <> 3)'),
        ("AMOUNT * 2 + -1 = 5", '((("amount" * 2) + (-1)) = 5)'),
        ("lower(country) = 'fr'", "(lower(\"country\") = 'fr')"),
    ],
)  # fmt: skip
def test_filter_renders_whitelisted_sql(text: str, sql: str) -> None:
    assert compile_filter(text, COLS, "sales").sql == sql


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ammount > 1", 'column "ammount" not found in `sales`. Did you mean "amount"? Columns: amount'),
        ("amount > 1; DROP TABLE x", "Unexpected character ';'"),
        ("amount > 1 -- x", "Comments are not allowed"),
        ("read_csv_auto('/etc/passwd') IS NULL", "Function read_csv_auto() is not allowed"),
        ("getenv('HOME') = ''", "Function getenv() is not allowed"),
        ("amount IN (SELECT 1)", "SELECT is not allowed in a filter"),
        ("amount > AND", "expected a column or a value"),
        ("amount >", "Bad expression"),
        ("", "empty"),
        ("amount > 1 amount", "missing AND/OR"),
        ("lower(country, 1) = 'x'", "takes 1..1 arguments"),
    ],
)
def test_filter_refuses_what_it_does_not_know(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_filter(text, COLS, "sales")
    assert message in str(info.value)


TOKENS = [*"amount country ()'\";,-*/<>=!|%0123.x", " AND ", " OR ", " IN ", " SELECT ", " NOT ", "--", "/*"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map("".join))
def test_filter_output_only_holds_safe_tokens(text: str) -> None:
    """Whatever the input, the rendered SQL has no statement separators, comments or unknown names."""
    try:
        sql = compile_filter(text, COLS, "sales").sql
    except ExpressionError:
        return
    stripped = "".join(part for i, part in enumerate(sql.split("'")) if i % 2 == 0)  # drop string literals
    assert ";" not in stripped and "--" not in stripped and "/*" not in stripped
    words = {w.lower() for w in __import__("re").findall(r"[A-Za-z_]+", stripped.replace('"amount"', ""))}
    assert words <= {"and", "or", "not", "is", "null", "in", "between", "like", "ilike", "true", "false",
                     "country", "day", "order", "id", "date", "timestamp", "e", "lower", "upper"}  # fmt: skip


DIFF_TABLE = pa.table(
    {
        "i": pa.array([1, 2, None, -5, 990, 991, 0, 7], pa.int64()),
        "i32": pa.array([1, None, 3, 4, 5, 6, 7, 8], pa.int32()),
        "f": pa.array([1.5, float("nan"), None, -0.0, 990.0, 990.5, float("inf"), 2.0]),
        "s": pa.array(["EU", "US", None, "eu", "EU ", "", "O'Neil", "US"]),
        "b": pa.array([True, False, None, True, False, True, None, False]),
        "d": pa.array([18000, 18001, None, 18002, 18003, 18004, 18005, 18006], pa.int32()).cast(pa.date32()),
        "n": pa.array(
            [Decimal(x) if x else None for x in ["1.50", "2", None, "-3.25", "990", "0", "7.1", "2"]],
            pa.decimal128(12, 2),
        ),
    }
)
DIFF_ATOMS = [
    "i > 2", "2 < i", "i >= 990", "i = 7", "i <> 7", "i != 7", "i <= -5", "i < 0.5", "i32 > 4",
    "f > 990", "f >= 990.5", "f < 2", "f = 1.5", "f <> 1.5", "f <= 1e9", "1 < f", "f > -1",
    "s = 'EU'", "s <> 'EU'", "s > 'US'", "s < 'F'", "s = 'O''Neil'",
    "i IN (1, 7, 990)", "i NOT IN (1, 7)", "f IN (1.5, 2)", "f NOT IN (1.5)", "s IN ('EU', 'US')",
    "s NOT IN ('EU', '')", "i32 IN (3, 4)", "i BETWEEN 0 AND 990", "i NOT BETWEEN 0 AND 990",
    "f BETWEEN 0 AND 991", "f NOT BETWEEN 0 AND 991", "s BETWEEN 'A' AND 'Z'",
    "i IS NULL", "f IS NOT NULL", "s IS NULL", "b", "NOT b", "b = true", "b <> false",
    "d >= '2019-04-01'", "i > f", "f = f", "i + 1 > 3", "s LIKE 'E%'", "lower(s) = 'eu'", "i > NULL",
    "n > 1.5", "n = 2", "n IN (1.5, 2)", "n BETWEEN -4 AND 2", "b = true", "i IN (1.5, 7)", "i = 7.0",
    "s IN (1, 2)", "b = 1", "i = '7'", "s = 5", "i IN ('1', '7')", "d IS NULL",
]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.sampled_from(DIFF_ATOMS), min_size=1, max_size=4),
    st.lists(st.sampled_from([" AND ", " OR "]), min_size=3, max_size=3),
    st.lists(st.booleans(), min_size=4, max_size=4),
)
def test_kernel_filter_agrees_with_duckdb(atoms: list[str], joins: list[str], negate: list[bool]) -> None:
    """The fast kernel path must keep exactly the rows DuckDB's SQL keeps: NaN, NULL, -0.0, quotes."""
    parts = [f"NOT ({a})" if n else f"({a})" for a, n in zip(atoms, negate, strict=False)]
    text = parts[0] + "".join(j + p for j, p in zip(joins, parts[1:], strict=False))
    compiled = compile_filter(text, DIFF_TABLE.column_names, "t")
    fast = evaluate(DIFF_TABLE, compiled)
    with SANDBOX.over({"t": DIFF_TABLE}) as con:
        try:
            keep = engine.run(con, f"SELECT {compiled.sql} AS keep FROM t").column(0)
        except ExpressionError:  # e.g. text = 5: the kernels must not answer where SQL refuses
            assert fast is None, text
            return
    if not pa.types.is_boolean(keep.type):
        assert fast is None
        return
    slow = DIFF_TABLE.filter(keep)
    if fast is not None:  # None: DuckDB decides, which is the reference itself
        assert _rows(fast) == _rows(slow), text


def _rows(t: pa.Table) -> list[tuple]:
    """Rows in a fixed order, NaN made comparable (nan != nan in Python)."""
    rows = [tuple("NaN" if isinstance(v, float) and v != v else v for v in r.values()) for r in t.to_pylist()]
    return sorted(rows, key=repr)


def test_kernel_filter_covers_the_common_conditions() -> None:
    for text in [
        "i > 2 AND s = 'EU'",
        "f >= 990 OR i IN (1, 2)",
        "NOT (s IS NULL) AND b",
        "i BETWEEN 1 AND 7",
    ]:
        assert evaluate(DIFF_TABLE, compile_filter(text, DIFF_TABLE.column_names, "t")) is not None, text
    for text in ["d >= '2019-04-01'", "i + 1 > 3", "s LIKE 'E%'", "i > f"]:
        assert evaluate(DIFF_TABLE, compile_filter(text, DIFF_TABLE.column_names, "t")) is None, text


def test_sql_sandbox_allows_one_select_only() -> None:
    assert engine.check_select("  SELECT 1 ; ") == "SELECT 1"
    assert engine.check_select("WITH x AS (SELECT 1 AS a) SELECT a FROM x").startswith("WITH")
    for bad, msg in [
        ("SELECT 1; SELECT 2", "Only one statement"),
        ("COPY t TO 'x.csv'", "got a COPY statement"),
        ("PRAGMA version", "got a PRAGMA statement"),
        ("SET threads=1", "got a SET statement"),
        ("SELEC 1", "syntax error"),
        ("", "empty"),
    ]:
        with pytest.raises(ExpressionError, match=msg):
            engine.check_select(bad)
    with SANDBOX.over({"t": pa.table({"a": [1]})}) as con:
        for q in ("SELECT * FROM read_csv_auto('/etc/passwd')", "SELECT * FROM glob('/*')"):
            with pytest.raises(ExpressionError, match="Not allowed"):
                engine.run(con, q)
        with pytest.raises(ExpressionError, match="locked"):
            engine.run(con, "SET enable_external_access = true")
        with pytest.raises(ExpressionError, match="Not allowed"):
            engine.run(con, "SELECT * FROM read_text('/etc/passwd')")


# -- paths --------------------------------------------------------------------------
def test_paths_are_confined_to_allowed_roots(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "a.csv").write_text("x\n1\n")
    outside = tmp_path / "outside.csv"
    outside.write_text("x\n1\n")
    (project / "link.csv").symlink_to(outside)
    s = load_settings(project, environ={"DATA_PLATFORM_ALLOWED_ROOTS": str(project)})
    assert resolve_path("a.csv", s) == project / "a.csv"
    with pytest.raises(InputError, match="outside the allowed folders"):
        resolve_path("link.csv", s)  # the link's target is what counts
    with pytest.raises(InputError, match="outside the allowed folders"):
        resolve_path("../outside.csv", s)
    with pytest.raises(InputError, match="NUL"):
        resolve_path("a\x00.csv", s)
    with pytest.raises(NotFoundError, match=r"Files in .*a\.csv"):
        resolve_path("b.csv", s)
    assert resolve_path("out/new.csv", s, for_write=True) == project / "out/new.csv"
    with pytest.raises(InputError, match="outside"):
        resolve_path("~/x.csv", s, for_write=True)
    with pytest.raises(InputError, match="no user named"):  # found by the fuzzer: was a RuntimeError
        resolve_path("~no_such_user_dp/x.csv", s)


# -- readers -----------------------------------------------------------------------
def _target(reg: Registry, name: str | None = None, overwrite: bool = False) -> Target:
    return Target(reg, name, overwrite, "test", "data")


def test_sniffing_headers_and_decimal_commas(tmp_path: Path) -> None:
    d = sniff.sniff_csv("a|b\n1|2\n", 0, None, None)
    assert (d.sep, d.header, d.names) == ("|", True, ["a", "b"])
    d = sniff.sniff_csv("x,y\nz,w\n", 0, None, None)
    assert d.header is True  # all text, but the first row never repeats below
    d = sniff.sniff_csv("1,2\n3,4\n", 0, None, None)
    assert (d.header, d.names) == (False, ["column_1", "column_2"])
    d = sniff.sniff_csv("junk line\nk;v\na;1,5\n", 1, None, None)
    assert (d.sep, d.names, d.comma_decimal) == (";", ["k", "v"], True)


def test_csv_cut_in_ranges_equals_the_streaming_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ranges cut at newlines, parsed one by one: same table as one stream; a quoted newline past
    the first range, or a type that changes later, still ends as the streaming reader ends."""
    n = 8000  # past the 256 KB the sniffer reads
    rows = "".join(f'{i},"name {i}, with comma",{i * 0.5},2024-01-{i % 28 + 1:02d}\n' for i in range(n))
    path = tmp_path / "r.csv"
    path.write_text("id,name,x,day\n" + rows)
    reg = Registry(tmp_path / "reg")
    csv_reader.read_csv(path, _target(reg, "one"), max_rows=10_000)  # one 32 MB range
    monkeypatch.setattr(csv_reader, "SPLIT_BYTES", 4096)
    csv_reader.read_csv(path, _target(reg, "cut"), max_rows=10_000)
    assert reg.get("cut").equals(reg.get("one")) and reg.get("cut").num_rows == n
    assert reg.get("cut").schema.field("day").type == pa.date32()
    # A quoted newline far past the sniffed sample: the cut path errs, the quote-aware pass reads it.
    text = path.read_text()
    path.write_text(text + f'{n},"two\nlines",1.0,2024-02-01\n')
    csv_reader.read_csv(path, _target(reg, "late"), max_rows=10_000)
    assert reg.get("late").column("name").to_pylist()[-1] == "two\nlines"
    assert reg.get("late").num_rows == n + 1
    path.write_text(text + f"{n},late text,not a number,2024-02-01\n")  # x was float for 8,000 rows
    csv_reader.read_csv(path, _target(reg, "typed"), max_rows=10_000)
    monkeypatch.setattr(csv_reader, "_split_csv", lambda *args: None)  # the one-stream reader, for reference
    csv_reader.read_csv(path, _target(reg, "typed_stream"), max_rows=10_000)
    assert reg.get("typed").equals(reg.get("typed_stream"))
    assert reg.get("typed").schema.field("x").type == pa.string()  # as one stream reads a small file
    with pytest.raises(GuardError):
        csv_reader.read_csv(path, _target(reg, "guarded"), max_rows=100)
    assert not reg.exists("guarded")


def test_guard_chunked_equals_whole_and_parquet_guard_is_free(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    path = tmp_path / "n.csv"
    path.write_text("id,g\n" + "".join(f"{i},{i % 3}\n" for i in range(5000)))
    with pytest.raises(GuardError) as info:
        csv_reader.read_csv(path, _target(reg), max_rows=1000)
    assert info.value.details["rows"] == 5000 and reg.names() == []
    whole = csv_reader.read_csv(path, _target(reg, "whole"), max_rows=10_000)
    chunked = csv_reader.read_csv(path, _target(reg, "chunked"), max_rows=1000, chunk_size=1000)
    assert reg.get("whole").equals(reg.get("chunked"))
    assert chunked.info.rows == whole.info.rows == 5000
    assert sum(1 for _ in reg.batches("chunked")) >= 5  # really written in pieces
    first = csv_reader.read_csv(path, _target(reg, "first"), max_rows=10, nrows=7)
    assert first.info.rows == 7
    with pytest.raises(AlreadyExistsError):
        csv_reader.read_csv(path, _target(reg, "whole"), max_rows=10_000)
    pq.write_table(reg.get("whole"), tmp_path / "n.parquet")
    with pytest.raises(GuardError, match="5,000 rows"):
        parquet.read_parquet(tmp_path / "n.parquet", _target(reg), max_rows=100)
    pc = parquet.read_parquet(tmp_path / "n.parquet", _target(reg, "pc"), max_rows=100, chunk_size=1000)
    assert pc.info.rows == 5000


def test_csv_dtype_and_date_format(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    path = tmp_path / "d.csv"
    path.write_text("when,price\n31/12/2024,1.10\n01/02/2025,2.00\n")
    loaded = csv_reader.read_csv(
        path,
        _target(reg),
        max_rows=10,
        dtype={"when": "date", "price": "decimal(6,2)"},
        date_format="%d/%m/%Y",
    )
    t = reg.get(loaded.info.name)
    assert t.schema.field("when").type == pa.date32() and t.schema.field("price").type == pa.decimal128(6, 2)
    assert [str(v) for v in t.column("when").to_pylist()] == ["2024-12-31", "2025-02-01"]
    assert parse_type("timestamp[tz=UTC]") == pa.timestamp("us", tz="UTC")
    with pytest.raises(InputError, match="Unknown type"):
        parse_type("money")


def test_json_lines_in_latin1_and_zip(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    path = tmp_path / "l.jsonl"
    path.write_bytes('{"name": "Zoë", "n": 1}\n{"name": "Ané", "n": 2}\n'.encode("latin-1"))
    loaded = json_reader.read_json(path, _target(reg), max_rows=10)
    assert reg.get(loaded.info.name).column("name").to_pylist() == ["Zoë", "Ané"]
    assert not [p for p in reg.root.iterdir() if p.name.startswith(".tmp-")]  # temp copy removed


@pytest.mark.slow  # a 70 MB file, read twice (~5 s)
def test_json_with_an_object_beyond_the_small_buffers_is_read_again_with_large_ones(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    path = tmp_path / "big.jsonl"
    # A 70 MB record, past what 32 MB buffers take (DuckDB allows twice the setting): whitespace
    # between its keys, which DuckDB skips at ~30 MB/s, where a 70 MB string took ~100 s.
    padding, blob = 70 * 1024 * 1024, 64 * 1024
    with path.open("w") as f:
        f.write('{"id": 1,' + " " * padding + '"blob": "' + "x" * blob + '"}\n{"id": 2, "blob": "y"}\n')
    loaded = json_reader.read_json(path, _target(reg), max_rows=10)
    t = reg.get(loaded.info.name)
    assert t.column("id").to_pylist() == [1, 2]
    assert [len(v) for v in t.column("blob").to_pylist()] == [blob, 1]


# -- ops -------------------------------------------------------------------------------
@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    r = Registry(tmp_path / "reg")
    r.put(
        pa.table({"g": ["a", "b", "a", "b", "a"], "x": [1, 2, 3, 4, 10], "y": [1.0, None, 3.0, 4.0, 5.0]}),
        name="t",
        source="test",
    )
    r.put(pa.table({"g": ["a", "c"], "label": ["A", "C"], "x": [0, 0]}), name="u", source="test")
    return r


def test_groupby_every_function_matches_hand_computed(reg: Registry) -> None:
    aggs = {
        "s": "sum(x)", "m": "mean(x)", "lo": "min(x)", "hi": "max(x)", "n": "count(*)", "ny": "count(y)",
        "d": "count_distinct(x)", "sd": "std(x)", "f": "first(x)", "l": "last(x)",
    }  # fmt: skip
    for extra in ({}, {"med": "median(x)"}):  # pyarrow path, then the DuckDB path
        res = grouping.groupby(reg, "t", ["g"], {**aggs, **extra}, ops.Output(overwrite=True, name="gb"))
        rows = {r["g"]: r for r in reg.get(res.info.name).to_pylist()}
        a, b = rows["a"], rows["b"]
        assert (a["s"], a["lo"], a["hi"], a["n"], a["ny"], a["d"], a["f"], a["l"]) == (
            14,
            1,
            10,
            3,
            3,
            3,
            1,
            10,
        )
        assert a["m"] == pytest.approx(14 / 3) and a["sd"] == pytest.approx(statistics.stdev([1, 3, 10]))
        assert (b["s"], b["n"], b["ny"], b["f"], b["l"]) == (6, 2, 1, 2, 4)
        if extra:
            assert (a["med"], b["med"]) == (3.0, 3.0)


def test_groupby_with_no_key_aggregates_the_whole_table(reg: Registry) -> None:
    """pandas' df.agg: by=[] is one group, the whole table (it was refused), on both engines."""
    aggs = {"s": "sum(x)", "n": "count(*)", "ny": "count(y)", "f": "first(x)", "l": "last(x)", "sd": "std(x)"}
    for extra in ({}, {"med": "median(x)"}):  # pyarrow path, then the DuckDB path
        res = grouping.groupby(reg, "t", [], {**aggs, **extra}, ops.Output(overwrite=True, name="all"))
        (row,) = reg.get(res.info.name).to_pylist()
        assert (row["s"], row["n"], row["ny"], row["f"], row["l"]) == (20, 5, 4, 1, 10)
        assert row["sd"] == pytest.approx(statistics.stdev([1, 2, 3, 4, 10]))
        assert "the whole table as one group" in " ".join(res.notes)
        if extra:
            assert row["med"] == 3.0


def test_join_kinds_and_suffixes(reg: Registry) -> None:
    def run(how: str) -> list[dict]:
        res = joins.join(reg, "t", "u", on=["g"], left_on=None, right_on=None, how=how, suffixes=("_l", "_r"),
                       out=ops.Output(f"j_{how}"))  # fmt: skip
        return reg.get(res.info.name).to_pylist()

    inner = run("inner")
    assert len(inner) == 3 and {r["label"] for r in inner} == {"A"} and set(inner[0]) >= {"x_l", "x_r"}
    assert len(run("left")) == 5
    assert sorted(r["g"] for r in run("outer")) == ["a", "a", "a", "b", "b", "c"]
    assert sorted(r["x"] for r in run("anti")) == [2, 4]
    assert sorted(r["x"] for r in run("semi")) == [1, 3, 10]


@pytest.mark.parametrize("dimension", [True, False], ids=["unique-right-keys", "repeated-right-keys"])
def test_join_matches_pyarrow_whole_or_streamed(tmp_path: Path, dimension: bool) -> None:
    """Joins that cannot multiply rows are computed whole; the others stream Acero's batches into
    the ref. Every kind, both ways, must equal pyarrow's in-memory join."""
    rng = random.Random(7)
    n = 300_000
    reg = Registry(tmp_path / "big")
    keys = [rng.randrange(1200) for _ in range(n)]
    left = pa.table({"k": keys, "x": list(range(n)), "s": [f"s{i % 97}" for i in range(n)]})
    rkeys = list(range(1000)) if dimension else [i % 700 for i in range(1000)]  # 1000-1199: no match
    right = pa.table({"k": rkeys, "x": [i * 2.0 for i in range(1000)]})
    reg.put(left, name="l", source="test")
    reg.put(right, name="r", source="test")
    for how, kind in joins.JOIN_TYPES.items():
        whole = _fits(left, right, ["k"], how)
        assert whole == (how in ("semi", "anti") or (dimension and how != "right")), how
        res = joins.join(reg, "l", "r", on=["k"], left_on=None, right_on=None, how=how,
                       suffixes=("_l", "_r"), out=ops.Output(f"j_{how}"))  # fmt: skip
        got = reg.get(res.info.name)
        want = left.join(right, "k", join_type=kind, left_suffix="_l", right_suffix="_r", coalesce_keys=True)
        assert got.schema.names == want.schema.names, how
        order = [(c, "ascending") for c in want.schema.names]
        assert got.sort_by(order).equals(want.sort_by(order)), how
        assert res.info.rows == want.num_rows and res.head.num_rows == min(50, want.num_rows)
    if not dimension:
        assert reg.reader("j_inner").num_record_batches > 1  # really streamed in batches


def test_a_join_that_could_be_too_big_for_memory_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    left = pa.table({"k": [1, 2, 3], "a": ["x", "y", "z"]})
    right = pa.table({"k": [1, 2], "b": [1.0, 2.0]})
    assert _fits(left, right, ["k"], "inner")
    assert _fits(left, right, ["k"], "right")  # the kept side is the right one
    repeated = pa.table({"k": [1, 1, 2], "a": ["x", "y", "z"]})
    assert not _fits(repeated, right, ["k"], "right")  # rows of right could repeat
    assert _fits(repeated, right, ["k"], "left")
    nulls = pa.table({"k": [1, None, None], "b": [1.0, 2.0, 3.0]})
    assert _fits(left, nulls, ["k"], "inner")  # NULL keys match nothing: no row can repeat
    assert left.join(nulls, "k", join_type="left outer").num_rows == left.num_rows
    pairs = pa.table({"k": [1, 1], "j": [1, 2], "b": [1.0, 2.0]})
    wide = left.append_column("j", pa.array([1, 2, 3]))
    assert _fits(wide, pairs, ["k", "j"], "left")  # unique as a pair
    monkeypatch.setattr(joins, "JOIN_IN_MEMORY", 10)
    assert not _fits(left, right, ["k"], "inner")


def _fits(left: pa.Table, right: pa.Table, keys: list[str], how: str) -> bool:
    """joins._fits_in_memory given the other side's repeats, as the join counts them."""
    from data_platform.frames import joinkeys

    other = left if how == "right" else right
    return joins._fits_in_memory(left, right, joinkeys.repeats(other, keys), how)


def test_join_falls_back_to_duckdb_for_nested_columns(reg: Registry) -> None:
    reg.put(pa.table({"g": ["a", "b"], "n": [{"k": [1]}, {"k": []}]}), name="nested", source="test")
    res = joins.join(
        reg,
        "t",
        "nested",
        on=["g"],
        left_on=None,
        right_on=None,
        how="left",
        suffixes=("_x", "_y"),
        out=ops.Output(),
    )
    rows = reg.get(res.info.name).to_pylist()
    assert len(rows) == 5 and {r["g"]: r["n"] for r in rows}["a"] == {"k": [1]}


def test_filter_sql_sort_sample_select(reg: Registry) -> None:
    res = ops.filter_rows(reg, "t", "x >= 3 AND y IS NOT NULL", ops.Output())
    assert res.info.name == "t_filtered" and reg.get("t_filtered").column("x").to_pylist() == [3, 4, 10]
    res = ops.sql(reg, "SELECT t.g, label FROM t JOIN u USING (g) ORDER BY t.x", ops.Output())
    assert reg.get(res.info.name).column("label").to_pylist() == ["A", "A", "A"]
    assert ops.sort(reg, "t", ["-y", "x"], ops.Output("s")).head.column("x").to_pylist() == [10, 4, 3, 1, 2]
    a = ops.sample(reg, "t", 3, None, 1, ops.Output("s1")).head.column("x").to_pylist()
    b = ops.sample(reg, "t", 3, None, 1, ops.Output("s2")).head.column("x").to_pylist()
    assert a == b and len(a) == 3
    sel = ops.select(reg, "t", ["x", "G"], {"x": "value"}, ops.Output())
    assert sel.head.column_names == ["value", "g"]


def test_a_separator_pyarrow_cannot_take_is_refused_and_a_written_tab_is_a_tab(tmp_path: Path) -> None:
    """`sep="é"` (found by the fuzz) and `sep="\\x00"` were internal errors (pyarrow's ValueError);
    `sep="\\t"` as backslash + t, what a model's JSON often carries, means a tab."""
    reg = Registry(tmp_path / "reg")
    path = tmp_path / "t.tsv"
    path.write_text("a\tb\n1\t2\n")
    for sep in ("é", "\x00", "\n", ";;"):
        with pytest.raises(InputError, match="one printable ASCII character or a tab") as refused:
            csv_reader.read_csv(path, _target(reg, "x"), max_rows=10, sep=sep)
        assert "sep=';'" in (refused.value.hint or "")
    for sep in ("\\t", "tab", "\t"):
        res = csv_reader.read_csv(path, _target(reg, None), max_rows=10, sep=sep)
        assert res.head.column_names == ["a", "b"]
    out = tmp_path / "out.tsv"
    with pytest.raises(InputError, match="one printable ASCII character or a tab"):
        writers.write_csv(reg, res.info.name, out, overwrite=False, mkdirs=False, sep="é")
    writers.write_csv(reg, res.info.name, out, overwrite=False, mkdirs=False, sep="\\t")
    assert out.read_text().splitlines() == ['"a"\t"b"', "1\t2"]


def test_a_result_repeating_a_column_name_past_the_preview_is_stored_and_previewed(reg: Registry) -> None:
    """`SELECT 1, 1, ...` names 300 columns "1": the preview picked its columns by name and the
    fuzzer's call was an internal error. Stored with unique names (1, 1_1, ...), said in a note."""
    res = ops.sql(reg, "SELECT " + ", ".join(["1"] * 300), ops.Output())
    stored = reg.get(res.info.name)
    assert stored.num_columns == 300 and stored.column_names[:3] == ["1", "1_1", "1_2"]
    assert len(set(stored.column_names)) == 300
    assert res.head.num_columns == 12 and res.head.column_names == stored.column_names[:12]
    assert res.notes[0].startswith("Repeated column names renamed (a ref's names are unique): 1 -> 1_1, ")


def test_repeated_names_become_what_duckdbs_create_table_as_makes_them() -> None:
    """One naming for a repeated column, whichever engine's result it is: DuckDB's own, checked here
    against DuckDB (a name already taken is skipped: x, x, x_1 gives x, x_1, x_1_1)."""
    import duckdb

    from data_platform.registry.names import unique_names

    for names in (["x", "x", "x", "x_1"], ["a", "b", "a", "a_1", "a"], ["k", "v"]):
        con = duckdb.connect()
        select = ", ".join(f'{i} AS "{n}"' for i, n in enumerate(names))
        con.execute(f"CREATE TABLE t AS SELECT {select}")
        expected = [row[0] for row in con.execute("SELECT name FROM pragma_table_info('t')").fetchall()]
        got, said = unique_names(names)
        assert got == expected, (names, got, expected)
        assert (said == "") == (len(set(names)) == len(names))


def test_a_csv_header_repeating_a_name_is_a_header_with_unique_names(tmp_path: Path) -> None:
    """`amount,amount,region` above numbers was read as data (every column text, named column_1...):
    a repeated label above a numeric column is still a header."""
    d = sniff.sniff_csv("amount,amount,region\n10,12,EU\n5,6,US\n", 0, None, None)
    assert (d.header, d.names) == (True, ["amount", "amount_1", "region"])
    assert d.renamed == "Repeated column names renamed (a ref's names are unique): amount -> amount_1."
    d = sniff.sniff_csv("EU,EU,x\nUS,FR,y\n", 0, None, None)
    assert d.header is False  # all text, a value repeated across the first row: data


def test_describe_matches_pandas_definitions(reg: Registry) -> None:
    _, stats, left = describe(reg, "t")
    assert left == []
    x = {s.name: s for s in stats}["x"].stats
    assert (x["mean"], x["min"], x["25%"], x["50%"], x["75%"], x["max"]) == (4.0, 1, 2.0, 3.0, 4.0, 10)
    assert x["std"] == pytest.approx(statistics.stdev([1, 2, 3, 4, 10]), rel=1e-5)
    g = {s.name: s for s in stats}["g"].stats
    assert g == {"distinct": 2, "top": "a", "freq": 3, "min": "a", "max": "b"}


def test_describe_takes_64_bit_ids_and_nanosecond_times(tmp_path: Path) -> None:
    """Snowflake-style ids past 2**53 and nanosecond timestamps off the microsecond (pandas' own
    resolution) are described: they raised ArrowInvalid / ValueError (pyarrow's checked cast to
    float, and a Python datetime that cannot hold nanoseconds)."""
    reg = Registry(tmp_path / "reg")
    ids = [1_400_000_000_000_000_001, 1_400_000_000_000_000_003, 1_400_000_000_000_000_002]
    stamps = pa.array([1_704_067_200_000_000_001, 1_704_067_200_500_000_000, None], pa.timestamp("ns"))
    reg.put(pa.table({"id": ids, "at": stamps}), name="t", source="test")
    _, stats, _ = describe(reg, "t")
    by = {s.name: s.stats for s in stats}
    assert (by["id"]["min"], by["id"]["max"]) == ("1400000000000000001", "1400000000000000003")
    assert by["id"]["mean"] == pytest.approx(1.4e18)
    assert by["at"]["min"] == "2024-01-01T00:00:00.000000001"  # Arrow's text, to the nanosecond
    assert by["at"]["max"] == "2024-01-01T00:00:00.500000"  # a whole microsecond: Python's, as before


def test_describe_quantiles_of_integers_are_numpys_linear_percentiles(tmp_path: Path) -> None:
    """Integer columns take pyarrow's integer quantiles (a narrow range is counted, not selected among
    float copies): the same 25/50/75% as numpy's linear percentiles, narrow and wide, with nulls."""
    import numpy as np

    rng = random.Random(7)
    narrow = [rng.randrange(0, 50) for _ in range(20_001)]
    wide = [rng.randrange(-(2**40), 2**40) for _ in range(20_001)]
    small = pa.array([rng.randrange(0, 200) if i % 9 else None for i in range(20_001)], pa.int32())
    reg = Registry(tmp_path / "reg")
    reg.put(pa.table({"narrow": narrow, "wide": wide, "small": small}), name="ints", source="t")
    _, stats, _ = describe(reg, "ints")
    for s in stats:
        values = np.array([v for v in reg.get("ints").column(s.name).to_pylist() if v is not None])
        expected = np.percentile(values.astype(np.float64), [25, 50, 75], method="linear")
        got = [s.stats["25%"], s.stats["50%"], s.stats["75%"]]
        assert got == pytest.approx(list(expected), rel=1e-5), s.name  # shown to 6 significant digits
        assert s.stats["mean"] == pytest.approx(float(values.mean()), rel=1e-5)


def test_head_and_tail_read_only_what_they_show(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    with reg.writer(name="big", schema=pa.schema([("i", pa.int64())]), source="t") as w:
        for start in range(0, 100_000, 10_000):
            w.write(pa.table({"i": pa.array(range(start, start + 10_000), type=pa.int64())}))
    pulled = []
    batches = reg.batches

    def counted(ref: str):  # how many batches head takes (each is read and validated)
        for b in batches(ref):
            pulled.append(b.num_rows)
            yield b

    reg.batches = counted  # type: ignore[method-assign]
    info, t = ops.head(reg, "big", 3)
    assert info.rows == 100_000 and t.column("i").to_pylist() == [0, 1, 2] and len(pulled) == 1
    pulled.clear()
    _, t = ops.head(reg, "big", 10_002)
    assert t.column("i").to_pylist() == list(range(10_002)) and len(pulled) == 2
    _, t = ops.tail(reg, "big", 3)
    assert t.column("i").to_pylist() == [99_997, 99_998, 99_999]


def test_fixture_files_read_in_core(tmp_path: Path) -> None:
    data = write_fixtures(tmp_path)
    reg = Registry(tmp_path / "reg")
    for name in ("sales.csv", "sales.csv.gz", "sales.zip"):
        loaded = csv_reader.read_csv(data / name, _target(reg, name.replace(".", "_")), max_rows=100)
        assert loaded.info.rows == 5
    assert os.path.exists(data / "typed.parquet")


FRAME_TOOLS = {
    "read_csv", "read_parquet", "read_json", "to_csv", "to_parquet", "describe", "head", "tail",
    "filter", "select", "groupby", "join", "sql", "sort", "sample",
}  # fmt: skip


def test_frame_tools_fit_their_share_of_the_budget(tmp_path: Path) -> None:
    from data_platform.contract import model_facing_size, tool_surface

    surface = [
        t
        for t in tool_surface(load_settings(tmp_path, {}, tmp_path / "none.env"))
        if t["name"] in FRAME_TOOLS
    ]
    assert {t["name"] for t in surface} == FRAME_TOOLS
    assert model_facing_size(surface) <= 7_200


def test_filter_keeps_row_order_over_many_batches_and_wants_a_condition(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    with reg.writer(name="big", schema=pa.schema([("i", pa.int64())]), source="t") as w:
        for start in range(0, 200_000, 10_000):
            w.write(pa.table({"i": pa.array(range(start, start + 10_000), type=pa.int64())}))
    res = ops.filter_rows(reg, "big", "i % 7 = 3 OR i < 2", ops.Output())
    assert reg.get(res.info.name).column("i").to_pylist() == [
        i for i in range(200_000) if i % 7 == 3 or i < 2
    ]
    with pytest.raises(ExpressionError, match="must be a condition"):
        ops.filter_rows(reg, "big", "i + 1", ops.Output())


def test_a_path_too_long_for_the_os_is_a_clear_error(tmp_path: Path) -> None:
    from data_platform.config import load_settings
    from data_platform.errors import InputError
    from data_platform.paths import resolve_path

    settings = load_settings(tmp_path, {}, tmp_path / "none.env")
    for for_write in (False, True):
        with pytest.raises(InputError, match="Cannot use the path"):
            resolve_path("x" * 300 + ".csv", settings, for_write=for_write)


def test_a_wrong_encoding_is_an_input_error_saying_what_works(tmp_path: Path) -> None:
    """utf-16 without a byte-order mark raises UnicodeError, not UnicodeDecodeError: the fuzzer found it."""
    reg = Registry(tmp_path / "reg")
    path = tmp_path / "small.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match=r"not valid utf-16: UTF-16 stream does not start with BOM") as err:
        csv_reader.read_csv(path, _target(reg), max_rows=10, encoding="utf-16")
    assert "Leave encoding out" in (err.value.hint or "")
    with pytest.raises(InputError, match=r"not valid utf-16"):
        json_reader.read_json(path, _target(reg), max_rows=10, encoding="utf-16")


def test_damaged_compressed_csv_and_json_are_input_errors(tmp_path: Path) -> None:
    """A body that fails mid-stream (the first 256 KB sniffed fine) names the file; nothing is made."""
    import gzip

    rows = "".join(f"{i},n{i % 50},{i / 3}\n" for i in range(200_000))
    packed = gzip.compress(("id,name,amount\n" + rows).encode())
    (tmp_path / "cut.csv.gz").write_bytes(packed[: len(packed) // 2])
    scrambled = bytearray(packed)
    for i in range(len(scrambled) // 3, len(scrambled) // 2):
        scrambled[i] = (scrambled[i] * 7 + 1) % 256
    (tmp_path / "bad.csv.gz").write_bytes(bytes(scrambled))
    lines = "\n".join(f'{{"id": {i}, "x": "v{i}"}}' for i in range(100_000))
    (tmp_path / "bad.json").write_text(lines[: len(lines) // 2] + '\n{"id": 5, "x": "\x01')
    reg = Registry(tmp_path / "reg")
    for name, reader, message in [
        ("cut.csv.gz", csv_reader.read_csv, "Cannot read cut.csv.gz: Compressed file ended"),
        ("bad.csv.gz", csv_reader.read_csv, "Cannot read bad.csv.gz: Error -3 while decompressing"),
        ("bad.json", json_reader.read_json, "Cannot parse bad.json as JSON: .*Malformed JSON"),
    ]:
        with pytest.raises(InputError, match=message):
            reader(tmp_path / name, _target(reg), max_rows=10**9)
    assert reg.names() == []
