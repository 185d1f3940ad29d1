"""Natural calls: arguments written the way agents write them, each with what a right answer is.

A case either must succeed and give the right result (checked against pyarrow or
PostgreSQL, never against the tool's own text alone), or must fail with an error that
names the form that works. tests/integration/server/test_corpus.py runs them in order on one server and
prints the share right on the first call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

SALES_CSV = "order_id,order_date,region,country,amount,qty,email\n" + "".join(
    f"{i},2024-0{1 + i % 3}-{10 + i % 17:02d},{['EU', 'US', 'APAC'][i % 3]},"
    f"{['FR', 'DE', 'US', 'JP', 'FR'][i % 5]},{round(i * 13.37 % 250, 2)},{i % 7},"
    f"{'' if i % 6 == 0 else f'user{i}@example.com'}\n"
    for i in range(1, 61)
)
SLASH_DATES_CSV = (
    "id,day,when\n1,2024/01/31,31/01/2024 08:15\n2,2024/02/29,15/02/2024 17:45\n"
    "3,2023/12/01,01/12/2023 00:00\n"
)
LATIN1_CSV = "ville;montant\nSète;12,5\nBesançon;3,25\n".encode("latin-1")


@dataclass
class World:
    """What a check can consult: the refs as stored, and PostgreSQL."""

    ref: Callable[[str], pa.Table]
    sql: Callable[[str], list[tuple[Any, ...]]]


Check = Callable[[dict[str, Any], str, World], None]


@dataclass
class Case:
    tool: str
    args: dict[str, Any]
    check: Check | None = None  # None: the call must fail
    needles: tuple[str, ...] = ()  # what the error (or answer) must name
    family: str = "frames"

    @property
    def refuse(self) -> bool:
        return self.check is None


def sales(world: World) -> pa.Table:
    return world.ref("sales")


def same(expected: Callable[[World], pa.Table], *, sort_by: str | None = None) -> Check:
    """The result ref equals what pyarrow computes from the source."""

    def check(data: dict[str, Any], text: str, world: World) -> None:
        got = world.ref(data["data_ref"])
        want = expected(world)
        if sort_by:
            got, want = got.sort_by(sort_by), want.sort_by(sort_by)
        assert got.column_names == want.column_names, (got.column_names, want.column_names)
        for name in want.column_names:
            g, w = got[name].to_pylist(), want[name].to_pylist()
            if w and isinstance(next((x for x in w if x is not None), None), float):
                assert all(
                    a == b or (isinstance(a, float) and abs(a - b) < 1e-9 * max(1, abs(b)))
                    for a, b in zip(g, w, strict=True)
                ), name
            else:
                assert g == w, (name, g[:5], w[:5])

    return check


def rows(n: int, ref: str | None = None) -> Check:
    def check(data: dict[str, Any], text: str, world: World) -> None:
        assert data["rows"] == n, (data["rows"], n)
        if ref:
            assert data["data_ref"] == ref

    return check


def says(*needles: str, then: Check | None = None) -> Check:
    def check(data: dict[str, Any], text: str, world: World) -> None:
        for needle in needles:
            assert needle in text, (needle, text[:400])
        if then:
            then(data, text, world)

    return check


def where(mask: Callable[[pa.Table], Any]) -> Callable[[World], pa.Table]:
    return lambda w: sales(w).filter(mask(sales(w)))


def agg(by: list[str], aggs: list[tuple[str, str]], names: list[str]) -> Callable[[World], pa.Table]:
    def expected(w: World) -> pa.Table:
        out = sales(w).group_by(by, use_threads=False).aggregate(aggs)  # names its outputs col_func
        return out.select(by + [f"{c}_{f}" for c, f in aggs]).rename_columns(by + names)

    return expected


def that(predicate: Callable[[dict[str, Any], World], bool], what: str) -> Check:
    def check(data: dict[str, Any], text: str, world: World) -> None:
        assert predicate(data, world), what

    return check


def col(name: str) -> Callable[[pa.Table], Any]:
    return lambda t: t[name]


def is_date(column: str, ref: str, kind: str = "date32") -> Check:
    def check(data: dict[str, Any], text: str, world: World) -> None:
        t = world.ref(ref)
        assert str(t.schema.field(column).type).startswith(kind), t.schema

    return check


def first_value(ref_col: str, value: Any) -> Check:
    def check(data: dict[str, Any], text: str, world: World) -> None:
        t = world.ref(data["data_ref"])
        assert t[ref_col][0].as_py() == value, (t[ref_col][0].as_py(), value)

    return check


FRAMES: list[Case] = [
    # loading, pandas read_csv habits
    Case("read_csv", {"filepath_or_buffer": "sales.csv", "name": "sales"}, rows(60, "sales")),
    Case("read_csv", {"path": "sales.csv", "name": "sales2", "usecols": "order_id"}, rows(60, "sales2")),
    Case("read_csv", {"file": "fr.csv", "delimiter": ";", "encoding": "ISO-8859-1", "name": "fr"},
         first_value("ville", "Sète")),
    Case("read_csv", {"path": "fr.csv", "sep": ";", "encoding": "cp1252", "name": "fr2", "overwrite": True},
         first_value("ville", "Sète")),
    Case("read_csv", {"path": "sales.csv", "name": "s10", "nrows": "10"}, rows(10, "s10")),
    Case("read_csv", {"path": "sales.csv", "name": "s5", "n_rows": 5}, rows(5, "s5")),
    Case("read_csv", {"path": "sales.csv", "name": "sales_h0", "header": 0}, rows(60, "sales_h0")),
    Case("read_csv", {"path": "sales.csv", "name": "typed", "dtype": '{"qty": "int32"}'},
         that(lambda d, w: str(w.ref("typed").schema.field("qty").type) == "int32", "qty int32")),
    Case("read_csv", {"path": "slash.csv", "name": "slash"}, is_date("day", "slash")),
    Case("read_csv", {"path": "slash.csv", "name": "slash2", "parse_dates": "when"},
         is_date("when", "slash2", "timestamp")),
    Case("read_csv", {"path": "sales.csv", "name": "sales", "if_exists": "replace"}, None,
         ("does not take `if_exists`", "overwrite")),
    Case("read_csv", {"path": "missing.csv"}, None, ("missing.csv",)),
    Case("read_parquet", {"path": "sales.parquet", "name": "pq", "columns": "amount"}, rows(60, "pq")),
    Case("read_json", {"path": "sales.jsonl", "name": "js", "limit": 7}, rows(7, "js")),
    # looking
    Case("head", {"data_ref": "sales", "rows": 3}, says("(3 of 60 rows")),
    Case("head", {"df": "sales", "n": "5"}, says("(5 of 60 rows")),
    Case("tail", {"data_ref": "sales", "limit": 2}, says("| 60 |", "(2 of 60 rows")),
    Case("head", {"data_ref": "sales", "n": 3, "columns": ["amount"]}, None, ("does not take `columns`",)),
    Case("describe", {"data_ref": "sales", "columns": "amount"},
         that(lambda d, w: [c["name"] for c in d["columns"]] == ["amount"], "only amount described")),
    Case("describe", {"dataframe": "sales", "include": "all"}, None, ("does not take `include`",)),
    Case("list_data", {}, says("sales")),
    # filter: SQL and pandas.query forms
    Case("filter", {"data_ref": "sales", "where": "amount > 100", "name": "f1"},
         same(where(lambda t: pc.greater(t["amount"], 100)))),
    Case("filter", {"data_ref": "sales", "query": "country == 'FR' and amount > 50", "name": "f2"},
         same(where(lambda t: pc.and_(pc.equal(t["country"], "FR"), pc.greater(t["amount"], 50))))),
    Case("filter", {"data_ref": "sales", "condition": 'country == "FR" & amount > 100', "name": "f3"},
         same(where(lambda t: pc.and_(pc.equal(t["country"], "FR"), pc.greater(t["amount"], 100))))),
    Case("filter", {"data_ref": "sales", "expr": "region in ['EU', 'US']", "name": "f4"},
         same(where(lambda t: pc.is_in(t["region"], pa.array(["EU", "US"]))))),
    Case("filter", {"data_ref": "sales", "where": "email.isna()", "name": "f5"},
         same(where(lambda t: pc.is_null(t["email"])))),
    Case("filter", {"data_ref": "sales", "where": "email.notnull()", "name": "f6"},
         same(where(lambda t: pc.is_valid(t["email"])))),
    Case("filter", {"data_ref": "sales", "where": "qty.between(2, 4)", "name": "f7"},
         same(where(lambda t: pc.and_(pc.greater_equal(t["qty"], 2), pc.less_equal(t["qty"], 4))))),
    Case("filter", {"data_ref": "sales", "where": "~(region == 'EU')", "name": "f8"},
         same(where(lambda t: pc.invert(pc.equal(t["region"], "EU"))))),
    Case("filter", {"data_ref": "sales", "where": "email.str.contains('user1')", "name": "f9"},
         same(where(lambda t: pc.fill_null(pc.match_substring(t["email"], "user1"), False)))),
    Case("filter", {"data_ref": "sales", "where": "region not in ('EU',) | qty == 0", "name": "f10"},
         same(where(lambda t: pc.or_(pc.invert(pc.is_in(t["region"], pa.array(["EU"]))),
                                     pc.equal(t["qty"], 0))))),
    Case("filter", {"data_ref": "sales", "where": "amont > 3"}, None, ('"amount"',)),
    Case("filter", {"data_ref": "sales", "where": "__import__('os').system('id')"}, None, ("Error",)),
    # select, sort, sample
    Case("select", {"data_ref": "sales", "columns": "amount", "name": "sel1"},
         same(lambda w: sales(w).select(["amount"]))),
    Case("select", {"data_ref": "sales", "cols": ["region", "amount"], "rename": '{"amount": "eur"}',
                    "name": "sel2"},
         same(lambda w: sales(w).select(["region", "amount"]).rename_columns(["region", "eur"]))),
    Case("sort", {"data_ref": "sales", "by": "amount", "ascending": False, "name": "so1"},
         same(lambda w: sales(w).sort_by([("amount", "descending")]))),
    Case("sort", {"data_ref": "sales", "by": ["region", "amount"], "ascending": [True, False], "name": "so2"},
         same(lambda w: sales(w).sort_by([("region", "ascending"), ("amount", "descending")]))),
    Case("sort", {"data_ref": "sales", "sort_by": "-qty", "name": "so3"},
         same(lambda w: sales(w).sort_by([("qty", "descending")]))),
    Case("sort", {"data_ref": "sales", "order_by": "order_id", "descending": True, "name": "so4"},
         same(lambda w: sales(w).sort_by([("order_id", "descending")]))),
    Case("sample", {"data_ref": "sales", "n": 5, "random_state": 42, "name": "sa1"}, rows(5, "sa1")),
    Case("sample", {"data_ref": "sales", "frac": 0.5, "random_state": 42, "name": "sa2"},
         rows(30, "sa2")),
    Case("sample", {"data_ref": "sales", "n": 5, "random_state": 42, "name": "sa3"},
         that(lambda d, w: w.ref("sa3").equals(w.ref("sa1")), "the same seed gives the same rows")),
    # groupby: the project's form and pandas' forms
    Case("groupby", {"data_ref": "sales", "by": "region", "aggs": {"total": "sum(amount)"}, "name": "g1"},
         same(agg(["region"], [("amount", "sum")], ["total"]), sort_by="region")),
    Case("groupby", {"data_ref": "sales", "by": "region", "aggs": {"amount": "sum"}, "name": "g2"},
         same(agg(["region"], [("amount", "sum")], ["amount"]), sort_by="region")),
    Case("groupby", {"data_ref": "sales", "by": ["region"], "agg": {"amount": ["sum", "mean"]}, "name": "g3"},
         same(agg(["region"], [("amount", "sum"), ("amount", "mean")], ["amount_sum", "amount_mean"]),
              sort_by="region")),
    Case("groupby", {"data_ref": "sales", "group_by": "country", "aggs": {"n": ["order_id", "count"]},
                     "name": "g4"},
         same(agg(["country"], [("order_id", "count")], ["n"]), sort_by="country")),
    Case("groupby", {"data_ref": "sales", "by": "region", "aggs": '{"qty": "nunique"}', "name": "g5"},
         same(agg(["region"], [("qty", "count_distinct")], ["qty"]), sort_by="region")),
    Case("groupby", {"data_ref": "sales", "by": "region", "aggs": {"amount": "avg"}, "name": "g6"},
         same(agg(["region"], [("amount", "mean")], ["amount"]), sort_by="region")),
    Case("groupby", {"data_ref": "sales", "by": "region", "aggs": {"amount": "mode"}}, None, ("mean", "sum")),
    # join, sql, writing
    Case("join", {"left": "sales", "right": "g1", "on": "region", "how": "left", "name": "j1"},
         rows(60, "j1")),
    Case("join", {"left": "sales", "other": "g1", "on": ["region"], "how": "full_outer", "name": "j2"},
         says("outer", then=rows(60))),
    Case("diff", {"base": "sales", "compare_to": "j1", "primary_key": "order_id"},
         that(lambda d, w: d["same"] == sales(w).num_rows and d["changed"] == 0
              and d["columns_only_right"]
              == [c for c in w.ref("j1").column_names if c not in sales(w).column_names],
              "every sales row matches j1; j1's extra columns reported")),
    Case("diff", {"a": "sales", "b": "j1"},
         that(lambda d, w: d["same"] == sales(w).num_rows and d["only_left"] == d["only_right"] == 0,
              "keyless: the same rows")),
    Case("join", {"left": "sales", "right": "g1", "left_on": "region", "right_on": "region",
                  "validate": "m:1"},
         that(lambda d, w: d["rows"] == sales(w).num_rows, "m:1 holds: every row kept")),
    Case("join", {"left": "g1", "right": "sales", "on": "region", "validate": "one_to_one"}, None,
         ("validate='one_to_one'", "sales")),
    Case("sql", {"query": "SELECT region, count(*) AS n FROM sales GROUP BY region", "name": "q1"},
         same(lambda w: sales(w).group_by("region", use_threads=False).aggregate([("region", "count")])
              .rename_columns(["region", "n"]), sort_by="region")),
    Case("sql", {"sql": "SELECT max(amount) AS m FROM sales", "name": "q2"},
         that(lambda d, w: w.ref("q2")["m"][0].as_py() == pc.max(sales(w)["amount"]).as_py(), "max")),
    Case("to_parquet", {"data_ref": "f1", "path": "out/f1.parquet", "mkdirs": True},
         says("Wrote `f1`")),
    Case("to_csv", {"df": "sel1", "path_or_buf": "sel1.csv"}, says("Wrote `sel1`")),
    Case("to_csv", {"data_ref": "sel1", "path": "sel1b.csv", "index": False},
         says("no index", "Wrote `sel1`")),
    Case("to_csv", {"data_ref": "sel1", "path": "sel1c.csv", "index": True}, None,
         ("no index", "row_number")),
    Case("drop_data", {"ref": "s5"}, says("Dropped")),
    # more everyday calls
    Case("read_csv", {"path": "sales.csv", "name": "sales3", "sep": ",", "header": True},
         same(lambda w: w.ref("sales"))),
    Case("read_csv", {"path": "sales.csv", "name": "s_cols", "columns": ["order_id", "amount"]},
         same(lambda w: sales(w).select(["order_id", "amount"]))),
    Case("read_csv", {"path": "sales.csv", "name": "s_na", "na_values": "FR"},
         that(lambda d, w: w.ref("s_na")["country"].null_count
              == pc.sum(pc.equal(sales(w)["country"], "FR")).as_py(), "FR read as null")),
    Case("read_parquet", {"file": "sales.parquet", "name": "pq2", "usecols": ["region"]},
         same(lambda w: sales(w).select(["region"]))),
    Case("read_json", {"path": "sales.jsonl", "name": "js2", "n_rows": 3}, rows(3, "js2")),
    Case("head", {"data_ref": "sales"}, says("(10 of 60 rows")),
    Case("tail", {"df": "sales", "n": 3}, says("| 58 |", "| 60 |", "(3 of 60 rows")),
    Case("describe", {"data_ref": "sales"},
         that(lambda d, w: {c["name"]: c["nulls"] for c in d["columns"]}["email"]
              == sales(w)["email"].null_count, "email nulls")),
    Case("filter", {"data_ref": "sales", "where": "amount >= 100 AND region = 'EU'", "name": "f11"},
         same(where(lambda t: pc.and_(pc.greater_equal(t["amount"], 100), pc.equal(t["region"], "EU"))))),
    Case("filter", {"data_ref": "sales", "where": "country IN ('FR', 'DE')", "name": "f12"},
         same(where(lambda t: pc.is_in(t["country"], pa.array(["FR", "DE"]))))),
    Case("filter", {"data_ref": "sales", "where": "email IS NULL", "name": "f13"},
         same(where(lambda t: pc.is_null(t["email"])))),
    Case("filter", {"data_ref": "sales", "where": "amount > 200 or qty == 0", "name": "f14"},
         same(where(lambda t: pc.or_(pc.greater(t["amount"], 200), pc.equal(t["qty"], 0))))),
    Case("filter", {"data_ref": "sales", "where": "not (region == 'EU')", "name": "f15"},
         same(where(lambda t: pc.invert(pc.equal(t["region"], "EU"))))),
    Case("filter", {"data_ref": "sales", "where": "`amount` > 200", "name": "f16"},
         same(where(lambda t: pc.greater(t["amount"], 200)))),
    Case("filter", {"data_ref": "sales", "where": "email.str.startswith('user1')", "name": "f17"},
         same(where(lambda t: pc.fill_null(pc.starts_with(t["email"], "user1"), False)))),
    Case("filter", {"data_ref": "sales", "where": "region != 'US' and qty > 3", "name": "f18"},
         same(where(lambda t: pc.and_(pc.not_equal(t["region"], "US"), pc.greater(t["qty"], 3))))),
    Case("select", {"data_ref": "sales", "columns": ["amount", "region"], "name": "sel3"},
         same(lambda w: sales(w).select(["amount", "region"]))),
    Case("select", {"data_ref": "sales", "fields": "region", "new_name": "sel4"},
         same(lambda w: sales(w).select(["region"]))),
    Case("sort", {"data_ref": "sales", "by": ["region", "-amount"], "name": "so5"},
         same(lambda w: sales(w).sort_by([("region", "ascending"), ("amount", "descending")]))),
    Case("sort", {"data_ref": "sales", "columns": "amount", "name": "so6"},
         same(lambda w: sales(w).sort_by("amount"))),
    Case("sample", {"data_ref": "sales", "frac": 0.1, "seed": 1, "name": "sa4"}, rows(6, "sa4")),
    Case("sample", {"data_ref": "sales", "size": 4, "name": "sa5"}, rows(4, "sa5")),
    Case("groupby", {"data_ref": "sales", "by": ["region", "country"],
                     "aggs": {"total": "sum(amount)", "n": "count(*)"}, "name": "g7"},
         that(lambda d, w: d["rows"] == len(sales(w).group_by(["region", "country"]).aggregate([]))
              and abs(pc.sum(w.ref("g7")["total"]).as_py() - pc.sum(sales(w)["amount"]).as_py()) < 1e-6
              and pc.sum(w.ref("g7")["n"]).as_py() == 60, "groups, total and counts")),
    Case("groupby", {"data_ref": "sales", "keys": "region", "metrics": {"amount": "max"}, "name": "g8"},
         same(agg(["region"], [("amount", "max")], ["amount"]), sort_by="region")),
    Case("groupby", {"data_ref": "sales", "by": "region", "aggs": {"amount": ["min", "max"]}, "name": "g9"},
         same(agg(["region"], [("amount", "min"), ("amount", "max")], ["amount_min", "amount_max"]),
              sort_by="region")),
    Case("groupby", {"data_ref": "sales", "by": "region", "aggs": {"email": "size"}, "name": "g10"},
         that(lambda d, w: sorted(w.ref("g10")["email"].to_pylist()) == [20, 20, 20], "size counts rows")),
    Case("groupby", {"data_ref": "sales", "by": "region", "aggs": {"email": "count"}, "name": "g11"},
         same(agg(["region"], [("email", "count")], ["email"]), sort_by="region")),
    Case("join", {"left": "sales", "right": "g1", "on": "region", "how": "inner", "name": "j3"},
         that(lambda d, w: d["rows"] == 60 and "total" in w.ref("j3").column_names, "inner join")),
    Case("join", {"left": "sales", "right": "g1", "left_on": ["region"], "right_on": ["region"],
                  "how": "left", "suffixes": ["_l", "_r"], "name": "j4"}, rows(60, "j4")),
    Case("join", {"left": "sales", "right": "f13", "on": "order_id", "how": "left_anti", "name": "j5"},
         rows(60 - 10, "j5")),
    Case("sql", {"query": "SELECT * FROM sales WHERE amount > 100 ORDER BY amount DESC LIMIT 5",
                 "name": "q3"},
         same(lambda w: sales(w).filter(pc.greater(sales(w)["amount"], 100))
              .sort_by([("amount", "descending")]).slice(0, 5))),
    Case("sql", {"statement": "SELECT count(*) AS n FROM sales WHERE email IS NULL", "name": "q4"},
         that(lambda d, w: w.ref("q4")["n"][0].as_py() == 10, "10 null emails")),
    Case("to_parquet", {"data_ref": "g1", "filepath": "g1.parquet"}, says("Wrote `g1`", "3 rows")),
    Case("to_csv", {"data_ref": "g1", "path": "g1.csv.gz"}, says("Wrote `g1`")),
    Case("list_data", {}, says("g1", "sel4")),
    Case("drop_data", {"data_ref": "sales2"}, says("Dropped")),
    Case("head", {"data_ref": "g1", "num_rows": 2}, says("(2 of 3 rows")),
    Case("head", {"data_ref": "sales", "n": 5}, says("(5 of 60 rows")),
    Case("read_csv", {"path": "sales.csv", "name": "s_two", "nrows": 20, "usecols": ["region", "amount"]},
         same(lambda w: sales(w).select(["region", "amount"]).slice(0, 20))),
    Case("describe", {"data_ref": "sales", "columns": ["amount", "qty"]},
         that(lambda d, w: [c["name"] for c in d["columns"]] == ["amount", "qty"], "two columns")),
    Case("filter", {"data_ref": "sales", "where": "region.isin(['EU'])", "name": "f19"},
         same(where(lambda t: pc.equal(t["region"], "EU")))),
    Case("filter", {"data_ref": "sales", "where": "1 < qty <= 3", "name": "f20"},
         same(where(lambda t: pc.and_(pc.greater(t["qty"], 1), pc.less_equal(t["qty"], 3))))),
    Case("filter", {"data_ref": "sales", "where": "email.str.endswith('.com')", "name": "f21"},
         same(where(lambda t: pc.fill_null(pc.ends_with(t["email"], ".com"), False)))),
    Case("filter", {"data_ref": "sales", "where": "qty in [1, 2]", "name": "f22"},
         same(where(lambda t: pc.is_in(t["qty"], pa.array([1, 2]))))),
    Case("groupby", {"data_ref": "sales", "by": "country", "aggs": {"qty": "sum"}, "name": "g12"},
         same(agg(["country"], [("qty", "sum")], ["qty"]), sort_by="country")),
    Case("groupby", {"data_ref": "sales", "by": "region", "aggs": {"order_id": "nunique"}, "name": "g13"},
         same(agg(["region"], [("order_id", "count_distinct")], ["order_id"]), sort_by="region")),
    Case("sort", {"data_ref": "sales", "by": ["amount"], "ascending": True, "name": "so7"},
         same(lambda w: sales(w).sort_by("amount"))),
    Case("tail", {"data_ref": "g1", "rows": 1}, says("(1 of 3 rows")),
    Case("filter", {"data_ref": "sales", "where": "region == 'APAC' and email.notna()", "name": "f23"},
         same(where(lambda t: pc.and_(pc.equal(t["region"], "APAC"), pc.is_valid(t["email"]))))),
    Case("groupby", {"data_ref": "sales", "by": ["region"], "aggs": {"orders": ["order_id", "count"],
                     "revenue": ["amount", "sum"]}, "name": "g14"},
         same(agg(["region"], [("order_id", "count"), ("amount", "sum")], ["orders", "revenue"]),
              sort_by="region")),
    Case("select", {"df": "sales", "columns": '["order_id", "email"]', "name": "sel5"},
         same(lambda w: sales(w).select(["order_id", "email"]))),
]  # fmt: skip


def pg_rows(sql: str, expected: list[tuple[Any, ...]]) -> Check:
    def check(data: dict[str, Any], text: str, world: World) -> None:
        got = world.sql(sql)
        assert got == expected, (got, expected)

    return check


def ref_rows(expected: list[tuple[Any, ...]]) -> Check:
    def check(data: dict[str, Any], text: str, world: World) -> None:
        t = world.ref(data["data_ref"])
        assert [tuple(r.values()) for r in t.to_pylist()] == expected, t.to_pylist()[:5]

    return check


PG_SETUP = """
CREATE SCHEMA corpus;
CREATE TABLE corpus.cities (id int PRIMARY KEY, name text, pop int, geom geometry(Point, 4326));
INSERT INTO corpus.cities VALUES (1, 'Paris', 2100000, ST_SetSRID(ST_MakePoint(2.35, 48.85), 4326)),
  (2, 'Lyon', 520000, ST_SetSRID(ST_MakePoint(4.83, 45.76), 4326)),
  (3, 'Nice', 340000, ST_SetSRID(ST_MakePoint(7.26, 43.70), 4326));
