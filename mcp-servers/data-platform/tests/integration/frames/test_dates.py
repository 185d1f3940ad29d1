"""Dates in non-ISO forms on load (frames/dates.py): detection, parse_dates, late misfits, pg_load."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from data_platform.errors import InputError
from data_platform.frames import csv_reader, date_forms, json_reader
from data_platform.frames.ops import OpResult
from data_platform.registry import Registry, Target
from harness import call, call_error, inmemory, text_of
from pgcluster import Cluster

UTC = dt.UTC

MIXED = (
    "id,order_date,eu,us,dots,stamp,zoned,amb,name,iso\n"
    "1,2024/01/31,31/01/2024,01/31/2024,31.01.2024,31/01/2024 13:45:00,2024/01/31 13:45:00+02:00,"
    "01/02/2024,x,2024-01-31\n"
    "2,2024/2/29,01/02/2024,02/01/2024,1.2.2024,01/02/2024 00:00:01,2024/01/31 13:45:00Z,"
    "03/04/2024,y,2024-02-29\n"
    "3,,,,,,,,z,\n"
)


def _load(tmp_path: Path, text: str, name: str = "d.csv", **kw: object) -> tuple[OpResult, pa.Table]:
    reg = Registry(tmp_path / "reg")
    path = tmp_path / name
    path.write_text(text)
    reader = json_reader.read_json if name.endswith(".json") else csv_reader.read_csv
    loaded = reader(path, Target(reg, None, True, "test", "data"), max_rows=1_000_000, **kw)
    return loaded, reg.get(loaded.info.name)


# -- detection on arrays ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["2024/01/31", "2024/2/5"], "%Y/%m/%d"),
        (["31/01/2024", "01/02/2024"], "%d/%m/%Y"),  # 31 > 12 decides day-first
        (["01/31/2024", "02/01/2024"], "%m/%d/%Y"),  # 31 in second place decides month-first
        (["31-01-2024"], "%d-%m-%Y"),
        (["01.02.2024"], "%d.%m.%Y"),  # dots are day-first where people write them
        (["2024-01-31 13:45:00+02:00", "2024-01-31 13:45:00Z"], "%Y-%m-%d %H:%M:%S%z"),
        (["31/01/2024 13:45"], "%d/%m/%Y %H:%M"),
        (["01/31/2024 01:45 PM", "1/5/2024 11:00 am"], "%m/%d/%Y %I:%M %p"),
        (["Jan 31, 2024"], "%b %d, %Y"),
        (["31 Jan 2024"], "%d %b %Y"),
        (["", None, "2024/01/31"], "%Y/%m/%d"),
    ],
)
def test_detect_picks_the_format(values: list[str | None], fmt: str) -> None:
    found = date_forms.detect(pa.array(values, pa.string()))
    assert (found.fmt, found.ambiguous, found.invalid) == (fmt, None, None)


def test_detect_refuses_what_is_not_one_date_form() -> None:
    assert date_forms.detect(pa.array(["01/02/2024", "03/04/2024"])).ambiguous == "01/02/2024"
    assert date_forms.detect(pa.array(["13/14/2024"])).fmt is None  # neither order fits
    assert date_forms.detect(pa.array(["2024/01/31", "soon"])).fmt is None
    assert date_forms.detect(pa.array(["2024/01/31", "2024/01/31 10:00"])).fmt is None  # mixed shapes
    assert date_forms.detect(pa.array(["hello", "1.5"])).fmt is None
    found = date_forms.detect(pa.array(["2024/01/31", "2023/02/29"]))  # 2023 is not a leap year
    assert (found.fmt, found.invalid) == ("%Y/%m/%d", "2023/02/29")


def test_first_bad_catches_what_strptime_accepts_wrongly() -> None:
    def first_bad(values: list[str | None], fmt: str) -> int | None:
        array = pa.array(values, pa.string())
        return date_forms.first_bad(array, pa.compute.strptime(array, fmt, "s", error_is_null=True), fmt)

    # glibc reads 2024/02/30 as 1 March: index 1 is the first wrong value.
    assert first_bad(["2024/01/31", "2024/02/30", "0024/01/01", "nope", None, ""], "%Y/%m/%d") == 1
    assert first_bad(["31.01.2024", "31.04.2024"], "%d.%m.%Y") == 1  # April has 30 days
    assert first_bad(["2024/01/31", "24/01/31"], "%Y/%m/%d") == 1
    # An offset moves the UTC instant to another day: 31 Jan 23:00-02:00 is 1 Feb 01:00 UTC, not a rollover.
    zoned = ["2024/01/31 23:00-02:00", "2024/02/02 23:00-02:00", "2024/02/30 10:00+01:00"]
    assert first_bad(zoned, "%Y/%m/%d %H:%M%z") == 2
    assert first_bad(["2024/01/01", "2024/03/03", None, ""], "%Y/%m/%d") is None


# -- read_csv ----------------------------------------------------------------------------------------
def test_read_csv_types_each_form_and_says_which(tmp_path: Path) -> None:
    loaded, t = _load(tmp_path, MIXED)
    types = {f.name: f.type for f in t.schema}
    assert types == {
        "id": pa.int64(),
        "order_date": pa.date32(),
        "eu": pa.date32(),
        "us": pa.date32(),
        "dots": pa.date32(),
        "stamp": pa.timestamp("s"),
        "zoned": pa.timestamp("s", "UTC"),
        "amb": pa.string(),
        "name": pa.string(),
        "iso": pa.date32(),
    }
    jan31, feb1 = dt.date(2024, 1, 31), dt.date(2024, 2, 1)
    assert t.column("order_date").to_pylist() == [jan31, dt.date(2024, 2, 29), None]
    for col in ("eu", "us", "dots"):
        assert t.column(col).to_pylist() == [jan31, feb1, None], col
    assert t.column("stamp").to_pylist() == [
        dt.datetime(2024, 1, 31, 13, 45),
        dt.datetime(2024, 2, 1, 0, 0, 1),
        None,
    ]
    # 13:45 at +02:00 is 11:45 UTC; Z is UTC.
    assert t.column("zoned").to_pylist() == [
        dt.datetime(2024, 1, 31, 11, 45, tzinfo=UTC),
        dt.datetime(2024, 1, 31, 13, 45, tzinfo=UTC),
        None,
    ]
    note = " ".join(loaded.notes)
    assert "order_date: date from %Y/%m/%d" in note
    assert "eu: date from %d/%m/%Y" in note and "us: date from %m/%d/%Y" in note
    assert "zoned: timestamp (UTC) from %Y/%m/%d %H:%M:%S%z" in note
    assert "amb kept as text" in note and 'parse_dates=["amb"]' in note and 'date_format="%d/%m/%Y"' in note


def test_parse_dates_with_date_format_settles_the_order(tmp_path: Path) -> None:
    loaded, t = _load(tmp_path, MIXED, parse_dates=["amb"], date_format="%m/%d/%Y")
    assert t.column("amb").to_pylist() == [dt.date(2024, 1, 2), dt.date(2024, 3, 4), None]
    assert "amb: date from %m/%d/%Y" in " ".join(loaded.notes)
    _, t = _load(tmp_path, MIXED, parse_dates=["amb"], date_format="%d/%m/%Y")
    assert t.column("amb").to_pylist() == [dt.date(2024, 2, 1), dt.date(2024, 4, 3), None]


def test_date_format_alone_types_text_columns_in_its_form_as_dates(tmp_path: Path) -> None:
    _, t = _load(tmp_path, "when,n\n01/02/2024,1\n03/04/2024,2\n", date_format="%d/%m/%Y")
    assert t.schema.field("when").type == pa.date32()
    assert t.column("when").to_pylist() == [dt.date(2024, 2, 1), dt.date(2024, 4, 3)]


def test_parse_dates_errors_say_what_works(tmp_path: Path) -> None:
    with pytest.raises(
        InputError, match=r'column "ambx" not found.*Did you mean "amb"\?.*Columns: id, order_date'
    ):
        _load(tmp_path, MIXED, parse_dates=["ambx"])
    with pytest.raises(
        InputError, match=r'"amb" holds dates like .01/02/2024. .*date_format="%d/%m/%Y" or "%m/%d/%Y"'
    ):
        _load(tmp_path, MIXED, parse_dates=["amb"])
    with pytest.raises(InputError, match=r"'x' is not a date in a form I know.*date_format"):
        _load(tmp_path, MIXED, parse_dates=["name"])
    with pytest.raises(InputError, match="holds int64 values"):
        _load(tmp_path, MIXED, parse_dates=["id"])
    with pytest.raises(
        InputError, match=r"'01/31/2024' \(row 1\) is not a date in the form date_format='%d/%m/%Y'"
    ):
        _load(tmp_path, MIXED, parse_dates=["us"], date_format="%d/%m/%Y")
    with pytest.raises(InputError, match="both dtype and parse_dates"):
        _load(tmp_path, MIXED, parse_dates=["eu"], dtype={"eu": "string"})


def test_parse_dates_of_an_iso_column_keeps_the_readers_type(tmp_path: Path) -> None:
    _, t = _load(tmp_path, MIXED, parse_dates=["iso", "eu"])
    assert t.schema.field("iso").type == pa.date32() and t.schema.field("eu").type == pa.date32()
    assert t.column("iso").to_pylist() == [dt.date(2024, 1, 31), dt.date(2024, 2, 29), None]


def _late_misfit(rows: int, bad_row: int, bad: str) -> str:
    """`rows` dates in %Y/%m/%d, with `bad` at data row `bad_row` (1-based), far past the sample."""
    start = dt.date(2000, 1, 1)
    lines = ["id,day"]
    for i in range(1, rows + 1):
        value = bad if i == bad_row else (start + dt.timedelta(days=i % 9000)).strftime("%Y/%m/%d")
        lines.append(f"{i},{value}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("chunk_size", [None, 1_000])
@pytest.mark.parametrize("bad", ["2024/13/45", "2024/02/30"])
def test_a_late_misfit_keeps_an_auto_column_as_text(tmp_path: Path, chunk_size: int | None, bad: str) -> None:
    text = _late_misfit(40_000, 30_001, bad)  # ~800 KB: row 30,001 is past the 256 KB sample
    loaded, t = _load(tmp_path, text, chunk_size=chunk_size)
    assert t.schema.field("day").type == pa.string()
    assert t.num_rows == 40_000 and t.column("day")[30_000].as_py() == bad
    assert f"day kept as text: '{bad}' at row 30,001 is not a %Y/%m/%d date." in loaded.notes


@pytest.mark.parametrize("chunk_size", [None, 1_000])
def test_a_late_misfit_in_parse_dates_fails_naming_column_value_row(
    tmp_path: Path, chunk_size: int | None
) -> None:
    text = _late_misfit(40_000, 30_001, "2024/02/30")
    with pytest.raises(
        InputError, match=r"column \"day\": '2024/02/30' at row 30,001 is not a date in the form %Y/%m/%d"
    ):
        _load(tmp_path, text, parse_dates=["day"], chunk_size=chunk_size)
    reg = Registry(tmp_path / "reg")
    assert reg.list()[0] == []  # nothing was created, no half-written file left behind
    assert [p.name for p in (tmp_path / "reg").iterdir() if "tmp" in p.name or p.suffix == ".arrow"] == []


def test_a_big_file_converts_every_batch(tmp_path: Path) -> None:
    text = _late_misfit(40_000, 0, "")
    _, t = _load(tmp_path, text, chunk_size=1_000)
    assert t.schema.field("day").type == pa.date32()
    start = dt.date(2000, 1, 1)
    assert t.column("day").to_pylist()[39_999] == start + dt.timedelta(days=40_000 % 9000)
    assert t.column("day").null_count == 0


# -- read_json ---------------------------------------------------------------------------------------
def test_read_json_types_non_iso_dates(tmp_path: Path) -> None:
    rows = [
        {"a": "2024/01/31", "b": "31/01/2024", "c": "31.01.2024 13:45", "d": "2024-01-31", "e": "01/02/2024"},
        {"a": "2024/02/01", "b": "01/02/2024", "c": "01.02.2024 00:00", "d": "2024-02-01", "e": "03/04/2024"},
    ]
    loaded, t = _load(tmp_path, json.dumps(rows), name="d.json")
    assert t.column("a").to_pylist() == [dt.date(2024, 1, 31), dt.date(2024, 2, 1)]
    assert t.column("b").to_pylist() == [dt.date(2024, 1, 31), dt.date(2024, 2, 1)]
    assert t.schema.field("c").type == pa.timestamp("us")
    assert t.column("c").to_pylist() == [dt.datetime(2024, 1, 31, 13, 45), dt.datetime(2024, 2, 1)]
    assert t.schema.field("d").type == pa.date32() and t.schema.field("e").type == pa.string()
    note = " ".join(loaded.notes)
    assert (
        "a: date from %Y/%m/%d" in note
        and "c: timestamp from %d.%m.%Y %H:%M" in note
        and "e kept as text" in note
    )
    assert "e kept as text: dates like '01/02/2024' read day-first or month-first; " in note
    assert """convert it with sql, e.g. strptime("e", '%d/%m/%Y')""" in note
    with pytest.raises(InputError, match="read day-first or month-first") as err:
        _load(tmp_path, json.dumps(rows), name="d.json", parse_dates=["e"])
    assert "date_format=" not in str(err.value) and "takes no date_format" in str(err.value)
    with pytest.raises(InputError, match=r'column "f" not found.*Columns: a, b, c, d, e'):
        _load(tmp_path, json.dumps(rows), name="d.json", parse_dates=["f"])


@pytest.mark.parametrize("parse_dates", [None, ["day"]])
def test_read_json_late_misfit(tmp_path: Path, parse_dates: list[str] | None) -> None:
    lines = [
        json.dumps({"id": i, "day": "2024/13/01" if i == 15_000 else "2024/01/31"}) for i in range(1, 20_001)
    ]
    text = "\n".join(lines) + "\n"  # row 15,000 is past the 10,000-row sample
    if parse_dates:
        with pytest.raises(
            InputError, match=r"'2024/13/01' at row 15,000 is not a date in the form %Y/%m/%d"
        ):
            _load(tmp_path, text, name="d.json", chunk_size=1_000, parse_dates=parse_dates)
        return
    loaded, t = _load(tmp_path, text, name="d.json", chunk_size=1_000)
    assert t.schema.field("day").type == pa.string() and t.num_rows == 20_000
    assert t.column("day")[14_999].as_py() == "2024/13/01"
    assert "day kept as text: '2024/13/01' at row 15,000 is not a %Y/%m/%d date." in loaded.notes


# -- through the MCP client ---------------------------------------------------------------------------
@pytest.mark.anyio
async def test_tools_take_parse_dates(project: Path) -> None:
    (project / "o.csv").write_text(MIXED)
    (project / "o.json").write_text('{"when": "01/02/2024"}\n{"when": "13/02/2024"}\n')
    async with inmemory(project) as client:
        res = await call(client, "read_csv", path="o.csv", parse_dates=["amb"], date_format="%d/%m/%Y")
        cols = {c["name"]: c["type"] for c in res.structured_content["columns"]}
        assert cols["amb"] == "date32[day]" and cols["order_date"] == "date32[day]"
        assert cols["zoned"] == "timestamp[s, tz=UTC]"
        assert res.structured_content["preview"][0]["amb"] == "2024-02-01"
        assert "order_date: date from %Y/%m/%d" in text_of(res)
        err = await call_error(client, "read_csv", path="o.csv", parse_dates=["when"])
        assert 'column "when" not found' in err and "Columns: id, order_date" in err
        res = await call(client, "read_json", path="o.json", parse_dates=["when"])
        assert res.structured_content["columns"] == [{"name": "when", "type": "date32[day]"}]
        assert [r["when"] for r in res.structured_content["preview"]] == ["2024-02-01", "2024-02-13"]


@pytest.mark.anyio
async def test_pg_load_creates_date_and_timestamp_columns(project: Path, pg: Cluster) -> None:
    (project / "o.csv").write_text(MIXED)
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("drop schema if exists dp_dates cascade; create schema dp_dates")
    try:
        async with inmemory(project, env=pg.env()) as client:
            await call(client, "read_csv", path="o.csv", name="o")
            await call(client, "pg_load", data_ref="o", table="orders", schema="dp_dates")
        with psycopg.connect(pg.url) as conn:
            kinds = dict(
                conn.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = 'dp_dates' and table_name = 'orders'"
                ).fetchall()
            )
            assert kinds["order_date"] == "date" and kinds["eu"] == "date" and kinds["dots"] == "date"
            assert kinds["stamp"] == "timestamp without time zone"
            assert kinds["zoned"] == "timestamp with time zone"
            assert kinds["amb"] == "text"
            conn.execute("set time zone 'UTC'")
            row = conn.execute(
                "select order_date, eu, stamp, zoned from dp_dates.orders where id = 2"
            ).fetchone()
            # As text, '01/02/2024' < '31/01/2024': the minimum is a date only if the column is one.
            earliest = conn.execute("select min(eu) from dp_dates.orders").fetchone()
        assert row == (
            dt.date(2024, 2, 29),
            dt.date(2024, 2, 1),
            dt.datetime(2024, 2, 1, 0, 0, 1),
            dt.datetime(2024, 1, 31, 13, 45, tzinfo=UTC),
        )
        assert earliest == (dt.date(2024, 1, 31),)
    finally:
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("drop schema if exists dp_dates cascade")
