"""filter reads pandas.query idioms, safely: each idiom's rows checked by hand on a small table,
the kernel path against DuckDB, the SQL forms unchanged, and the tool's notes and errors."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_platform.errors import ExpressionError
from data_platform.frames import engine, ops
from data_platform.frames.expr import compile_filter, evaluate
from data_platform.registry import Registry
from harness import call, call_error, inmemory, text_of

D = dt.date
T = pa.table(
    {
        "id": [1, 2, 3, 4, 5, 6],
        "country": ["FR", "DE", None, "fr", "US", "FR"],
        "amount": [150.0, 50.0, 200.0, float("nan"), None, 100.0],
        "name": ["Anna", "bob", "Ann-Marie", None, "Zed", "a.b"],
        "order date": [D(2024, 1, 5), D(2024, 2, 10), D(2024, 3, 15), D(2024, 4, 20), None, D(2024, 6, 30)],
        "flag": [True, False, None, True, False, True],
    }
)
TYPES = {f.name: f.type for f in T.schema}

# Each idiom with the ids it keeps, worked out by hand from the table above (SQL's null rule:
# a null never matches, so NOT/~/!=/not in drop null rows too).
IDIOMS = [
    ('country == "FR" & amount > 100', [1]),
    ('amount > 100 & country == "FR"', [1]),  # df.query precedence: (amount > 100) & (country == "FR")
    ('country == "FR" | amount < 60', [1, 2, 6]),
    ('country == "FR" | country == "DE" & amount > 60', [1, 6]),  # & binds tighter than |
    ('~(country == "FR")', [2, 4, 5]),
    ("country == 'FR' and not amount >= 150", [6]),
    ('country == "FR" or country == "DE"', [1, 2, 6]),
    ('country in ["FR", "DE"]', [1, 2, 6]),
    ('country not in ["FR", "DE"]', [4, 5]),
    ('country in ("FR",)', [1, 6]),
    ("id in [1, 3, 99]", [1, 3]),
    ('country == ["FR", "US"]', [1, 5, 6]),
    ('country != ["FR", "US"]', [2, 4]),
    ("amount.isna()", [4, 5]),  # NaN is missing in pandas
    ("amount.isnull()", [4, 5]),
    ("amount.notna()", [1, 2, 3, 6]),
    ("name.notnull()", [1, 2, 3, 5, 6]),
    ("name.isna()", [4]),
    ("~amount.isna() & amount < 120", [2, 6]),
    ('name.str.contains("Ann")', [1, 3]),
    ('name.str.contains("ann", case=False)', [1, 3]),
    ('name.str.contains("A.n")', [1, 3]),  # a regular expression, as in pandas
    ('name.str.contains("A.n", regex=False)', []),
    ('name.str.contains(".", regex=False)', [6]),
    ('name.str.contains("A.B", regex=False, case=False)', [6]),
    ('name.str.startswith("A")', [1, 3]),
    ('name.str.endswith("b")', [2, 6]),
    ('~name.str.startswith("A")', [2, 5, 6]),
    ('~name.str.startswith("A", na=False)', [2, 4, 5, 6]),
    ('name.str.lower() == "bob"', [2]),
    ("name.str.len() > 3", [1, 3]),
    ("amount.between(100, 150)", [1, 6]),
    ('amount.between(100, 150, inclusive="neither")', []),
    ('amount.between(100, 150, inclusive="left")', [6]),
    ('amount.between(100, 150, inclusive="right")', [1]),
    ("id.isin([2, 4])", [2, 4]),
    ('~country.isin(["FR"])', [2, 4, 5]),
    ("`order date` >= '2024-03-15'", [3, 4, 6]),
    ("`order date`.isna()", [5]),
    ("`order date`.dt.month == 2", [2]),
    ('name == "bob"', [2]),
    ("50 <= amount < 150", [2, 6]),
    ('flag & name.str.startswith("A")', [1]),
    ("~flag", [2, 5]),
    ("flag == True", [1, 4, 6]),
    ("name is None", [4]),
    ("name is not None & amount > 150", [3]),
    # the SQL forms keep working
    ("amount > 100 AND country = 'FR'", [1]),
    ("country IS NULL", [3]),
    ("name LIKE 'A%'", [1, 3]),
    ("amount BETWEEN 50 AND 100", [2, 6]),
    ("\"order date\" < DATE '2024-02-01'", [1]),
]


def _ids(table: pa.Table) -> list[int]:
    return table.column("id").to_pylist()


_SANDBOX: list[
    engine.Engine
] = []  # the module's one DuckDB sandbox (a new one per check was most of its time)


@pytest.fixture(autouse=True, scope="module")
def _one_sandbox() -> Iterator[None]:
    _SANDBOX.append(engine.Engine())
    yield
    _SANDBOX.pop().close()


def _duckdb(text: str) -> list[int]:
    compiled = compile_filter(text, T.column_names, "t", TYPES)
    with engine.scoped(_SANDBOX[0]) as eng, eng.over({"t": T}) as con:
        keep = eng.run(con, f"SELECT {compiled.sql} AS keep FROM t").column(0)
    return _ids(T.filter(keep))


@pytest.mark.parametrize(("text", "ids"), IDIOMS)
def test_each_idiom_keeps_the_hand_checked_rows(text: str, ids: list[int]) -> None:
    assert _duckdb(text) == ids, text
    fast = evaluate(T, compile_filter(text, T.column_names, "t", TYPES))
    if fast is not None:  # the kernel twin, where there is one, must agree with DuckDB
        assert _ids(fast) == ids, text


def test_isna_without_the_types_is_null_on_both_paths() -> None:
    """Without the ref's types the parser cannot know a column is float: both paths say IS NULL."""
    compiled = compile_filter("amount.isna()", T.column_names, "t")
    assert compiled.sql == '("amount" IS NULL)'
    fast = evaluate(T, compiled)
    assert fast is not None and _ids(fast) == [5]


