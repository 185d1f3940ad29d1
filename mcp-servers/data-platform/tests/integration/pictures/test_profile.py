"""profile through the real server (in-memory client): a messy CSV's problems are named, the numbers
match pyarrow, the overview comes back as a real PNG, and the HTML report is self-contained."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from mcp.types import ImageContent

from harness import call, inmemory, text_of
from pngcheck import assert_picture
from residency import resident_mb, settled

pytestmark = pytest.mark.anyio

MESSY = """\
id,name,signup,amount,score,email
1,Ann,2025-01-03,"1,200",10.5,ann@example.com
2,,03/01/2025,35,11.0,bob@example.com
3,Cid,2025-02-11,unknown,9.5,cid@example.com
4,Dee,2025-02-12,"2,400",10.0,dee@example.com
5,,14/02/2025,80,950.0,eve@example.com
6,Fay,2025-03-01,12,10.2,fay@example.com
6,Fay,2025-03-01,12,10.2,fay@example.com
8,Gus,2025-03-04,7,9.9,gus@example.com
"""


def html_rows(page: str) -> list[list[str]]:
    """The cells of the report's columns table, header row first."""
    from html.parser import HTMLParser

    table = page.split("<h2>Columns</h2>", 1)[1].split("</table>", 1)[0]
    rows: list[list[str]] = []

    class Cells(HTMLParser):
        cell: list[str] | None = None

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                rows.append([])
            elif tag in ("td", "th"):
                self.cell = []

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.cell is not None:
                rows[-1].append("".join(self.cell).strip())
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)

    Cells().feed(table)
    return rows


def image_of(result) -> bytes:
    images = [c for c in result.content if isinstance(c, ImageContent)]
    assert len(images) == 1 and images[0].mime_type == "image/png"
    return base64.b64decode(images[0].data)


async def test_profile_names_the_problems_of_a_messy_csv(project: Path) -> None:
    (project / "messy.csv").write_text(MESSY, encoding="utf-8")
    async with inmemory(project) as client:
        await call(client, "read_csv", path="messy.csv")
        r = await call(client, "profile", data_ref="messy")
    text, sc = text_of(r), r.structured_content
    # Each problem a person must fix, named in the text the model reads.
    assert "name: 2 nulls" in text
    assert re.search(r"signup: mixed date formats stored as text: YYYY-MM-DD \d+%, NN/NN/YYYY \d+%", text)
    assert "amount: numbers stored as text" in text and "(not: 'unknown')" in text
    assert re.search(r"score: 1 outlier outside", text)
    assert "1 duplicate row" in text and "1 duplicate rows" not in text
    cols = {c["name"]: c for c in sc["columns"]}
    assert cols["email"]["looks_like"] == "email"
    # The numbers, checked against pyarrow on the same CSV.
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(
        project / "messy.csv", convert_options=pacsv.ConvertOptions(strings_can_be_null=True)
    )
    score = table.column("score")
    assert cols["score"]["stats"]["max"] == pc.max(score).as_py()
    assert cols["score"]["stats"]["mean"] == pytest.approx(pc.mean(score).as_py(), rel=1e-5)
    q1, q3 = pc.quantile(score, q=[0.25, 0.75]).to_pylist()
    assert cols["score"]["stats"]["25%"] == pytest.approx(q1) and cols["score"]["stats"][
        "75%"
    ] == pytest.approx(q3)
    assert cols["name"]["nulls"] == table.column("name").null_count == 2
    assert cols["name"]["distinct"] == len(pc.unique(table.column("name")).drop_null())
    assert sum(n for _, _, n in cols["score"]["histogram"]) == len(score)
    assert sc["duplicate_rows"] == table.num_rows - table.group_by(table.schema.names).aggregate([]).num_rows
    assert sc["candidate_keys"] == []  # id repeats 6: no single key; the pairs are not unique either
    # The overview picture and the report.
    png = assert_picture(image_of(r), 400, 200)
    assert png.width > png.height / 2
    report = project / sc["report_path"]
    page = report.read_text(encoding="utf-8")
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    assert "<svg" in page and "mixed date formats" in page
    # The report's own numbers (its column table), checked against pyarrow too.
    rows = {r[0]: r for r in html_rows(page) if r}
    header = html_rows(page)[0]
    score_row = dict(zip(header, rows["score"], strict=True))
    assert float(score_row["max"]) == pc.max(score).as_py()
    assert float(score_row["mean"]) == pytest.approx(pc.mean(score).as_py(), rel=1e-5)
    assert float(score_row["75%"]) == pytest.approx(q3)
    name_row = dict(zip(header, rows["name"], strict=True))
    assert int(name_row["nulls"]) == 2 and int(name_row["distinct"]) == cols["name"]["distinct"]


