"""Local Parquet text columns stored dictionary-encoded are decoded as dictionaries and cast back by
the scan (lakes/datasets.py): the ref holds the same values and types as a plain read, and a column
whose pages fell back to plain is decoded value by value (as a dictionary it would be hashed)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from data_platform.config import load_settings
from data_platform.lakes.datasets import open_dataset, read_dataset
from data_platform.lakes.files import find_files
from data_platform.lakes.scanplan import plan
from data_platform.lakes.storage import Storage
from data_platform.registry import Registry, Target

ROWS = 60_000  # unique 36-character ids: a dictionary past pyarrow's 1 MB limit, so plain pages follow


def write_parts(folder: Path) -> pa.Table:
    kinds = pa.array([f"kind_{i % 7}" for i in range(ROWS)])
    table = pa.table(
        {
            "kind": kinds,
            "big": pa.array([f"big_{i % 3}" if i % 5 else None for i in range(ROWS)], pa.large_string()),
            "raw": pa.array([b"x" if i % 2 else b"yy" for i in range(ROWS)], pa.binary()),
            "uid": pa.array([str(uuid.UUID(int=i)) for i in range(ROWS)]),
            "n": pa.array(range(ROWS), pa.int64()),
        }
    )
    for part in (1, 2):
        (folder / f"part={part}").mkdir(parents=True)
        pq.write_table(table, folder / f"part={part}" / "data.parquet", row_group_size=ROWS // 2)
    return table


def test_dictionary_decoded_columns_read_the_same(tmp_path: Path) -> None:
    table = write_parts(tmp_path / "lake")
    settings = load_settings(tmp_path, {}, tmp_path / "none.env")
    files = find_files("lake", settings, Storage(settings), "parquet")
    dataset = open_dataset(files, "parquet")

    p = plan(dataset, files, where="part = 2 and n >= 100", columns=None)
    decoded = p.fragments[0].format.read_options.dictionary_columns
    assert decoded == {"kind", "big", "raw"}  # not uid: its chunks fell back to plain pages
    assert pq.ParquetFile(files.paths[0]).metadata.row_group(0).column(3).has_dictionary_page

    registry = Registry(tmp_path / ".data-platform")
    target = Target(registry, "lake", False, "lake", "lake")
    done = read_dataset(files, "parquet", target, max_rows=10**9, where="part = 2 and n >= 100")
    got = registry.get(done.info.name)
    plain = ds.dataset(tmp_path / "lake", partitioning="hive").to_table(filter=ds.field("part") == 2)
    want = plain.filter(pa.compute.greater_equal(plain["n"], 100))
    assert got.schema.remove_metadata() == want.schema.remove_metadata()
    assert got.select(table.column_names).equals(want.select(table.column_names))


def test_small_files_are_decoded_as_stored(tmp_path: Path) -> None:
    """A re-made piece reads its footer again: for a few thousand rows a file that costs more."""
    for part in (1, 2):
        (tmp_path / "few" / f"part={part}").mkdir(parents=True)
        rows = pa.table({"kind": [f"kind_{i % 3}" for i in range(1000)]})
        pq.write_table(rows, tmp_path / "few" / f"part={part}" / "data.parquet")
    settings = load_settings(tmp_path, {}, tmp_path / "none.env")
    files = find_files("few", settings, Storage(settings), "parquet")
    p = plan(open_dataset(files, "parquet"), files, where="part = 2", columns=None)
    assert p.fragments[0].format.read_options.dictionary_columns == set()