def test_the_common_idioms_run_on_kernels() -> None:
    for text in [
        'country == "FR" & amount > 100',
        "amount.isna()",
        'name.str.contains("Ann")',
        'name.str.contains("A.n")',
        'name.str.contains("ann", case=False)',
        'name.str.startswith("A", na=False)',
        "amount.between(100, 150)",
        'amount.between(100, 150, inclusive="left")',
        'country in ["FR", "DE"]',
        "id.isin([2, 4])",
        "50 <= amount < 150",
    ]:
        assert evaluate(T, compile_filter(text, T.column_names, "t", TYPES)) is not None, text


@pytest.mark.parametrize(
    ("pandas_form", "sql_form"),
    [
        ('country == "FR" & amount > 100', '(("country" = \'FR\') AND ("amount" > 100))'),
        ('amount > 1 | ~(country == "DE")', '(("amount" > 1) OR (NOT ("country" = \'DE\')))'),
        ('country in ["FR", "DE"]', "(\"country\" IN ('FR', 'DE'))"),
        ("name.isna()", '("name" IS NULL)'),
        ("amount.isna()", '("amount" IS NULL OR isnan("amount"))'),
        ("amount.between(1, 5)", '("amount" BETWEEN 1 AND 5)'),
        ('name.str.contains("x")', "contains(\"name\", 'x')"),
        ('name.str.endswith("O\'Neil")', "ends_with(\"name\", 'O''Neil')"),
        ("`order date` > 1", '("order date" > 1)'),
        ("1 < id <= 3", '((1 < "id") AND ("id" <= 3))'),
    ],
)
def test_pandas_forms_render_to_the_sql_they_mean(pandas_form: str, sql_form: str) -> None:
    assert compile_filter(pandas_form, T.column_names, "t", TYPES).sql == sql_form


def test_double_quotes_a_string_only_where_no_column_has_that_name() -> None:
    compiled = compile_filter('country == "FR" | country == "DE"', T.column_names, "t")
    assert compiled.sql == "((\"country\" = 'FR') OR (\"country\" = 'DE'))"
    assert compiled.notes == ['Read "FR", "DE" as strings: no column has those names.']
    # A name that is a column stays the column (SQL's quoted identifier), and the answer says so.
    both = pa.table({"country": ["FR", "DE"], "FR": ["DE", "DE"]})
    compiled = compile_filter('country == "FR"', both.column_names, "t")
    assert compiled.sql == '("country" = "FR")'
    assert compiled.notes == [
        "Read \"FR\" as the column FR (a column has that name); for the text write 'FR'."
    ]
    assert _ids_of(both, compiled) == [2]  # row 2: DE == DE
    compiled = compile_filter('country in ["FR", "XX"]', both.column_names, "t")
    assert compiled.notes == [
        'Read "XX" as a string: no column has that name.',
        "Read \"FR\" as the column FR (a column has that name); for the text write 'FR'.",
    ]
    # SQL users' quoted columns get no note.
    assert compile_filter('"order date" > 1', T.column_names, "t").notes == []
    # A quoted name no column has, where only a column makes sense, is the did-you-mean error.
    for text in ['"orderdate" > 5', '"ammount".isna()', '"nme" IN (1)', '"flg"', '"x" = "y"']:
        with pytest.raises(ExpressionError, match="not found in `t`"):
            compile_filter(text, T.column_names, "t")
    with pytest.raises(ExpressionError, match='Did you mean "order date"'):
        compile_filter('"order_date" > 5', T.column_names, "t")


