"""Datasets through the real server (in-memory client): folders, globs and lists become one ref,
hive partitions typed columns, `where` and `columns` pushed into the scan (the counts prove it)."""

from __future__ import annotations

import bz2
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from data_platform.config import load_settings
from data_platform.errors import ExpressionError
from data_platform.lakes.pushdown import scan_filter
from harness import call, call_error, inmemory, text_of

pytestmark = pytest.mark.anyio

SPECIES = ["Adelie", "Chinstrap", "Gentoo"]
YEARS = [2007, 2008, 2009]
REPEATS = 6  # bzip2 streams of 200,000 rows per partition file: ~2.5 s of reading on 2 cores


def penguins(rows: int = 900) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "species": [SPECIES[i % 3] for i in range(rows)],
            "year": [YEARS[(i // 3) % 3] for i in range(rows)],
            "mass": pa.array([3000.0 + i for i in range(rows)]),
        }
    )


def put_hive(fs: pafs.FileSystem, prefix: str) -> None:
    """penguins() as species=X/year=Y/ Parquet files (two row groups each) in object storage."""
    ds.write_dataset(
        penguins(), prefix, filesystem=fs, format="parquet", partitioning=["species", "year"],
        partitioning_flavor="hive", max_rows_per_group=50, min_rows_per_group=50,
    )  # fmt: skip


async def same_rows(client, a: str, b: str) -> list[dict]:  # type: ignore[no-untyped-def]
    """Rows of penguins ref `a` missing from `b`, and `b`'s count: [{"missing": 0, "n": 900}] when equal."""
    query = (
        f"SELECT (SELECT count(*) FROM (SELECT id, species, year, mass FROM {a} EXCEPT "
        f"SELECT id, species, year, mass FROM {b})) AS missing, (SELECT count(*) FROM {b}) AS n"
    )
    return (await call(client, "sql", query=query)).structured_content["preview"]


async def prefix_round_trip(client, project: Path, root: str) -> str:  # type: ignore[no-untyped-def]
    """On object storage under `root` (e.g. gs://bucket), holding put_hive's penguins: the prefix read
    with a partition filter (3 of 9 files), listed, and a ref written back partitioned under it and
    read back identical. The listing's text, for the caller's secret checks."""
    r = await call(client, "read_parquet", path=f"{root}/penguins", where="year = 2009", name="y9")
    sc = r.structured_content
    assert sc["rows"] == 300 and (sc["scan"]["files_read"], sc["scan"]["files_total"]) == (3, 9)
    assert sc["source"] == f"{root}/penguins" and {"species", "year"} <= {x["name"] for x in sc["columns"]}
    listed = text_of(await call(client, "list_files", path=f"{root}/penguins/"))
    assert "9 files" in listed and "species" in listed and "mass" in listed
    r = await call(client, "list_files", path=f"{root}/penguins/species=Adelie/*/*")  # a glob's matches
    assert (r.structured_content["kind"], r.structured_content["files_total"]) == ("glob", 3)

    pq.write_table(penguins(), project / "p.parquet")
    await call(client, "read_parquet", path="p.parquet", name="p")
    w = await call(client, "to_parquet", data_ref="p", path=f"{root}/out/p", partition_by=["species"])
    assert w.structured_content["path"] == f"{root}/out/p"
    await call(client, "read_parquet", path=f"{root}/out/p", name="back")
    assert await same_rows(client, "p", "back") == [{"missing": 0, "n": 900}]
    return listed


def write_hive(folder: Path, table: pa.Table) -> None:
    """species=X/year=Y/part-0.parquet, two row groups a file, plus a _SUCCESS marker."""
    ds.write_dataset(
        table,
        folder,
        format="parquet",
        partitioning=["species", "year"],
        partitioning_flavor="hive",
        max_rows_per_group=50,
        min_rows_per_group=50,
        max_rows_per_file=1000,
    )
    (folder / "_SUCCESS").write_text("")


async def test_partitioned_folder_glob_and_list_read_into_one_ref(project: Path) -> None:
    write_hive(project / "penguins_ds", penguins())
    async with inmemory(project) as client:
        r = await call(client, "read_parquet", path="penguins_ds")
        sc = r.structured_content
        assert sc["data_ref"] == "penguins_ds" and sc["rows"] == 900
        types = {c["name"]: c["type"] for c in sc["columns"]}
        assert types["species"] == "string" and types["year"] == "int32"  # typed from the folders
        assert sc["scan"]["files_read"] == sc["scan"]["files_total"] == 9

        r = await call(client, "read_parquet", path="penguins_ds/*/*/*.parquet", name="globbed")
        assert r.structured_content["rows"] == 900
        assert "species" in [c["name"] for c in r.structured_content["columns"]]

        r = await call(
            client,
            "read_parquet",
            path=["penguins_ds/species=Adelie", "penguins_ds/species=Gentoo"],
            name="two",
            source_column="file",
        )
        sc = r.structured_content
        assert sc["rows"] == 600 and sc["scan"]["files_total"] == 6
        assert sc["columns"][-1] == {"name": "file", "type": "string"}
        query = (
            "SELECT count(DISTINCT file) AS n, "
            "bool_and(file LIKE '%/species=%/year=%/%.parquet') AS ok FROM two"
        )
        r = await call(client, "sql", query=query)
        assert r.structured_content["preview"] == [{"n": 6, "ok": True}]


async def test_where_prunes_partitions_and_row_groups(project: Path) -> None:
    write_hive(project / "penguins_ds", penguins())
    async with inmemory(project) as client:
        r = await call(
            client, "read_parquet", path="penguins_ds", where="species == 'Gentoo' and year >= 2008"
        )
        sc = r.structured_content
        assert sc["rows"] == 200
        assert (sc["scan"]["files_read"], sc["scan"]["files_total"]) == (2, 9)
        assert sc["scan"]["bytes_read"] < sc["scan"]["bytes_total"] / 3
        assert "Read 2 of 9 files" in text_of(r)

        # A row filter on a data column skips row groups by their statistics: ids are sorted.
        r = await call(
            client, "read_parquet", path="penguins_ds", where="id < 40", columns=["id"], name="low"
        )
        sc = r.structured_content
        assert sc["rows"] == 40 and [c["name"] for c in sc["columns"]] == ["id"]
        assert sc["scan"]["row_groups_read"] < sc["scan"]["row_groups_total"]

        err = await call_error(client, "read_parquet", path="penguins_ds", where="mass / 2 > 10")
        assert "cannot be pushed into the scan" in err and "filter" in err
        err = await call_error(client, "read_parquet", path="penguins_ds", where="spcies == 'x'")
        assert "species" in err  # did you mean


async def test_row_guard_on_a_dataset_says_what_to_narrow(project: Path) -> None:
    write_hive(project / "penguins_ds", penguins())
    async with inmemory(project) as client:
        err = await call_error(client, "read_parquet", path="penguins_ds", max_rows=100)
        assert "900 rows" in err and "partition column (species, year)" in err and "columns=" in err
        r = await call(client, "read_parquet", path="penguins_ds", chunk_size=100)
        assert r.structured_content["rows"] == 900
        # both, as a model following the guard's advice writes them: every row, and said (it was silent)
        r = await call(client, "read_parquet", path="penguins_ds", max_rows=100, chunk_size=100)
        assert r.structured_content["rows"] == 900
        assert "max_rows=100 did not apply: chunk_size streams every row" in text_of(r)


async def test_csv_and_json_datasets_and_single_files_unchanged(project: Path) -> None:
    data = project / "csvs"
    for year in YEARS:
        (data / f"year={year}").mkdir(parents=True)
        (data / f"year={year}" / "a.csv").write_text(f"name;amount\nx{year};1,5\ny;2\n", encoding="latin-1")
    (project / "js").mkdir()
    for i in range(3):
        (project / "js" / f"p{i}.jsonl").write_text('{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n')
    async with inmemory(project) as client:
        r = await call(client, "read_csv", path="csvs", where="year = 2008")
        sc = r.structured_content
        assert sc["rows"] == 2 and sc["scan"]["files_read"] == 1 and sc["preview"][0]["name"] == "x2008"
        r = await call(client, "read_json", path="js/*.jsonl", where="a = 2")
        assert r.structured_content["rows"] == 3
        err = await call_error(client, "read_csv", path="csvs", dtype={"amount": "float"})
        assert "dtype" in err and "one local file" in err
        # One local file: the single-file reader, with its sniffing (a note on the separator).
        r = await call(client, "read_csv", path="csvs/year=2007/a.csv")
        assert r.structured_content["scan"] is None and "sep=';'" in text_of(r)


async def test_urls_the_server_does_not_serve_are_refused(project: Path) -> None:
    async with inmemory(project) as client:
        err = await call_error(client, "read_parquet", path="ftp://example.com/x.parquet")
        assert "ftp:// URLs are not served" in err and "s3://" in err
        err = await call_error(client, "to_csv", data_ref="x", path="http://example.com/x.csv")
        assert "not served" in err or "s3://" in err


def test_scan_filter_matches_the_filter_language(tmp_path: Path) -> None:
    table = penguins(30).append_column("day", pa.array([None] * 29 + [1], pa.int64()))
    schema = table.schema
    cases = {
        "species == 'Adelie' & year >= 2008": pc.and_(
            pc.equal(table["species"], "Adelie"), pc.greater_equal(table["year"], 2008)
        ),
        "year in (2007, 2009) and not species = 'Gentoo'": None,
        "day.isna()": None,
        "mass between 3005 and 3010": None,
        "species.str.startswith('Ch')": None,
        "lower(species) like 'a%'": pc.equal(table["species"], "Adelie"),
    }
    for text, expected in cases.items():
        expr, _ = scan_filter(text, schema, "t")
        got = ds.dataset(table).to_table(filter=expr)
        if expected is not None:
            assert got.num_rows == pc.sum(expected).as_py()
        assert got.num_rows > 0, text
    with pytest.raises(ExpressionError):
        scan_filter("mass / 2 > 1500", schema, "t")


def test_paths_refuse_object_storage_and_accept_folders(tmp_path: Path) -> None:
    from data_platform.errors import InputError
    from data_platform.paths import resolve_path

    settings = load_settings(tmp_path, {}, system_file=tmp_path / "none.env")
    with pytest.raises(InputError, match="object storage"):
        resolve_path("s3://bucket/x.parquet", settings)
    assert resolve_path(str(tmp_path), settings, folder=True) == tmp_path.resolve()
    pq.write_table(penguins(3), tmp_path / "x.parquet")
    assert resolve_path(f"file://{tmp_path}/x.parquet", settings).name == "x.parquet"


async def test_to_parquet_partition_by_writes_a_hive_folder(project: Path) -> None:
    write_hive(project / "penguins_ds", penguins())
    async with inmemory(project) as client:
        await call(client, "read_parquet", path="penguins_ds", name="p")
        w = await call(
            client, "to_parquet", data_ref="p", path="out/by_year", partition_by=["year"], mkdirs=True
        )
        assert w.structured_content["rows"] == 900
        assert sorted(x.name for x in (project / "out" / "by_year").iterdir()) == [
            "year=2007",
            "year=2008",
            "year=2009",
        ]
        err = await call_error(client, "to_parquet", data_ref="p", path="out/by_year", partition_by="year")
        assert "already exists" in err and "overwrite=true" in err
        await call(
            client, "to_parquet", data_ref="p", path="out/by_year", partition_by="year", overwrite=True
        )
        r = await call(client, "read_parquet", path="out/by_year", where="year = 2009", name="back")
        assert r.structured_content["rows"] == 300 and r.structured_content["scan"]["files_read"] == 1
        err = await call_error(client, "to_csv", data_ref="p", path="out/x", partition_by=["year"])
        assert "partition_by" in err


async def test_odd_arguments_get_clean_errors(project: Path) -> None:
    write_hive(project / "penguins_ds", penguins())
    cases = [
        ("list_files", {"path": ""}, "empty"),
        ("list_files", {"path": "nope/"}, "not found"),
        ("list_files", {"path": "gopher://x/y"}, "not served"),
        ("read_parquet", {"path": "penguins_ds/*.csv"}, "No file matches"),
        ("read_parquet", {"path": []}, "empty"),
        ("read_parquet", {"path": "penguins_ds", "where": "id > 'x'"}, "cannot be pushed"),
        ("read_parquet", {"path": "penguins_ds", "columns": ["nope"]}, 'column "nope" not found'),
        ("read_parquet", {"path": "penguins_ds", "source_column": "id"}, "already a column"),
        ("read_parquet", {"path": "penguins_ds", "as_of": "yesterday"}, "as_of"),
        ("write_table", {"data_ref": "nope", "table": "out/t"}, "nope"),
        ("write_table", {"data_ref": "x", "table": "sales.orders"}, "No Iceberg catalog"),
        ("to_parquet", {"data_ref": "nope", "path": "s3://bucket/x.parquet"}, ""),
    ]
    async with inmemory(project, {"HOME": str(project)}) as client:
        for tool, args, expected in cases:
            err = await call_error(client, tool, **args)
            assert "Internal error" not in err and expected in err, (tool, args, err)
        r = await call(client, "list_files", path="penguins_ds")
        sc = r.structured_content
        assert sc["files_total"] == 9 and sc["partition_values"] == {"species": 3, "year": 3}
        assert sc["columns"]["year"] == "int32" and "read_parquet" in text_of(r)
        paths = [f["path"] for f in sc["files"]]
        assert paths == sorted(paths)  # in partition order, as a model reads the table


@pytest.mark.slow  # seconds of real work, so that progress is due
async def test_dataset_read_reports_bytes_and_a_cancel_publishes_nothing(project: Path) -> None:

    from cancelling import _cancel_at_first_progress, _files, _refs, _settled

    # bzip2 (concatenated streams) makes the read seconds long on any machine, so that progress is
    # due and a cancel lands mid-read; a plain CSV of this size is read in under the 1 s period.
    folder = project / "big"
    block = bz2.compress("".join(f"{i},{i * 0.37:.4f},name_{i % 997}\n" for i in range(200_000)).encode())
    for part in range(6):
        (folder / f"part={part}").mkdir(parents=True)
        with open(folder / f"part={part}" / "a.csv.bz2", "wb") as f:
            f.write(bz2.compress(b"id,value,name\n"))
            for _ in range(REPEATS):
                f.write(block)
    total = sum(p.stat().st_size for p in folder.rglob("*.csv.bz2"))
    steps: list[tuple[float, float | None]] = []

    async def on_progress(done: float, t: float | None, message: str | None) -> None:
        steps.append((done, t))

    async with inmemory(project) as client:
        r = await client.call_tool(
            "read_csv", {"path": "big", "chunk_size": 100_000, "name": "all"}, progress_callback=on_progress
        )
        assert not r.is_error, text_of(r)
        assert r.structured_content["rows"] == 6 * REPEATS * 200_000
        assert steps and all(t == total for _, t in steps) and steps[-1][0] <= total
        before = _files(project)
        await _cancel_at_first_progress(
            client, "read_csv", {"path": "big", "chunk_size": 100_000, "name": "b"}
        )
        await _settled(client)  # its thread has returned: nothing can be published later
        assert _files(project) == before and "b" not in await _refs(client)


async def test_zero_padded_partition_values_stay_as_written(project: Path) -> None:
    """`zip=01234` was typed int32 and read as 1234 (list_files showed 01234; a partitioned write gave
    back zip=1234): a key whose values do not all read back as written stays text, as in DuckDB."""
    for zip_code in ("00501", "01234", "90210"):
        for month in ("01", "02"):
            folder = project / "zips" / f"zip={zip_code}" / f"m={month}"
            folder.mkdir(parents=True)
            pq.write_table(pa.table({"x": [1, 2]}), folder / "p.parquet")
    for year in (2023, 2024):
        (project / "plain" / f"year={year}").mkdir(parents=True)
        pq.write_table(pa.table({"x": [year]}), project / "plain" / f"year={year}" / "p.parquet")
    async with inmemory(project) as client:
        r = await call(client, "read_parquet", path="zips", where="zip == '01234' and m == '02'")
        sc = r.structured_content
        assert sc["rows"] == 2 and sc["scan"]["files_read"] == 1
        assert [(row["zip"], row["m"]) for row in sc["preview"]] == [("01234", "02")] * 2
        types = {c["name"]: c["type"] for c in sc["columns"]}
        assert types["zip"] == "string" and types["m"] == "string"
        err = await call_error(client, "read_parquet", path="zips", where="m == 2")
        assert "`m` is text" in err and "'02'" in err
        r = await call(client, "read_parquet", path="plain", where="year = 2024")  # plain numbers stay so
        assert {c["name"]: c["type"] for c in r.structured_content["columns"]}["year"] == "int32"
        assert r.structured_content["rows"] == 1


async def test_an_option_of_one_file_on_a_dataset_names_what_this_reader_takes(project: Path) -> None:
    """The refusal listed source_column for read_csv, which does not take it (a model then sent it)."""
    (project / "csvs").mkdir()
    for i in range(2):
        (project / "csvs" / f"p{i}.csv").write_text("a,b\n1,2\n")
    async with inmemory(project) as client:
        err = await call_error(client, "read_csv", path="csvs", dtype={"a": "double"})
        assert err.startswith("Error: dtype apply to one local file") and "source_column" not in err
        assert "where, columns, nrows, chunk_size, sep and encoding" in err
