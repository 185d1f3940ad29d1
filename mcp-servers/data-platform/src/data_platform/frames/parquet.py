"""read_parquet, and Parquet decoding by batches in the file's own types (repeated strings faster).

The row count comes from the footer, so the row guard costs nothing; the rows are streamed by
batches into the ref through the registry's one ingest path.

pyarrow turns a dictionary-encoded string column into a string array value by
value; asking for that column as a dictionary (the page's dictionary plus
indices, almost no work) and casting it back with one `take` per batch builds
the same array faster: the bench file's 20,000-name column in 0.071 s instead
of 0.121 s, the whole file 0.32 s instead of 0.44 s (warm, one process). Reading a
column as a dictionary is only cheap when its pages really are dictionary pages:
a writer falls back to plain pages once a chunk's dictionary grows too big, and
pyarrow would then hash every plain value into a new dictionary. Plain pages
spend at least 4 bytes a value (the length prefix), so a chunk that spends less,
uncompressed, holds at most a small share of plain values; only columns whose
every chunk passes that test take the dictionary path.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from data_platform import work
from data_platform.errors import InputError
from data_platform.frames.engine import first_line
from data_platform.frames.ops import OpResult
from data_platform.frames.sources import check_columns, damaged, file_guard
from data_platform.registry import Guard, Target, guard_error, ingest
from data_platform.registry.ingest import GUARD_PREVIEW_ROWS

# Not a power of two: pyarrow's column readers reserve room for a batch rounded up to one
# (131,072 for 100,000), so the values of the page being read still fit, and hand the batch over
# without shrinking it (mimalloc keeps a block at least half used). At 131,072 rows both copied
# every batch: growing past the reserve, then shrinking to fit (perf: 2.4% of a read's samples
# in those reallocs; 8M rows, CPU 0.89-1.02 s -> 0.88-0.95 s, docs/frames.md).
BATCH_ROWS = 100_000
T = TypeVar("T")
PLAIN_MIN_BYTES = 4  # the smallest a plain BYTE_ARRAY value can take: its length prefix
DECODE_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError)


def read_parquet(
    path: Path,
    target: Target,
    *,
    max_rows: int,
    columns: list[str] | None = None,
    nrows: int | None = None,
    chunk_size: int | None = None,
) -> OpResult:
    """Load a Parquet file; the row count comes from its footer, so the guard costs nothing."""
    try:
        pf = open_file(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path.name} is not a readable Parquet file: {first_line(exc)}") from None
    check_columns(columns, pf.schema_arrow.names, path.name)
    rows = pf.metadata.num_rows
    if rows > max_rows and not chunk_size and (nrows is None or nrows > max_rows):
        with contextlib.closing(pf), damaged(path, "decode", *DECODE_ERRORS):
            head = next(pf.iter_batches(batch_size=GUARD_PREVIEW_ROWS, columns=columns), None)
        head_table = pa.Table.from_batches([head]) if head else pa.table({})
        raise guard_error(rows, head_table, Guard(max_rows, path.name))
    schema = pf.schema_arrow if not columns else pa.schema([pf.schema_arrow.field(c) for c in columns])
    with (
        contextlib.closing(pf),
        damaged(path, "decode", *DECODE_ERRORS),
        work.measure(lambda done: (done, min(rows, nrows or rows))),  # progress: rows of the footer's
    ):
        # Streamed by batches into the ref: faster and leaner than read_table + write here.
        guard = file_guard(path, max_rows, chunk_size)
        done = ingest(
            batches(path, pf, schema, columns, chunk_size),
            schema,
            target,
            guard=guard,
            chunk_size=chunk_size,
            nrows=nrows,
        )
        return OpResult.of(done)


def open_file(
    path: Path, metadata: pq.FileMetaData | None = None, read_dictionary: list[str] | None = None
) -> pq.ParquetFile:
    """The file, memory-mapped (its footer is read here unless given: the row count costs nothing)."""
    return pq.ParquetFile(str(path), memory_map=True, metadata=metadata, read_dictionary=read_dictionary)


def batches(
    path: Path, pf: pq.ParquetFile, schema: pa.Schema, columns: list[str] | None, batch_size: int | None
) -> Iterator[pa.RecordBatch]:
    """The file's rows as batches of `schema` (the selected columns, in their file types)."""
    size = batch_size or BATCH_ROWS
    dictionary = dictionary_columns(pf.metadata, schema)
    if not dictionary:
        yield from read_ahead(pf.iter_batches(batch_size=size, columns=columns))
        return
    with (
        open_file(path, pf.metadata, dictionary) as reader,
        contextlib.closing(read_ahead(reader.iter_batches(batch_size=size, columns=columns))) as decoded,
    ):  # the read-ahead thread stops before the file closes
        for b in decoded:
            yield b.cast(schema)


def read_ahead(items: Iterator[T], depth: int = 2) -> Generator[T, None, None]:
    """`items`, produced on a thread up to `depth` ahead of the caller.

    pyarrow decodes a batch on its own threads but only when asked; read ahead, the
    next batch is decoded while the caller casts this one and hands it to the ref's
    writer (the bench's read_parquet, mean of interleaved runs: 0.65 s -> 0.53 s and
    0.60 s -> 0.55 s in two sets, no change in a third). Closing the generator
    early stops the thread before it returns; an error in `items` is raised here.
    """
    # Each slot: (item,), or the error `items` raised, or None at the end.
    slots: queue.Queue[tuple[T] | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(entry: tuple[T] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((item,)):
                    return
        except BaseException as exc:  # handed to the caller's thread
            offer(exc)
        else:
            offer(None)

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            entry = slots.get()
            if isinstance(entry, BaseException):
                raise entry
            if entry is None:
                return
            yield entry[0]
    finally:
        stop.set()
        thread.join()


def dictionary_columns(md: pq.FileMetaData, schema: pa.Schema) -> list[str]:
    """Top-level string and binary columns whose every chunk is (nearly all) dictionary pages."""
    index = {md.schema.column(i).path: i for i in range(md.num_columns)}
    out = []
    for field in schema:
        t = field.type
        if not (
            pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or pa.types.is_binary(t)
            or pa.types.is_large_binary(t)
        ):
            continue
        i = index.get(field.name)
        if i is None:
            continue
        chunks = [md.row_group(g).column(i) for g in range(md.num_row_groups)]
        chunks = [c for c in chunks if c.num_values]
        if chunks and all(
            c.has_dictionary_page and c.total_uncompressed_size < PLAIN_MIN_BYTES * c.num_values
            for c in chunks
        ):
            out.append(field.name)
    return out