"""

POSTGRES: list[Case] = [
    Case("pg_query", {"query": "SELECT name FROM corpus.cities ORDER BY pop DESC", "name": "c1"},
         ref_rows([("Paris",), ("Lyon",), ("Nice",)])),
    Case("pg_query", {"sql": "SELECT name FROM corpus.cities WHERE pop > $1 ORDER BY id", "params": 400000,
                      "name": "c2"}, ref_rows([("Paris",), ("Lyon",)])),
    Case("pg_query", {"sql": "SELECT id FROM corpus.cities WHERE id = $1 OR name = $2 ORDER BY id",
                      "params": '[1, "Nice"]', "name": "c3"}, ref_rows([(1,), (3,)])),
    Case("pg_query", {"statement": "SELECT count(*) AS n FROM corpus.cities", "name": "c4"},
         ref_rows([(3,)])),
    Case("pg_query", {"sql": "DELETE FROM corpus.cities"}, None, ("read-only", "pg_execute")),
    Case("pg_query", {"sql": "SELECT * FROM corpus.citys"}, None, ("citys",)),
    Case("pg_query", {"sql": "SELECT 1", "limit": 5}, None, ("does not take `limit`", "max_rows")),
    Case("pg_tables", {"schema_name": "corpus"}, says("cities")),
    Case("pg_columns", {"table_name": "cities", "schema_name": "corpus"}, says("pop", "pk")),
    Case("pg_columns", {"table": "corpus.cities"}, says("pop")),
    Case("pg_schemas", {}, says("corpus")),
    Case("st_tables", {"schema": "corpus"}, says("geom", "4326")),
    Case("st_srid", {"table_name": "cities", "schema_name": "corpus"}, says("4326")),
    Case("st_extent", {"table": "cities", "schema": "corpus", "geom_column": "geom"}, says("2.35", "7.26")),
    Case("st_geometry_type", {"table": "cities", "schema": "corpus"}, says("POINT")),
    Case("pg_explain", {"query": "SELECT * FROM corpus.cities WHERE id = 1"}, says("Scan")),
    Case("pg_execute", {"query": "UPDATE corpus.cities SET pop = pop + 1 WHERE id = 3"},
         pg_rows("SELECT pop FROM corpus.cities WHERE id = 3", [(340001,)])),
    Case("pg_load", {"df": "g1", "name": "region_totals", "schema": "corpus", "if_exists": "replace"},
         pg_rows("SELECT count(*) FROM corpus.region_totals", [(3,)])),
    Case("pg_load", {"data_ref": "slash", "table_name": "slash_dates", "schema_name": "corpus"},
         pg_rows("SELECT data_type FROM information_schema.columns WHERE table_schema = 'corpus' "
                 "AND table_name = 'slash_dates' AND column_name = 'day'", [("date",)])),
    Case("pg_connect", {}, says("PostGIS")),
    Case("pg_query", {"sql": "SELECT name FROM corpus.cities WHERE name ILIKE $1 ORDER BY name",
                      "params": ["%i%"], "name": "c7"}, ref_rows([("Nice",), ("Paris",)])),
    Case("pg_columns", {"table": "cities", "schema": "corpus"}, says("geom", "pop")),
    Case("pg_schemas", {"include_system": True}, says("pg_catalog", "corpus")),
    Case("pg_tables", {"schema": "corpus"}, says("cities")),
    Case("pg_query", {"sql": "SELECT geom FROM corpus.cities WHERE id = 1", "name": "c5"},
         ref_rows([("POINT(2.35 48.85)",)])),
    Case("pg_query", {"sql": "SELECT geom FROM corpus.cities WHERE id = 2", "geometry": "geojson",
                      "name": "c6"}, says("Point", "4.83")),
    Case("pg_explain", {"sql": "SELECT * FROM corpus.cities WHERE pop > 1", "analyze": True},
         says("actual")),
    Case("pg_load", {"data_ref": "g3", "table": "g3", "schema": "corpus", "mode": "create"},
         pg_rows("SELECT count(*) FROM corpus.g3", [(3,)])),
    Case("pg_execute", {"sql": "CREATE INDEX cities_pop ON corpus.cities (pop)"},
         pg_rows("SELECT count(*) FROM pg_indexes WHERE indexname = 'cities_pop'", [(1,)])),
    Case("st_geometry_type", {"table_name": "cities", "schema_name": "corpus", "column_name": "geom"},
         says("POINT x3")),
    Case("pg_load", {"data_ref": "g1", "table": "region_totals", "schema": "corpus"}, None,
         ("exists", "replace")),
    Case("pg_load", {"data_ref": "g1", "table": "region_totals", "schema": "corpus", "if_exists": "drop"},
         None, ("if_exists", "replace")),
]  # fmt: skip

DBT: list[Case] = [
    Case("dbt_parse", {"target": "dev"}, that(lambda d, w: not d["errors"], "parses clean"), family="dbt"),
    Case("dbt_ls", {"models": "staging"}, says("stg_orders"), family="dbt"),
    Case("dbt_ls", {"resource_type": "models", "select": "stg_orders"}, says("stg_orders"), family="dbt"),
    Case("dbt_ls", {"type": "seed"}, says("raw_orders"), family="dbt"),
    Case("dbt_build", {"s": "+stg_orders"}, says("stg_orders", "raw_orders"), family="dbt"),
    Case("dbt_run", {"models": "stg_orders"},
         that(lambda d, w: "stg_orders" in str(d["nodes"]) and "stg_payments" not in str(d["nodes"]),
              "only the selected model ran"), family="dbt"),
    Case("dbt_run", {"select": "stg_orders", "--full-refresh": True}, says("stg_orders"), family="dbt"),
    Case("dbt_test", {"m": "stg_orders"}, says("stg_orders"), family="dbt"),
    Case("dbt_compile", {"model": "stg_orders"}, says("select"), family="dbt"),
    Case("dbt_compile", {"models": "stg_orders"}, says("select"), family="dbt"),
    Case("dbt_lineage", {"model": "stg_orders", "direction": "downstream"}, says("customer_orders"),
         family="dbt"),
    Case("dbt_lineage", {"unique_id": "model.shop.stg_orders", "depth": 1}, says("raw_orders"), family="dbt"),
    Case("dbt_run", {"select": "stg_orders", "vars": "{currency: EUR}"}, says("stg_orders"), family="dbt"),
    Case("dbt_ls", {"select": "stg_orders+", "resource_type": "model"}, says("customer_orders"),
         family="dbt"),
    Case("dbt_ls", {"select": "stg_orders stg_payments", "exclude": "stg_payments"},
         that(lambda d, w: "stg_payments" not in str(d) and "stg_orders" in str(d), "exclude"), family="dbt"),
    Case("dbt_lineage", {"node": "customer_orders", "direction": "upstream"}, says("stg_orders"),
         family="dbt"),
    Case("dbt_test", {"select": "stg_orders", "exclude_models": "stg_payments"}, says("stg_orders"),
         family="dbt"),
    Case("dbt_parse", {"vars": {"currency": "EUR"}}, that(lambda d, w: not d["errors"], "parses"),
         family="dbt"),
    Case("dbt_docs_generate", {}, says("index.html"), family="dbt"),
    Case("dbt_ls", {"resource_type": "sources"}, says("source"), family="dbt"),
    Case("dbt_docs_generate", {"target": "dev", "port": 8080}, None, ("does not take `port`",), family="dbt"),
    Case("dbt_show", {"select": "stg_orders", "n": 3}, that(lambda d, w: d["rows"] == 3, "3 rows"),
         family="dbt"),
    Case("dbt_show", {"inline": "select count(*) as orders from {{ ref('stg_orders') }}"}, says("orders"),
         family="dbt"),
    Case("dbt_lineage", {"model": "stg_orders", "column_name": "order_id", "direction": "downstream"},
         says("customer_orders.orders: aggregated"), family="dbt"),
]  # fmt: skip

CASES = FRAMES + [Case(c.tool, c.args, c.check, c.needles, "postgres") for c in POSTGRES] + DBT
