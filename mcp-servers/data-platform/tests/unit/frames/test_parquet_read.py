"""Parquet decoding (frames/parquet.py): the dictionary path is chosen only where it is cheap,
gives exactly pyarrow's table, and the read-ahead thread never outlives its reader."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_platform.errors import InputError
from data_platform.frames import parquet
from data_platform.registry import Registry, Target

ROWS = 30_000


def _table() -> pa.Table:
    """Every kind of string column a writer produces, over several row groups."""
    cities = ["Paris", "Lyon", "Köln", None, "São Paulo"]
    return pa.table(
        {
            "id": pa.array(range(ROWS), type=pa.int64()),
            "city": pa.array([cities[i % 5] for i in range(ROWS)], type=pa.string()),  # dictionary pages
            "uid": pa.array([f"user-{i:08d}-{i * 7919 % 10007}" for i in range(ROWS)]),  # unique: plain
            "code": pa.array([f"code-{i % 200:05d}" for i in range(ROWS)]),  # 200 values, 2.8 KB dictionary
            "big": pa.array([cities[i % 5] for i in range(ROWS)], type=pa.large_string()),
            "raw": pa.array([bytes([i % 3]) * 4 for i in range(ROWS)], type=pa.binary()),
            "tags": pa.array([[cities[i % 3]] for i in range(ROWS)], type=pa.list_(pa.string())),
            "at": pa.array(range(ROWS), type=pa.timestamp("ms", tz="Europe/Paris")),
        }
    )


def _write(path: Path, table: pa.Table, **options: object) -> Path:
    pq.write_table(table, path, row_group_size=8_000, **options)
    return path


def _load(reg: Registry, path: Path, name: str, **kw: object) -> pa.Table:
    parquet.read_parquet(path, Target(reg, name, False, "test", name), max_rows=10**9, **kw)  # type: ignore[arg-type]
    reg.close()
    return reg.get(name)


def test_dictionary_path_only_for_chunks_that_are_dictionary_pages(tmp_path: Path) -> None:
    table = _table()
    pf = pq.ParquetFile(_write(tmp_path / "d.parquet", table))
    # uid's dictionary outgrows the 1 MB default in its first chunk: plain pages from there on.
    assert parquet.dictionary_columns(pf.metadata, pf.schema_arrow) == ["city", "code", "big", "raw"]
    # With a 64-byte dictionary limit, code's chunks are mostly plain pages too; city's 4 names fit.
    pf = pq.ParquetFile(_write(tmp_path / "f.parquet", table, dictionary_pagesize_limit=64))
    assert parquet.dictionary_columns(pf.metadata, pf.schema_arrow) == ["city", "big", "raw"]
    pf = pq.ParquetFile(_write(tmp_path / "p.parquet", table, use_dictionary=False))
    assert parquet.dictionary_columns(pf.metadata, pf.schema_arrow) == []
    pf = pq.ParquetFile(_write(tmp_path / "e.parquet", table.slice(0, 0)))
    assert parquet.dictionary_columns(pf.metadata, pf.schema_arrow) == []
    assert parquet.dictionary_columns(pf.metadata, pa.schema([("id", pa.int64())])) == []


@pytest.mark.parametrize("options", [{}, {"use_dictionary": False}, {"dictionary_pagesize_limit": 64}])
def test_reads_equal_pyarrow_whatever_the_encoding(tmp_path: Path, options: dict) -> None:
    table = _table()
    path = _write(tmp_path / "t.parquet", table, **options)
    reg = Registry(tmp_path / "reg")
    whole = _load(reg, path, "whole")
    assert whole.schema.equals(table.schema) and whole.equals(pq.read_table(path))
    assert whole.column("city").null_count == ROWS // 5 and whole.column("big").type == pa.large_string()
    chunked = _load(reg, path, "chunked", chunk_size=5_000)
    assert chunked.equals(whole) and max(b.num_rows for b in reg.batches("chunked")) == 5_000
    some = _load(reg, path, "some", columns=["raw", "city", "id"], nrows=12_345)
    assert some.schema.names == ["raw", "city", "id"]
    assert some.equals(table.select(["raw", "city", "id"]).slice(0, 12_345))
    assert not _ahead_threads()  # stopped early (nrows): the read-ahead thread ended with the load


def test_a_wrong_guess_costs_time_not_correctness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even plain pages read as a dictionary come back as the same strings."""
    table = _table()
    path = _write(tmp_path / "t.parquet", table, dictionary_pagesize_limit=64)
    every = ["city", "uid", "code", "big", "raw"]
    monkeypatch.setattr(
        parquet, "dictionary_columns", lambda md, schema: [c for c in every if c in schema.names]
    )
    assert _load(Registry(tmp_path / "reg"), path, "all").equals(table)


def _numbers(stop_after: int | None = None, fail_at: int | None = None) -> Iterator[int]:
    i = 0
    while stop_after is None or i < stop_after:
        if i == fail_at:
            raise pa.ArrowInvalid(f"bad page at {i}")
        yield i
        i += 1


def _ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "read-ahead"]


def test_read_ahead_keeps_order_raises_errors_and_stops_its_thread() -> None:
    assert list(parquet.read_ahead(_numbers(1000), depth=3)) == list(range(1000))
    got: list[int] = []
    with pytest.raises(pa.ArrowInvalid, match="bad page at 5"):
        for i in parquet.read_ahead(_numbers(fail_at=5)):
            got.append(i)
    assert got == [0, 1, 2, 3, 4]
    endless = parquet.read_ahead(_numbers())  # a caller that stops early (nrows, the row guard)
    assert [next(endless) for _ in range(3)] == [0, 1, 2]
    assert _ahead_threads()
    endless.close()
    assert not _ahead_threads()


@pytest.mark.parametrize("chunk_size", [None, 5_000])
def test_a_damaged_page_is_an_input_error_and_creates_nothing(tmp_path: Path, chunk_size: int | None) -> None:
    path = _write(tmp_path / "t.parquet", _table())
    data = bytearray(path.read_bytes())
    for i in range(4, len(data) // 2):  # the first row groups' pages; the footer stays whole
        data[i] = (data[i] * 7 + 13) % 256
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(bytes(data))
    reg = Registry(tmp_path / "reg")
    with pytest.raises(InputError, match=r"Cannot decode damaged.parquet: ") as info:
        parquet.read_parquet(
            damaged, Target(reg, "d", False, "test", "d"), max_rows=10**9, chunk_size=chunk_size
        )
    assert "write it again" in (info.value.hint or "")
    with pytest.raises(InputError, match=r"Cannot decode damaged.parquet: "):  # the guard's preview
        parquet.read_parquet(damaged, Target(reg, "d", False, "test", "d"), max_rows=10)
    assert reg.names() == [] and not _ahead_threads()