def _ids_of(table: pa.Table, compiled: object) -> list[int]:
    with engine.scoped(_SANDBOX[0]) as eng, eng.over({"t": table}) as con:
        keep = eng.run(con, f"SELECT {compiled.sql} AS keep FROM t").column(0)  # type: ignore[attr-defined]
    return [i + 1 for i, k in enumerate(keep.to_pylist()) if k]


def test_interpretations_are_noted() -> None:
    notes = compile_filter('name.str.contains("A.n")', T.column_names, "t", TYPES).notes
    assert notes == ["Read 'A.n' as a regular expression (pandas' default; regex=False for text)."]
    assert (
        compile_filter('name.str.contains("Ann")', T.column_names, "t", TYPES).notes == []
    )  # text either way
    notes = compile_filter('country != ["FR"]', T.column_names, "t", TYPES).notes
    assert notes[-1] == "Read != [...] as NOT IN (pandas.query)."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("amount > @limit", "a filter cannot see Python variables"),
        ("name.str.contains(country)", "Expected a literal"),
        ('amount.str.contains("1")', '.str.contains() needs a text column; "amount" is double'),
        ("name.__class__", ".__class__ is not allowed in a filter. Allowed: .isna()"),
        ("name.str.__getattribute__('x')", "is not allowed in a filter"),
        ("name.str.contains('a', flags=2)", "contains() takes no argument flags="),
        ("amount.between(1)", "between() takes 2 argument(s)"),
        ("amount.between(1, 2, 3)", "between() takes 2 argument(s)"),
        ("amount.between(1, 2, inclusive='sideways')", 'takes "both", "neither", "left" or "right"'),
        ("name.str.contains('a', case='no')", "case= and regex= take True or False"),
        ("country in []", "expected a column or a value"),
        ('name.str.contains("(a")', "Bad regular expression '(a': missing ), unterminated subpattern"),
        ("country in [SELECT 1]", "SELECT is not allowed"),
        ("name.isna", "expected '('"),
        ("name.", "expected a method name"),
        ("name.str.contains(read_csv('/etc/passwd'))", "Function read_csv() is not allowed"),
        ("amount > 1 & ", "expected a column or a value"),
    ],
)
def test_what_pandas_allows_but_a_filter_cannot_do_is_refused(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_filter(text, T.column_names, "t", TYPES)
    assert message in str(info.value)


def test_quoted_text_cannot_escape_its_literal() -> None:
    for text in [
        'name == "x\'); DROP TABLE t; --"',
        "name == \"a'' OR 1=1 OR ''\"",
        'name.str.contains("\')--", regex=False)',
    ]:
        compiled = compile_filter(text, T.column_names, "t", TYPES)
        with engine.scoped(None) as eng, eng.over({"t": T}) as con:
            keep = eng.run(con, f"SELECT {compiled.sql} AS keep FROM t").column(0)
        assert not any(keep.to_pylist()), text  # compared as text: matches nothing


TOKENS = [
    "amount", "name", "country", "(", ")", "[", "]", '"', "'", "`", "&", "|", "~", ".", "==", "!=", ",",
    "isna()", "str", "contains(", "startswith(", "between(", "isin(", "case=False", "dt", "year", " in ",
    " not ", "x", "1", "--", ";", "@", "__class__", "read_csv(", " SELECT ",
]  # fmt: skip
SAFE_WORDS = {
    "and", "or", "not", "is", "null", "in", "between", "like", "true", "false", "amount", "name", "country",
    "contains", "regexp_matches", "starts_with", "ends_with", "isnan", "coalesce", "lower", "upper", "trim",
    "length", "year", "month", "day", "hour", "e", "i",
}  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=20).map("".join))
def test_pandas_syntax_output_only_holds_safe_tokens(text: str) -> None:
    """Whatever is typed with pandas' punctuation, the SQL holds only known words, columns and literals."""
    try:
        sql = compile_filter(text, ["amount", "name", "country"], "t").sql
    except ExpressionError:
        return
    outside = "".join(part for i, part in enumerate(sql.split("'")) if i % 2 == 0)  # drop string literals
    assert ";" not in outside and "--" not in outside and "/*" not in outside
    assert {w.lower() for w in re.findall(r"[A-Za-z_]+", outside)} <= SAFE_WORDS, sql


