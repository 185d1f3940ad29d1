"""groupby takes pandas' aggregation forms, with pandas' output names and function meanings.

Expected values are computed here by hand-written pandas semantics over plain Python lists
(size counts rows, count non-null values, std/var are sample statistics, first/last skip
nulls), and cross-checked with pyarrow's own kernels, on both of groupby's engines.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from data_platform.errors import InputError
from data_platform.frames import grouping, ops
from data_platform.frames.aggspec import parse_aggs
from data_platform.registry import Registry
from harness import call, call_error, inmemory, text_of

TABLE = pa.table(
    {
        "region": ["EU", "US", "EU", "EU", "US", "APAC", "EU"],
        "amount": [10.0, 2.5, None, 4.0, 2.5, 7.0, 1.0],
        "qty": [1, 2, 3, None, 5, 6, 7],
        "count": [9, 9, 9, 9, 9, 9, 9],  # a column named like a function
    }
)


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    r = Registry(tmp_path / "reg")
    r.put(TABLE, name="sales", source="test")
    return r


def _by(column: str) -> dict[str, list[object]]:
    groups: dict[str, list[object]] = {}
    for key, value in zip(TABLE.column("region").to_pylist(), TABLE.column(column).to_pylist(), strict=True):
        groups.setdefault(key, []).append(value)
    return groups


def _pandas(func: str, values: list[object]) -> object:
    """pandas' meaning of each function over one group's values (None is NaN)."""
    got = [v for v in values if v is not None]
    if func == "size":
        return len(values)
    if func == "count":
        return len(got)
    if func == "nunique":
        return len(set(got))
    if func in ("first", "last"):
        return got[0] if func == "first" else got[-1]
    if func in ("std", "var"):
        if len(got) < 2:
            return None
        return statistics.stdev(got) if func == "std" else statistics.variance(got)
    return {"sum": sum, "mean": statistics.mean, "median": statistics.median, "min": min, "max": max}[func](
        got
    )


def _rows(reg: Registry, res: ops.OpResult) -> dict[str, dict[str, object]]:
    return {r["region"]: r for r in reg.get(res.info.name).to_pylist()}


def _check(got: object, want: object) -> None:
    if want is None or isinstance(want, int):
        assert got == want
    else:
        assert got == pytest.approx(want)


FUNCS = ["sum", "mean", "min", "max", "count", "size", "nunique", "median", "std", "var", "first", "last"]


@pytest.mark.parametrize("engine_path", ["arrow", "duckdb"])
def test_column_to_list_of_functions_names_outputs_column_func(reg: Registry, engine_path: str) -> None:
    funcs = [f for f in FUNCS if engine_path == "duckdb" or f != "median"]  # median routes to DuckDB
    res = grouping.groupby(reg, "sales", ["region"], {"amount": funcs, "qty": ["sum"]}, ops.Output(name="g"))
    rows = _rows(reg, res)
    assert reg.get("g").column_names == ["region", *[f"amount_{f}" for f in funcs], "qty_sum"]
    for region, values in _by("amount").items():
        for f in funcs:
            _check(rows[region][f"amount_{f}"], _pandas(f, values))
    assert {r: rows[r]["qty_sum"] for r in rows} == {"APAC": 6, "EU": 11, "US": 7}
    assert "aggs read pandas-style: amount_sum = sum(amount)" in res.notes[0]
    # pyarrow's kernels agree on the row that has a null (EU): size 4, count 3, sample std.
    eu = TABLE.filter(pc.equal(TABLE.column("region"), "EU")).column("amount")
    assert rows["EU"]["amount_size"] == len(eu) == 4
    assert rows["EU"]["amount_count"] == pc.count(eu).as_py() == 3
    assert rows["EU"]["amount_std"] == pytest.approx(pc.stddev(eu, ddof=1).as_py())
    assert rows["EU"]["amount_var"] == pytest.approx(pc.variance(eu, ddof=1).as_py())
    assert rows["EU"]["amount_first"] == 10.0 and rows["EU"]["amount_last"] == 1.0
    assert rows["US"]["amount_std"] == 0.0 and rows["APAC"]["amount_std"] is None  # one value: NaN in pandas


def test_column_to_function_keeps_the_column_name(reg: Registry) -> None:
    res = grouping.groupby(
        reg, "sales", ["region"], {"amount": "sum", "qty": "nunique"}, ops.Output(name="g")
    )
    assert reg.get("g").column_names == ["region", "amount", "qty"]
    rows = _rows(reg, res)
    assert {r: (v["amount"], v["qty"]) for r, v in rows.items()} == {
        "APAC": (7.0, 1),
        "EU": (15.0, 3),
        "US": (5.0, 2),
    }
    assert res.notes[0] == "aggs read pandas-style: amount = sum(amount); qty = count_distinct(qty)."


def test_named_aggregation_pairs(reg: Registry) -> None:
    aggs = {
        "total": ["amount", "sum"],
        "rows": ["amount", "size"],
        "n": ["amount", "count"],
        "amount": ["qty", "max"],
    }
    res = grouping.groupby(reg, "sales", ["region"], aggs, ops.Output(name="g"))
    assert reg.get("g").column_names == ["region", "total", "rows", "n", "amount"]
    eu = _rows(reg, res)["EU"]
    assert (eu["total"], eu["rows"], eu["n"], eu["amount"]) == (15.0, 4, 3, 7)
    assert not any("pandas-style" in n for n in res.notes)  # explicit: nothing was interpreted


def test_all_forms_mix_and_today_form_still_works(reg: Registry) -> None:
    aggs = {"total": "sum(amount)", "n": "count(*)", "amount": ["mean"], "qty": "size", "big": ["qty", "max"]}
    res = grouping.groupby(reg, "sales", ["region"], aggs, ops.Output(name="g"))
    us = _rows(reg, res)["US"]
    assert us == {"region": "US", "total": 5.0, "n": 2, "amount_mean": 2.5, "qty": 2, "big": 5}
    # size(col) counts rows, nulls included (it used to mean count(col)); n = size without a column.
    res = grouping.groupby(reg, "sales", ["region"], {"s": "size(qty)", "rows": "size"}, ops.Output(name="h"))
    assert _rows(reg, res)["EU"] == {"region": "EU", "s": 4, "rows": 4}
    assert res.notes[0] == "aggs read pandas-style: rows = size (rows)."


def test_ambiguous_entries_are_resolved_one_way_and_said(reg: Registry) -> None:
    # "count" is both a column and a function: a list of functions on a column key wins.
    specs, notes = parse_aggs({"qty": ["count", "sum"]}, reg.info("sales"))
    assert specs == [("qty_count", "count", "qty"), ("qty_sum", "sum", "qty")]
    assert 'for column "count" write {"out": ["count", "sum"]}' in notes[0]
    # ... and when the key is not a column, the pair is a named aggregation of column "count".
    specs, notes = parse_aggs({"total": ["count", "sum"]}, reg.info("sales"))
    assert (specs, notes) == ([("total", "sum", "count")], [])
    # A value that is a function name wins over the column-as-output reading.
    assert parse_aggs({"qty": "count"}, reg.info("sales"))[0] == [("qty", "count", "qty")]
    # Case-insensitive column keys resolve to the real column, and the output takes its name.
    assert parse_aggs({"AMOUNT": "Mean"}, reg.info("sales"))[0] == [("amount", "mean", "amount")]


@pytest.mark.parametrize(
    ("aggs", "message"),
    [
        ({"total": "sum"}, '"total" is not a column of `sales`'),
        ({"sum": "amount"}, 'wrong way round: write {"amount": "sum"}'),
        ({"total": ["sum", "amount"]}, 'write {"total": ["amount", "sum"]}'),
        ({"amount": ["sum", "nope"]}, 'Bad aggregation {"amount": ["sum", "nope"]}'),
        ({"amount": 5}, 'Bad aggregation {"amount": 5}'),
        ({"amount": []}, 'Bad aggregation {"amount": []}'),
        ({"x": "avgg(amount)"}, "Unknown aggregation function 'avgg'. Did you mean \"avg\"?"),
        ({"x": "sum(*)"}, "sum(*) is not allowed"),
        ({}, "Give at least one aggregation"),
        ({"amount": ["sum"], "amount_sum": "sum(qty)"}, 'Two aggregations would both be named "amount_sum"'),
        ({"region": "count"}, "'region' is also a group key"),
    ],
)
def test_anything_else_shows_the_accepted_forms(reg: Registry, aggs: dict, message: str) -> None:
    with pytest.raises(InputError) as info:
        grouping.groupby(reg, "sales", ["region"], aggs, ops.Output(name="g"))
    text = str(info.value)
    assert message in text
    if "group key" not in text and "Two aggregations" not in text:
        assert (
            '{"amount": ["sum", "mean"]}, {"total": ["amount", "sum"]}' in text
        )  # the forms, with a real column
    assert "g" not in reg.names()


CSV = "region,amount,qty\nEU,10,1\nUS,2.5,2\nEU,,3\nEU,4,\nUS,2.5,5\n"


@pytest.mark.anyio
async def test_pandas_forms_through_the_tool(project: Path) -> None:
    (project / "s.csv").write_text(CSV)
    async with inmemory(project) as client:
        await call(client, "read_csv", path="s.csv", name="s")
        r = await call(
            client, "groupby", data_ref="s", by=["region"], aggs={"amount": ["sum", "size", "count"]}
        )
        sc = r.structured_content
        assert sc["preview"] == [
            {"region": "EU", "amount_sum": 14.0, "amount_size": 3, "amount_count": 2},
            {"region": "US", "amount_sum": 5.0, "amount_size": 2, "amount_count": 2},
        ]
        assert "aggs read pandas-style: amount_sum = sum(amount), amount_size = size (rows)" in text_of(r)
        r = await call(
            client, "groupby", data_ref="s", by=["region"], aggs={"n": ["qty", "count"], "qty": "std"}
        )
        assert r.structured_content["preview"][0]["n"] == 2
        assert r.structured_content["preview"][0]["qty"] == pytest.approx(statistics.stdev([1, 3]))
        err = await call_error(client, "groupby", data_ref="s", by=["region"], aggs={"total": "sum"})
        assert err.startswith("Error: ") and '{"total": ["amount", "sum"]}' in err
