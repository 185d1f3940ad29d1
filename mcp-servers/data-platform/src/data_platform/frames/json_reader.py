"""read_json: a JSON array or JSON lines file in, one data_ref out.

Nested values stay nested (structs, lists); dates and zoned timestamps are typed. It goes through
a private DuckDB reader given only the already-checked path, and is streamed into the ref through
the registry's one ingest path, under the row guard.
"""

from __future__ import annotations

import codecs
import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from data_platform import work
from data_platform.errors import DataPlatformError, InputError, StorageError
from data_platform.frames import dates
from data_platform.frames.engine import first_line, query_progress, quote_ident
from data_platform.frames.ops import OpResult
from data_platform.frames.sniff import decode_sample
from data_platform.frames.sources import (
    apply_types,
    check_columns,
    compression,
    file_guard,
    open_binary,
    read_sample,
    record_batches,
)
from data_platform.frames.types import parse_type
from data_platform.registry import Target, ingest

if TYPE_CHECKING:
    import duckdb  # imported by a read: not at the server's start

# DuckDB reads the file in buffers of the largest object's size, and its progress moves a buffer at
# a time: 32 MB keeps the progress true; a file with a larger object is read again with 256 MB.
SMALL_OBJECTS = 32 * 1024 * 1024
LARGE_OBJECTS = 256 * 1024 * 1024


def _reader_connection() -> duckdb.DuckDBPyConnection:
    """A private DuckDB for reading one checked path: no extensions, UTC time zone."""
    import duckdb

    con = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False, "threads": 2},
    )
    con.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = true; SET enable_progress_bar_print = false")
    return con


def read_json(
    path: Path,
    target: Target,
    *,
    max_rows: int,
    encoding: str | None = None,
    columns: list[str] | None = None,
    dtype: dict[str, str] | None = None,
    nrows: int | None = None,
    chunk_size: int | None = None,
    parse_dates: list[str] | None = None,
) -> OpResult:
    """Load a JSON array or JSON lines file (optionally compressed); nested values stay nested."""
    sample = read_sample(path)
    text, codec, _ = decode_sample(sample, encoding)
    if not text.strip():
        raise InputError(f"{path.name} is empty.")
    first = text.lstrip()[:1]
    if first not in ("[", "{"):
        raise InputError(
            f"{path.name} does not look like JSON (it starts with {first!r}).",
            hint="read_json takes a JSON array of objects or JSON lines (one object per line).",
        )
    notes = ["Format: " + ("JSON array" if first == "[" else "JSON lines") + "."]
    types = {k: parse_type(v) for k, v in (dtype or {}).items()}
    target.registry.ensure_root()
    temp: Path | None = None
    source = path
    kind = compression(path)
    if kind in ("zip", "zstd") or codec not in ("utf-8", "utf-8-sig"):
        # DuckDB reads plain or gzip UTF-8: hand it a decoded temp copy in the registry folder.
        temp = target.registry.root / f".tmp-{os.getpid()}-json-{os.urandom(6).hex()}.json"
        try:
            with open_binary(path) as src, open(temp, "wb") as dst:
                if codec in ("utf-8", "utf-8-sig"):
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                else:
                    dec = codecs.getincrementaldecoder(codec)()
                    while chunk := src.read(1 << 20):
                        dst.write(dec.decode(chunk).encode("utf-8"))
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise StorageError(f"Cannot prepare {path.name} for reading: {exc}.") from exc
        source = temp
    fmt = "array" if first == "[" else "newline_delimited"
    load = functools.partial(
        _load,
        path,
        source,
        fmt,
        max_rows=max_rows,
        columns=columns,
        types=types,
        nrows=nrows,
        chunk_size=chunk_size,
        parse_dates=parse_dates,
    )
    import duckdb

    try:
        try:
            loaded, plan = load(SMALL_OBJECTS, target)
        except (duckdb.Error, OSError) as exc:
            if "maximum_object_size" not in str(exc):
                raise
            loaded, plan = load(LARGE_OBJECTS, target)
    except DataPlatformError:
        raise
    except (duckdb.Error, OSError) as exc:  # OSError: DuckDB's errors met while streaming batches
        raise InputError(
            f"Cannot parse {path.name} as JSON: {first_line(exc)}",
            hint="read_json takes a JSON array of objects or JSON lines (one object per line).",
        ) from None
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)
    loaded.notes = [*notes, *plan.summary()]
    return loaded


def _load(
    path: Path,
    source: Path,
    fmt: str,
    object_size: int,
    target: Target,
    *,
    max_rows: int,
    columns: list[str] | None,
    types: dict[str, pa.DataType],
    nrows: int | None,
    chunk_size: int | None,
    parse_dates: list[str] | None,
) -> tuple[OpResult, dates.Plan]:
    """One read of the file with DuckDB's buffers sized for objects up to `object_size` bytes."""
    con = _reader_connection()
    try:
        rel = con.sql(
            "SELECT * FROM read_json(?, format = ?, maximum_object_size = ?)",
            params=[str(source), fmt, object_size],
        )
        names = rel.columns
        check_columns(list(types), names, path.name)
        check_columns(columns, names, path.name)
        check_columns(parse_dates, columns or names, path.name)
        if columns:
            rel = rel.select(", ".join(quote_ident(c) for c in columns))
        sample = rel.limit(dates.SAMPLE_ROWS).to_arrow_table()
        plan = dates.plan(sample, parse_dates=parse_dates, skip=types, unit="us", can_format=False)

        def stream() -> OpResult:
            reader = rel.to_arrow_reader(batch_size=chunk_size or 122_880)
            with work.probing(query_progress(con, float(source.stat().st_size))):  # progress: bytes
                done = ingest(
                    record_batches(reader),
                    reader.schema,
                    target,
                    guard=file_guard(path, max_rows, chunk_size),
                    fix=lambda t: plan.apply(apply_types(t, types, path.name)),
                    chunk_size=chunk_size,
                    nrows=nrows,
                )
            return OpResult.of(done)

        return dates.keep_text_on_mismatch(stream, plan, lambda: None)(), plan
    finally:
        con.close()
