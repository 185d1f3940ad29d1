"""Frame tools through the real server, in-memory client: messy files, chains, exact results, errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from frame_fixtures import write_fixtures
from harness import call, call_error, inmemory, text_of

pytestmark = pytest.mark.anyio


def rows_of(result) -> list[dict]:
    return result.structured_content["preview"]


async def test_messy_csvs_load_with_the_right_values(project: Path) -> None:
    write_fixtures(project)
    async with inmemory(project) as client:
        r = await call(client, "read_csv", path="data/latin1.csv")
        sc = r.structured_content
        assert sc["data_ref"] == "latin1" and sc["rows"] == 4
        assert [c["type"] for c in sc["columns"]] == ["int64", "string", "double", "string", "date32[day]"]
        assert [row["name"] for row in rows_of(r)] == ["Zoë", "Smith; J", "Ané", "Øre"]
        assert [row["amount"] for row in rows_of(r)] == [12.5, None, 100.0, 7.25]
        assert rows_of(r)[2]["day"] is None and rows_of(r)[0]["day"] == "2024-01-02"
        assert "latin-1" in text_of(r) and "sep=';'" in text_of(r)

        for path, ref in (
            ("data/sales.csv", "sales"),
            ("data/sales.csv.gz", "sales_gz"),
            ("data/sales.zip", "sz"),
        ):
            r = await call(client, "read_csv", path=path, name=ref)
            types = {c["name"]: c["type"] for c in r.structured_content["columns"]}
            assert types["ts"] == "timestamp[s, tz=UTC]", path
            assert types["big"] == "decimal128(38, 0)", path
            rows = rows_of(r)
            assert rows[0]["customer"] == "Doe, Jane" and rows[0]["big"] == "12345678901234567890123"
            assert rows[0]["ts"] == "2024-01-02T08:00:00+00:00"  # +02:00 kept as an instant
            assert rows[2]["amount"] == "nan" and rows[3]["amount"] is None  # NaN is not null

        r = await call(client, "read_csv", path="data/noheader.csv")
        assert [c["name"] for c in r.structured_content["columns"]] == ["column_1", "column_2", "column_3"]
        assert r.structured_content["rows"] == 3

        r = await call(
            client, "read_csv", path="data/sales.csv", name="picked", columns=["order_id", "region"],
            dtype={"order_id": "decimal(10,2)"}, nrows=2,
        )  # fmt: skip
        assert r.structured_content["rows"] == 2
        assert [c["type"] for c in r.structured_content["columns"]] == ["decimal128(10, 2)", "string"]
        assert rows_of(r)[0]["order_id"] == "1.00"


async def test_json_array_lines_gzip_and_nested(project: Path) -> None:
    write_fixtures(project)
    async with inmemory(project) as client:
        for path in ("data/records.json", "data/records.jsonl", "data/records.jsonl.gz"):
            r = await call(client, "read_json", path=path, name="rec", overwrite=True)
            sc = r.structured_content
            types = {c["name"]: c["type"] for c in sc["columns"]}
            assert sc["rows"] == 3, path
            assert types["day"] == "date32[day]", path
            assert types["user"].startswith("struct<name: string, tags: list<"), path
            assert rows_of(r)[0]["user"] == {"name": "ann", "tags": ["a", "b"]}
            assert rows_of(r)[1]["score"] is None
        r = await call(client, "filter", data_ref="rec", where="score >= 1.5 AND day < DATE '2024-05-03'")
        assert [row["id"] for row in rows_of(r)] == [1]
        err = await call_error(client, "read_json", path="data/broken.json")
        assert "Cannot parse broken.json as JSON" in err


async def test_a_chain_with_hand_computed_results(project: Path) -> None:
    write_fixtures(project)
    async with inmemory(project) as client:
        await call(client, "read_csv", path="data/sales.csv")
        r = await call(client, "filter", data_ref="sales", where="amount > 100 OR region IN ('APAC')")
        assert r.structured_content["data_ref"] == "sales_filtered"
        # SQL (DuckDB) order: NaN is larger than any number, so row 3 (amount NaN) matches too.
        assert [row["order_id"] for row in rows_of(r)] == [1, 3, 5]
        r = await call(
            client, "filter", data_ref="sales", where="amount > 100 AND NOT isnan(amount)", name="big"
        )
        assert [row["order_id"] for row in rows_of(r)] == [1, 5]
        assert "Next:" in text_of(r)

        r = await call(
            client, "groupby", data_ref="sales", by=["region"], name="by_region",
            aggs={"n": "count(*)", "total": "sum(amount)", "amounts": "count(amount)", "top": "max(amount)",
                  "first_customer": "first(customer)"},
        )  # fmt: skip
        got = {row["region"]: row for row in rows_of(r)}
        # EU: 120.5 and NaN -> sum NaN; US: 80 and null -> 80; APAC: 300.
        assert got["US"]["n"] == 2 and got["US"]["total"] == 80.0 and got["US"]["amounts"] == 1
        assert got["APAC"]["total"] == 300.0 and got["EU"]["first_customer"] == "Doe, Jane"
        r = await call(client, "groupby", data_ref="sales", by=["region"], aggs={"med": "median(order_id)"})
        assert {row["region"]: row["med"] for row in rows_of(r)} == {"APAC": 5.0, "EU": 2.0, "US": 3.0}

        r = await call(
            client, "select", data_ref="sales", columns=["region", "order_id"], rename={"order_id": "id"}
        )
        assert [c["name"] for c in r.structured_content["columns"]] == ["region", "id"]

        await call(client, "read_csv", path="data/noheader.csv", name="lookup")
        r = await call(
            client,
            "join",
            left="sales",
            right="lookup",
            left_on=["order_id"],
            right_on=["column_1"],
            how="left",
        )
        rows = sorted(rows_of(r), key=lambda x: x["order_id"])
        assert [row["column_3"] for row in rows] == ["a", "b", "c", None, None]
        keys = {"left_on": ["order_id"], "right_on": ["column_1"]}
        r = await call(client, "join", left="sales", right="lookup", how="anti", **keys)
        assert sorted(row["order_id"] for row in rows_of(r)) == [4, 5]

        r = await call(client, "sort", data_ref="sales", by=["-amount"])
        assert [row["order_id"] for row in rows_of(r)] == [5, 1, 2, 3, 4]  # NaN and null both last
        r = await call(client, "sample", data_ref="sales", n=3, seed=7)
        ids = [row["order_id"] for row in rows_of(r)]
        assert len(ids) == 3 and ids == sorted(ids)
        r = await call(
            client, "sql", query="SELECT region, sum(order_id) AS s FROM sales GROUP BY region ORDER BY s"
        )
        assert [(row["region"], row["s"]) for row in rows_of(r)] == [("EU", 4), ("APAC", 5), ("US", 6)]

        r = await call(client, "describe", data_ref="sales")
        cols = {c["name"]: c for c in r.structured_content["columns"]}
        oid = cols["order_id"]["stats"]
        assert (oid["mean"], oid["min"], oid["25%"], oid["50%"], oid["75%"], oid["max"]) == (
            3.0,
            1,
            2.0,
            3.0,
            4.0,
            5,
        )
        assert oid["std"] == pytest.approx(1.58114, rel=1e-4)
        assert cols["amount"]["nulls"] == 1 and cols["amount"]["stats"]["nan"] == 1
        assert cols["amount"]["stats"]["mean"] == pytest.approx((120.5 + 80 + 300) / 3, rel=1e-5)
        assert cols["region"]["stats"] == {"distinct": 3, "top": "EU", "freq": 2, "min": "APAC", "max": "US"}

        r = await call(client, "head", data_ref="sales", n=2)
        assert [row["order_id"] for row in rows_of(r)] == [1, 2]
        r = await call(client, "tail", data_ref="sales", n=2)
        assert [row["order_id"] for row in rows_of(r)] == [4, 5]

        await call(client, "to_parquet", data_ref="by_region", path="out/by_region.parquet", mkdirs=True)
        back = pq.read_table(project / "out/by_region.parquet")
        assert back.num_rows == 3 and back.column_names[0] == "region"
        await call(client, "to_csv", data_ref="big", path="out/f.csv.gz")
        with gzip.open(project / "out/f.csv.gz", "rb") as f:
            assert pacsv.read_csv(f).column("order_id").to_pylist() == [1, 5]
        for end, codec in ((".bz2", "bz2"), (".zst", "zstd")):  # the name's ending compresses, as on S3
            await call(client, "to_csv", data_ref="big", path=f"out/f.csv{end}")
            with pa.CompressedInputStream(str(project / f"out/f.csv{end}"), codec) as f:
                assert pacsv.read_csv(f).column("order_id").to_pylist() == [1, 5]


async def test_types_round_trip_through_parquet_and_refs(project: Path) -> None:
    data = write_fixtures(project)
    original = pq.read_table(data / "typed.parquet")
    async with inmemory(project) as client:
        r = await call(client, "read_parquet", path="data/typed.parquet")
        types = [c["type"] for c in r.structured_content["columns"]]
        assert types == [
            "decimal128(12, 2)", "timestamp[us, tz=Europe/Paris]", "date32[day]", "binary", "int64", "double",
            "struct<a: list<element: int64>>",
        ]  # fmt: skip
        row = rows_of(r)[0]
        assert row["d"] == "12.34" and row["big"] == "9223372036854775807" and row["f"] == "nan"
        await call(client, "filter", data_ref="typed", where="big > 0 OR f IS NULL", name="kept")
        await call(client, "to_parquet", data_ref="typed", path="out/typed.parquet", mkdirs=True)
        err = await call_error(client, "to_csv", data_ref="typed", path="out/typed.csv", mkdirs=True)
        assert "CSV cannot hold nested or binary values: bin (binary), nested" in err
    back = pq.read_table(project / "out/typed.parquet")
    assert back.schema == original.schema
    for name in original.column_names:
        if name == "f":  # NaN != NaN: compare as text
            assert [str(x) for x in back[name].to_pylist()] == ["nan", "None", "1.5"]
        else:
            assert back[name].equals(original[name]), name


async def test_the_row_guard_and_chunked_loading(project: Path) -> None:
    n = 2500
    (project / "big.csv").write_text("id,v\n" + "".join(f"{i},{i % 7}\n" for i in range(n)), encoding="utf-8")
    async with inmemory(project, env={"DATA_PLATFORM_MAX_ROWS": "1000"}) as client:
        err = await call_error(client, "read_csv", path="big.csv")
        assert "has 2,500 rows, over the row guard of 1,000; nothing was loaded" in err
        assert (
            "chunk_size=" in err
            and "max_rows=2500" in err
            and "| 0  | 0 |" in err.replace("| 0 | 0 |", "| 0  | 0 |")
        )
        assert (await call(client, "list_data")).structured_content["refs"] == []
        r = await call(client, "read_csv", path="big.csv", chunk_size=1000)
        assert r.structured_content["rows"] == n
        r = await call(client, "read_csv", path="big.csv", max_rows=5000, name="whole")
        assert r.structured_content["rows"] == n
        r = await call(client, "tail", data_ref="big", n=1)
        assert rows_of(r) == [{"id": n - 1, "v": (n - 1) % 7}]
        r = await call(client, "groupby", data_ref="big", by=["v"], aggs={"n": "count(*)"})
        assert sum(row["n"] for row in rows_of(r)) == n


async def test_bad_inputs_get_clean_errors_and_the_server_keeps_serving(project: Path) -> None:
    write_fixtures(project)
    async with inmemory(project) as client:
        await call(client, "read_csv", path="data/sales.csv")
        cases = [
            ("read_csv", {"path": "data/nope.csv"}, "File not found"),
            ("read_csv", {"path": "/etc/passwd"}, "outside the allowed folders"),
            ("read_csv", {"path": "data/empty.csv"}, "is empty"),
            ("read_csv", {"path": "data"}, "other columns than"),  # a folder is a dataset
            ("read_csv", {"path": "data/sales.csv", "dtype": {"amount": "money"}}, "Unknown type 'money'"),
            ("read_csv", {"path": "data/sales.csv", "columns": ["ammount"]}, 'Did you mean "amount"?'),
            ("read_csv", {"path": "data/sales.csv", "encoding": "klingon"}, "Unknown encoding"),
            ("read_csv", {"path": "data/sales.csv", "name": "sales"}, "already exists"),
            ("read_csv", {"path": "data/sales.csv", "name": "bad name"}, "Invalid data_ref name"),
            ("read_parquet", {"path": "data/not_parquet.parquet"}, "not a readable Parquet file"),
            ("filter", {"data_ref": "sales", "where": "ammount > 1"},
             'column "ammount" not found in `sales`. Did you mean "amount"? Columns: order_id'),
            ("filter", {"data_ref": "sale", "where": "amount > 1"}, 'Did you mean "sales"?'),
            ("filter", {"data_ref": "sales", "where": "amount >"}, "Bad expression"),
            ("filter", {"data_ref": "sales", "where": "region > 5"}, "Column types: region string"),
            ("groupby", {"data_ref": "sales", "by": ["region"], "aggs": {"x": "avgg(x)"}}, "Unknown aggreg"),
            ("groupby", {"data_ref": "sales", "by": ["regio"], "aggs": {"n": "count(*)"}}, 'mean "region"?'),
            ("join", {"left": "sales", "right": "sales"}, "Say which columns to join on"),
            ("join", {"left": "sales", "right": "sales", "left_on": ["order_id"], "right_on": ["region"]},
             "Join keys have different types"),
            ("select", {"data_ref": "sales", "columns": ["nope"]}, "not found"),
            ("sort", {"data_ref": "sales", "by": ["-nope"]}, "not found"),
            ("sample", {"data_ref": "sales"}, "exactly one of n or frac"),
            ("sql", {"query": "SELECT * FROM nosuch"}, "Refs you can query by name: sales"),
            ("to_csv", {"data_ref": "sales", "path": "data/sales.csv"}, "already exists"),
            ("to_csv", {"data_ref": "sales", "path": "new/dir/x.csv"}, "mkdirs=true"),
            ("head", {"data_ref": "sales", "n": 500}, "50"),
        ]  # fmt: skip
        for tool, args, expected in cases:
            err = await call_error(client, tool, **args)
            assert expected in err, (tool, args, err)
        assert (await call(client, "head", data_ref="sales", n=1)).structured_content["rows"] == 5


INJECTIONS = [
    "1=1; DROP TABLE t",
    "amount > 1 -- comment",
    "amount > 1 /* c */",
    "read_csv_auto('/etc/passwd') IS NOT NULL",
    "getenv('HOME') = 'x'",
    "amount IN (SELECT 1)",
    "EXISTS (SELECT * FROM read_text('/etc/passwd'))",
    "glob('/etc/*') IS NULL",
    "amount > 1 UNION SELECT * FROM t",
    '"amount" > 1) OR (1=1',
    "region = 'x' || (SELECT current_setting('enable_external_access'))",
    "amount > 1\x00",
    "COPY t TO '/tmp/x.csv'",
]
SQL_INJECTIONS = [
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM '/etc/passwd'",
    "COPY sales TO '/tmp/leak.csv'",
    "ATTACH '/tmp/x.db' AS x",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "PRAGMA version",
    "SELECT 1; SELECT 2",
    "SELECT getenv('HOME')",
    "CREATE TABLE z AS SELECT 1",
    "SELECT * FROM sales; COPY sales TO '/tmp/leak2.csv'",
    "SELECT * FROM read_parquet('https://example.com/x.parquet')",
    "/* hi */ SET threads = 1",
    "SELECT * FROM sniff_csv('/etc/passwd')",
]


async def test_expression_injection_is_refused_or_harmless(project: Path) -> None:
    write_fixtures(project)
    async with inmemory(project) as client:
        await call(client, "read_csv", path="data/sales.csv")
        for expr in INJECTIONS:
            err = await call_error(client, "filter", data_ref="sales", where=expr)
            assert "passwd" not in err.lower() or "not allowed" in err.lower(), expr
            assert "root:" not in err
        for query in SQL_INJECTIONS:
            err = await call_error(client, "sql", query=query)
            assert "root:" not in err, query
        # Comments inside a single SELECT are harmless: still one SELECT in the sandbox.
        r = await call(client, "sql", query="SELECT count(*) AS n FROM sales -- trailing comment")
        assert rows_of(r) == [{"n": 5}]
        listed = [x["name"] for x in (await call(client, "list_data")).structured_content["refs"]]
        assert listed == ["sales", "sales_sql"]
    assert not Path("/tmp/leak.csv").exists() and not Path("/tmp/leak2.csv").exists()


async def test_output_stays_bounded_for_wide_and_long_cells(project: Path) -> None:
    wide = pa.table({f"column_with_a_long_name_{i}": ["x" * 500] * 30 for i in range(300)})
    pq.write_table(wide, project / "wide.parquet")
    async with inmemory(project) as client:
        calls = [("read_parquet", {"path": "wide.parquet"}), ("head", {"data_ref": "wide", "n": 50})]
        for tool, args in [*calls, ("describe", {"data_ref": "wide"})]:
            r = await call(client, tool, **args)
            assert len(text_of(r)) <= 8000, tool
            assert len(json.dumps(r.structured_content)) < 80_000, tool  # <= 50 rows x 12 cols x 40 chars


async def test_sql_over_refs_stops_at_the_statement_timeout(project: Path) -> None:
    """DATA_PLATFORM_STATEMENT_TIMEOUT applies to DuckDB over refs too (it ran a 30 s sleep to its end)."""
    async with inmemory(project, env={"DATA_PLATFORM_STATEMENT_TIMEOUT": "1"}) as client:
        err = await call_error(client, "sql", query="SELECT pg_sleep(20) AS s")
        assert err.startswith("Error: The statement ran longer than 1 s and was stopped.")
        assert "DATA_PLATFORM_STATEMENT_TIMEOUT" in err
        r = await call(client, "sql", query="SELECT 41 + 1 AS n")  # the cursor still answers
        assert rows_of(r) == [{"n": 42}]


async def test_a_result_repeating_a_column_name_is_stored_with_unique_names(project: Path) -> None:
    """`SELECT 1 AS x, 2 AS x` (and the fuzz's `SELECT 1, 1, ...` x 300) was an internal error, then a
    ref no tool could tell the columns of apart (describe failed; the structured preview kept one
    value per name). Stored as DuckDB's CREATE TABLE AS stores it (x, x_1), and the answer says so."""
    async with inmemory(project) as client:
        r = await call(client, "sql", query="SELECT 1 AS x, 2 AS x, 'a' AS y", name="rep")
        lines = text_of(r).splitlines()
        assert "| x | x_1 | y |" in lines and "| 1 | 2 | a |" in lines
        assert "Repeated column names renamed (a ref's names are unique): x -> x_1." in lines
        assert r.structured_content["preview"] == [{"x": 1, "x_1": 2, "y": "a"}]
        described = await call(client, "describe", data_ref="rep")
        assert [c["name"] for c in described.structured_content["columns"]] == ["x", "x_1", "y"]
        picked = await call(client, "filter", data_ref="rep", where="x_1 = 2")
        assert picked.structured_content["rows"] == 1
        wide = await call(client, "sql", query="SELECT " + ", ".join(str(i % 3) for i in range(300)))
        assert wide.structured_content["rows"] == 1 and len(wide.structured_content["columns"]) == 300
        assert "(1 rows x 300 columns" in text_of(wide)
        names = [c["name"] for c in wide.structured_content["columns"]]
        assert len(set(names)) == 300 and names[:4] == ["0", "1", "2", "0_1"]
