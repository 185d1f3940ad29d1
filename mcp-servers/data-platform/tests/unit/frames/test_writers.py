"""The writers stream a ref in slices: a ref kept as one big batch still reports progress and stops
when cancelled between slices, and a Parquet file gets the row groups it got before."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from data_platform import work
from data_platform.frames import writers
from data_platform.registry import Registry


def one_batch_ref(tmp_path: Path, rows: int) -> Registry:
    registry = Registry(tmp_path / "reg")
    table = pa.table({"id": pa.array(range(rows), pa.int64()), "s": pa.array(["x"] * rows)})
    registry.put(table.combine_chunks(), name="t", source="test")
    assert registry.reader("t").num_record_batches == 1
    return registry


def test_a_one_batch_ref_is_written_in_slices_with_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writers, "SLICE_ROWS", 1_000)
    registry = one_batch_ref(tmp_path, 2_500)
    seen: list[float] = []
    call = work.Work()
    report = call.report
    monkeypatch.setattr(
        call, "report", lambda done, total=None, msg=None: (seen.append(done), report(done, total, msg))
    )
    written = call.run(writers.write_csv, registry, "t", tmp_path / "out.csv", overwrite=False, mkdirs=False)
    registry.close()
    assert written.rows == 2_500 and seen == [1_000, 2_000, 2_500]
    assert pacsv.read_csv(tmp_path / "out.csv")["id"].to_pylist() == list(range(2_500))


def test_a_cancel_stops_a_one_batch_ref_between_slices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writers, "SLICE_ROWS", 1_000)
    registry = one_batch_ref(tmp_path, 2_500)
    call = work.Work()
    slices = []

    def write() -> None:
        for batch in writers.ref_batches(registry, "t", 2_500):
            slices.append(batch.num_rows)
            call.cancel()  # the caller cancels while the first slice is written

    with pytest.raises(work.CancelledError):
        call.run(write)
    registry.close()
    assert slices == [1_000]


def test_parquet_row_groups_are_those_of_a_plain_write(tmp_path: Path) -> None:
    rows = 2 * writers.SLICE_ROWS + 5
    registry = one_batch_ref(tmp_path, rows)
    writers.write_parquet(registry, "t", tmp_path / "out.parquet", overwrite=False, mkdirs=False)
    pq.write_table(registry.get("t"), tmp_path / "plain.parquet")
    registry.close()
    ours, plain = pq.ParquetFile(tmp_path / "out.parquet"), pq.ParquetFile(tmp_path / "plain.parquet")
    sizes = [ours.metadata.row_group(i).num_rows for i in range(ours.num_row_groups)]
    assert sizes == [plain.metadata.row_group(i).num_rows for i in range(plain.num_row_groups)]
    assert sizes == [writers.SLICE_ROWS, writers.SLICE_ROWS, 5]