@pytest.mark.slow  # the fast tier has one profile and one chart call of its own
async def test_profile_of_a_clean_table_finds_keys_correlations_and_repeated_columns(project: Path) -> None:
    n = 2_000
    ids = pa.array(range(n), pa.int64())
    table = pa.table(
        {
            "id": ids,
            "x": pc.multiply(ids, 2.0),
            "y": pc.add(pc.multiply(ids, -0.5), 3.0),
            "code": pa.array([f"C{i % 10}" for i in range(n)]),
            "label": pa.array([f"label {i % 10}" for i in range(n)]),
        }
    )
    import pyarrow.parquet as pq

    pq.write_table(table, project / "clean.parquet")
    async with inmemory(project) as client:
        await call(client, "read_parquet", path="clean.parquet")
        r = await call(client, "profile", data_ref="clean")
    sc = r.structured_content
    assert sc["candidate_keys"][0] == ["id"] and sc["duplicate_rows"] == 0
    corr = {(a, b): v for a, b, v in sc["correlations"]}
    assert corr[("id", "x")] == pytest.approx(1.0) and corr[("x", "y")] == pytest.approx(-1.0)
    assert ["label", "code", "one-to-one"] in sc["duplicate_columns"]
    assert "Problems (1):\n- label repeats code (one-to-one)\n" in text_of(r)
    assert_picture(image_of(r))


@pytest.mark.slow
def test_the_report_renders_in_headless_chromium(project: Path, tmp_path: Path) -> None:
    """The HTML report opens from disk in a real browser, offline, and is not a blank page."""
    from data_platform.pictures.report import profile_report
    from data_platform.registry import Registry

    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: scripts/setup-chromium.sh installs it"
    (project / "messy.csv").write_text(MESSY, encoding="utf-8")
    registry = Registry(project / ".data-platform")
    import pyarrow.csv as pacsv

    registry.put(pacsv.read_csv(project / "messy.csv"), name="messy", source="messy.csv")
    out = profile_report(registry, "messy", None, project / ".data-platform")
    registry.close()
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,2000",
            out.report.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    png = assert_picture(shot.read_bytes(), 1200, 2000)
    white = png.share_of((255, 255, 255, 255))
    assert white < 0.97, f"the page is {white:.0%} white: blank"


def test_the_report_is_drawn_with_the_ref_let_go(project: Path, monkeypatch) -> None:
    """The overview is drawn from the summaries alone, once the ref's mapping is gone from the
    process: the renderer's memory (V8, ~100 MB) does not come on top of the ref's pages."""
    import pyarrow.csv as pacsv

    from data_platform.pictures import report
    from data_platform.registry import Registry

    (project / "messy.csv").write_text(MESSY, encoding="utf-8")
    registry = Registry(project / ".data-platform")
    registry.put(pacsv.read_csv(project / "messy.csv"), name="messy", source="messy.csv")
    path = str(registry.path("messy"))
    seen: list[bool] = []
    render = report.render

    def drawing(*args, **kwargs):
        maps = Path("/proc/self/maps").read_text().splitlines()
        seen.append(any(line.rstrip().endswith(path) for line in maps))
        return render(*args, **kwargs)

    monkeypatch.setattr(report, "render", drawing)
    out = report.profile_report(registry, "messy", None, project / ".data-platform")
    registry.close()
    assert seen == [False] and out.report.exists() and out.profile.info.rows == 8