def test_filter_op_passes_notes_and_types(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    reg.put(T, name="t", source="test")
    res = ops.filter_rows(reg, "t", '~(country == "FR") & amount.notna()', ops.Output(name="f"))
    assert _ids(reg.get("f")) == [2]  # 4 is NaN (missing, as in pandas), 5 null, 3 has no country
    assert res.notes == [
        'Read "FR" as a string: no column has that name.',
        "Rows where country, amount is null never match here (SQL's rule; pandas keeps them under != and ~): "
        "add | country.isna() | amount.isna() to keep them.",
        "1 of 6 rows matched.",
    ]
    res = ops.filter_rows(reg, "t", "country <> 'FR'", ops.Output(name="g"))  # SQL-style: SQL's rule, no note
    assert res.notes == ["3 of 6 rows matched."]


CSV = "id,country,amount,name\n1,FR,150,Anna\n2,DE,50,bob\n3,,200,Ann-Marie\n4,fr,,\n5,US,80,Zed\n"


@pytest.mark.anyio
async def test_pandas_idioms_through_the_tool(project: Path) -> None:
    (project / "s.csv").write_text(CSV)
    async with inmemory(project) as client:
        await call(client, "read_csv", path="s.csv", name="s")
        r = await call(client, "filter", data_ref="s", where='country == "FR" & amount > 100')
        assert [row["id"] for row in r.structured_content["preview"]] == [1]
        assert 'Read "FR" as a string: no column has that name.' in text_of(r)
        r = await call(
            client, "filter", data_ref="s", where='name.str.contains("ann", case=False) | id in [5]'
        )
        assert [row["id"] for row in r.structured_content["preview"]] == [1, 3, 5]
        r = await call(client, "filter", data_ref="s", where="amount.between(80, 150) & `name`.notna()")
        assert [row["id"] for row in r.structured_content["preview"]] == [1, 5]
        err = await call_error(client, "filter", data_ref="s", where="name.str.contains(country)")
        assert (
            err.startswith("Error: Expected a literal") and 'e.g. name.str.contains("A", case=False)' in err
        )
        err = await call_error(client, "filter", data_ref="s", where="amount > @limit")
        assert "write the value itself" in err
        listed = [x["name"] for x in (await call(client, "list_data")).structured_content["refs"]]
        assert len(listed) == 4  # s and three results; no error created anything


PANDAS_ATOMS = [
    'country == "FR"', "amount > 100", "amount.isna()", "name.notna()", 'name.str.contains("A.n")',
    'name.str.contains("ann", case=False)', 'name.str.startswith("A", na=False)', 'name.str.endswith("b")',
    "amount.between(50, 150)", 'amount.between(50, 150, inclusive="left")', 'country in ["FR", "US"]',
    "id.isin([1, 4, 6])", "50 <= amount < 200", 'country != ["DE"]', "flag", "amount != 100",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(PANDAS_ATOMS), min_size=1, max_size=4),
    st.lists(st.sampled_from([" & ", " | ", " and ", " or "]), min_size=3, max_size=3),
    st.lists(st.booleans(), min_size=4, max_size=4),
)
def test_pandas_kernels_agree_with_duckdb(atoms: list[str], joins: list[str], negate: list[bool]) -> None:
    """Combined with & | ~, every idiom's kernel twin keeps exactly the rows DuckDB keeps (NaN, nulls)."""
    parts = [f"~({a})" if n else f"({a})" for a, n in zip(atoms, negate, strict=False)]
    text = parts[0] + "".join(j + p for j, p in zip(joins, parts[1:], strict=False))
    fast = evaluate(T, compile_filter(text, T.column_names, "t", TYPES))
    assert fast is not None, text  # all of these have kernels
    assert _ids(fast) == _duckdb(text), text
