"""What every reader shares: opening (possibly compressed) files, damage, columns and types.

Compression is found by magic bytes (gzip, bz2, zstd, zip with one member), not by the name.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

import pyarrow as pa

from data_platform.errors import DataPlatformError, InputError, did_you_mean, list_for_message
from data_platform.frames.engine import first_line
from data_platform.registry import Guard, suggest_name

SAMPLE_BYTES = 256 * 1024


def compression(path: Path) -> str | None:
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:2] == b"\x1f\x8b":
        return "gzip"
    if magic[:3] == b"BZh":
        return "bz2"
    if magic == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if magic == b"PK\x03\x04":
        return "zip"
    return None


def _zip_member(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        members = [
            i.filename for i in z.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX")
        ]
    if len(members) != 1:
        raise InputError(
            f"{path.name} holds {len(members)} files; expected exactly one.",
            hint=f"Unzip it and read the file you want. Members: {list_for_message(members)}",
        )
    return members[0]


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed (gzip, bz2, zstd, or a zip with one member)."""
    kind = compression(path)
    try:
        if kind == "gzip":
            return cast(IO[bytes], gzip.open(path, "rb"))  # typeshed's GzipFile is no IO[bytes]
        if kind == "bz2":
            return bz2.open(path, "rb")
        if kind == "zstd":
            return pa.input_stream(str(path), compression="zstd")
        if kind == "zip":
            z = zipfile.ZipFile(path)
            return z.open(_zip_member(path))
        return open(path, "rb")
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"Cannot open {path.name}: {exc}.") from exc


@contextlib.contextmanager
def damaged(path: Path, what: str, *also: type[Exception]) -> Iterator[None]:
    """A body that fails to decompress or decode mid-stream (the file's start and footer were
    fine) is an InputError naming the file, not an internal error; the load creates nothing."""
    errors: tuple[type[Exception], ...] = (OSError, EOFError, zlib.error, *also)
    try:
        yield
    except DataPlatformError:
        raise
    except errors as exc:
        raise InputError(
            f"Cannot {what} {path.name}: {first_line(exc)}",
            hint="The file is damaged or was cut short: write it again from its source.",
        ) from None


def read_sample(path: Path) -> bytes:
    try:
        with open_binary(path) as f:
            return f.read(SAMPLE_BYTES)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(
            f"Cannot read {path.name}: {exc} (damaged or not the format its name says)."
        ) from exc


def apply_types(table: pa.Table, dtype: dict[str, pa.DataType], ref: str) -> pa.Table:
    for name, typ in dtype.items():
        if name not in table.column_names:
            continue
        i = table.column_names.index(name)
        if table.schema.field(i).type == typ:
            continue
        try:
            table = table.set_column(i, name, table.column(i).cast(typ))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(f'Cannot convert column "{name}" to {typ}: {first_line(exc)}') from None
    return table


def check_columns(wanted: list[str] | None, available: list[str], what: str) -> None:
    for name in wanted or []:
        if name not in available:
            raise InputError(
                f'column "{name}" not found in {what}.{did_you_mean(name, available)} '
                f"Columns: {list_for_message(available, 30)}"
            )


def record_batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return


def default_name_for(path: Path) -> str:
    """The ref name a file gets when none is given (`Sales 2025.csv.gz` -> `sales_2025`)."""
    return suggest_name(path.name)


def file_guard(path: Path, max_rows: int, chunk_size: int | None) -> Guard | None:
    """A file's row guard: none when it is streamed in chunks (memory is bounded by the chunk)."""
    return None if chunk_size else Guard(max_rows, path.name)