def test_streamed_correlations_match_duckdb_corr_with_nulls_and_nan() -> None:
    """The pyarrow sums agree with DuckDB's corr() on pairwise-complete rows, across slices."""
    import duckdb

    from data_platform.frames import correlation

    n = 5_000
    a = [None if i % 97 == 0 else float((i * 7919) % 1000) for i in range(n)]
    b = [float("nan") if i % 89 == 0 else (x or 0.0) * 0.3 + (i % 13) for i, x in enumerate(a)]
    c = [float(i % 17) - 1e9 for i in range(n)]  # a large offset: centring must not lose digits
    table = pa.table({"a": a, "b": b, "c": c})
    got = {(x, y): r for x, y, r in correlation.correlations(table, {"a": 500.0, "b": 150.0, "c": -1e9})}
    saved, correlation.SLICE = correlation.SLICE, 1_000  # several slices
    try:
        centres = {"a": 0.0, "b": 0.0, "c": -1e9 + 8}  # other centres (near the mean: the profile's)
        sliced = {(x, y): r for x, y, r in correlation.correlations(table, centres)}
    finally:
        correlation.SLICE = saved
    con = duckdb.connect()
    con.register("t", table)
    for x, y in (("a", "b"), ("a", "c"), ("b", "c")):
        sql = f"SELECT corr({x}, {y}) FROM t WHERE NOT isnan({x}) AND NOT isnan({y})"
        want = con.sql(sql).fetchall()[0][0]
        assert got[(x, y)] == pytest.approx(want, abs=1e-4)
        assert sliced[(x, y)] == pytest.approx(want, abs=1e-4)


@pytest.mark.slow  # seconds of real work, so that progress is due and the call can be cancelled
async def test_profile_reports_progress_and_stops_when_cancelled(project: Path) -> None:
    import pyarrow.parquet as pq

    from cancelling import _cancel_at_first_progress, _settled

    n = 4_000_000
    ids = pa.array(range(n), pa.int64())
    table = pa.table({f"c{k}": pc.multiply(ids, float(k + 1)) for k in range(12)})
    table = table.append_column("t", pc.cast(pc.bit_wise_and(ids, 4095), pa.string()))
    pq.write_table(table, project / "big.parquet")
    async with inmemory(project) as client:
        await call(client, "read_parquet", path="big.parquet", max_rows=n)
        await _cancel_at_first_progress(client, "profile", {"data_ref": "big"})
        (project / "small.csv").write_text("a,b\n1,x\n2,y\n", encoding="utf-8")
        await call(client, "read_csv", path="small.csv")
        r = await call(client, "profile", data_ref="small")  # still serving
        await _settled(client)  # the big profile's thread has returned: it can write nothing more
    assert r.structured_content["candidate_keys"][0] == ["a"]
    reports = project / ".data-platform" / "reports"
    assert (reports / "small.html").exists() and not (reports / "big.html").exists()


def test_a_key_is_found_where_the_approximate_count_is_under(tmp_path: Path, monkeypatch) -> None:
    """Above EXACT_DISTINCT_ROWS distinct counts are HyperLogLog estimates, 5.6% under for these
    10,000 unique ids: the ids are still checked exactly and found to be the key (they were
    missed, and three pairs with them offered instead)."""
    import numpy as np

    from data_platform.frames import profile
    from data_platform.registry import Registry

    monkeypatch.setattr(profile, "EXACT_DISTINCT_ROWS", 1_000)
    n = 10_000
    ids = np.random.default_rng(1).permutation(n)  # unsorted: no shortcut by order
    table = pa.table({"id": ids, "grp": ids % 7, "word": [f"w{i % 500}" for i in range(n)]})
    registry = Registry(tmp_path / "reg")
    registry.put(table, name="t", source="test")
    p = profile.profile(registry, "t")
    registry.close()
    ids_profile = next(c for c in p.columns if c.name == "id")
    assert p.candidate_keys == [["id"]] and p.duplicate_rows == 0
    assert ids_profile.distinct == n and ids_profile.distinct_exact


def test_profile_takes_64_bit_ids_and_nanosecond_times(tmp_path: Path, monkeypatch) -> None:
    """64-bit ids past 2**53 (snowflake ids, unsigned hashes) and nanosecond timestamps spanning
    more than 2**53 ns (104 days) are profiled: pyarrow's checked casts to float refused them in
    the histograms, outliers and correlations, and every timestamp[ns] column failed on its
    histogram edges (no Python datetime for a nanosecond)."""
    import numpy as np

    from data_platform.frames import profile
    from data_platform.registry import Registry

    n = 5_000
    rng = np.random.default_rng(2)
    start = np.datetime64("2024-01-01T00:00:00", "ns")
    table = pa.table(
        {
            "id": 1_400_000_000_000_000_000 + rng.permutation(n).astype(np.int64) * 1_000_003,
            "hash": rng.integers(0, 2**64 - 1, n, dtype=np.uint64),
            "at": pa.array(start + rng.integers(0, 400 * 86_400 * 10**9, n).astype("timedelta64[ns]")),
            "x": rng.normal(size=n),
        }
    )
    registry = Registry(tmp_path / "reg")
    registry.put(table, name="t", source="test")
    monkeypatch.setattr(profile, "EXACT_DISTINCT_ROWS", 1_000)  # approximate counts: keys checked
    p = profile.profile(registry, "t")
    registry.close()
    by = {c.name: c for c in p.columns}
    assert p.candidate_keys == [["id"], ["hash"], ["at"], ["x"]]
    assert all(sum(b[2] for b in c.histogram) == n for c in p.columns)
    assert by["id"].stats["min"] == str(pc.min(table["id"]).as_py())
    assert by["at"].stats["min"].startswith("2024-01-01T") and len(by["at"].stats["min"]) == 29
    assert {(a, b) for a, b, _ in p.correlations} >= {("id", "x"), ("hash", "x")}


def test_profile_keeps_only_the_pages_its_table_scan_reads(tmp_path: Path) -> None:
    """Each column's pass reads the column through a mapping of its own, gone after it: the ref's
    pages were all resident at once by the end of the passes (1.0x of the peak RSS, under every
    temporary); now the kept mapping holds only the columns DuckDB's scan and the checks read
    (here the two numbers, not the text: ~3/4 of the file)."""
    from data_platform.frames import profile
    from data_platform.registry import Registry

    n = 1_000_000
    words = pa.array([f"customer-{i % 5000:06d}-of-the-north-region" for i in range(n)])
    table = pa.table({"id": pa.array(range(n), pa.int64()), "x": pa.array(range(n), pa.int64()), "w": words})
    Registry(tmp_path).put(table, name="t", source="test")
    registry = Registry(tmp_path)
    p = profile.profile(registry, "t")
    path = registry.path("t")
    size_mb = path.stat().st_size / 2**20
    assert p.candidate_keys[0] == ["id"] and p.columns[2].distinct == 5000
    assert settled(lambda: resident_mb(path) < 0.5 * size_mb, True)
    registry.close()


def test_profile_allocates_no_copy_of_the_table(tmp_path: Path, monkeypatch) -> None:
    """A regression guard in allocations counted, not seconds: every Arrow buffer the profile
    allocates (a proxy pool) plus what numpy allocates (tracemalloc), at its peak, with passes in
    8,192-row slices: 0.09x, temporaries of a few slices. The quantiles' copy of one column per
    thread made it 0.34x (2 x 8 bytes a row of 48), integers copied whole to floats 0.50x (1.18x
    with 1M-row slices)."""
    import tracemalloc

    import numpy as np

    from data_platform.frames import correlation, profile, profile_column, quantiles
    from data_platform.registry import Registry

    n = 300_000
    rng = np.random.default_rng(3)
    table = pa.table(
        {
            "id": rng.permutation(n),
            "a": rng.random(n),
            "b": rng.integers(0, 10**6, n),
            "c": rng.normal(size=n),
            "d": rng.integers(0, 40, n),
            "e": rng.random(n) * 5,
        }
    )
    monkeypatch.setattr(profile_column, "SLICE", 8192)
    monkeypatch.setattr(correlation, "SLICE", 8192)
    monkeypatch.setattr(quantiles, "BLOCK", 8192)
    registry = Registry(tmp_path / "reg")
    registry.put(table, name="t", source="test")
    profile.profile(registry, "t")  # imports, the mapping and its validation: once per process
    counted = pa.proxy_memory_pool(pa.default_memory_pool())
    previous = pa.default_memory_pool()
    pa.set_memory_pool(counted)
    tracemalloc.start()
    try:
        p = profile.profile(registry, "t")
        numpy_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        pa.set_memory_pool(previous)
        registry.close()
    assert p.candidate_keys[0] == ["id"]
    assert (counted.max_memory() + numpy_peak) / table.nbytes < 0.2
