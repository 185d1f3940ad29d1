"""read_csv: a messy CSV file in, one data_ref out.

The file goes through pyarrow's multi-threaded reader (fastest measured) after a sniffing pass
over its first 256 KB (`sniff.py`): compression, encoding (UTF-8, else latin-1 with a note),
delimiter and quote, header, and integers too big for int64. It is streamed into the ref through
the registry's one ingest path, under the row guard; with `chunk_size` memory is bounded by the
chunk, not the file.
"""

from __future__ import annotations

import codecs
import contextlib
import itertools
import mmap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from data_platform import work
from data_platform.errors import InputError
from data_platform.frames import dates
from data_platform.frames.engine import first_line
from data_platform.frames.ops import OpResult
from data_platform.frames.sniff import DEFAULT_NA, big_int_columns, decode_sample, sample_lines, sniff_csv
from data_platform.frames.sources import (
    apply_types,
    check_columns,
    compression,
    damaged,
    file_guard,
    open_binary,
    read_sample,
    record_batches,
)
from data_platform.frames.types import parse_type
from data_platform.registry import Target, ingest


def read_csv(
    path: Path,
    target: Target,
    *,
    max_rows: int,
    sep: str | None = None,
    header: bool | None = None,
    encoding: str | None = None,
    na_values: list[str] | None = None,
    columns: list[str] | None = None,
    dtype: dict[str, str] | None = None,
    date_format: str | None = None,
    skiprows: int = 0,
    nrows: int | None = None,
    chunk_size: int | None = None,
    parse_dates: list[str] | None = None,
) -> OpResult:
    """Load a CSV (sniffed, decoded, decompressed) into a ref, under the row guard."""
    sample = read_sample(path)
    if not sample.strip():
        raise InputError(f"{path.name} is empty.")
    text, codec, note = decode_sample(sample, encoding)
    dialect = sniff_csv(text, skiprows, sep, header)
    types = {k: parse_type(v) for k, v in (dtype or {}).items()}
    check_columns(list(types), dialect.names, path.name)
    check_columns(columns, dialect.names, path.name)
    check_columns(parse_dates, columns or dialect.names, path.name)
    for name, typ in big_int_columns(text, dialect, skiprows).items():
        types.setdefault(name, typ)
    as_dates = [n for n, t in types.items() if t == pa.date32()] if date_format else []
    for n in as_dates:
        types[n] = pa.timestamp("s")  # parsed with date_format, then cast to date below
    typed = any(pa.types.is_timestamp(t) for t in types.values())  # date/timestamp dtypes use date_format
    parsers: list[Any] = [pacsv.ISO8601] + ([date_format] if date_format and typed else [])
    compressed = compression(path) is not None
    lines = sample_lines(text, skiprows)
    bytes_per_row = max(1.0, len("\n".join(lines).encode(codec, "replace")) / max(1, len(lines)))
    block = int(min(max(bytes_per_row * chunk_size, 1 << 20), 64 << 20)) if chunk_size else 1 << 20
    read_opts = pacsv.ReadOptions(
        encoding=codec if codec not in ("utf-8",) else "utf8",
        skip_rows=skiprows + (1 if dialect.header else 0),
        column_names=dialect.names,
        block_size=block,
    )
    parse_opts = pacsv.ParseOptions(
        delimiter=dialect.sep, quote_char=dialect.quote, newlines_in_values=dialect.multiline
    )
    convert_opts = pacsv.ConvertOptions(
        null_values=na_values if na_values is not None else DEFAULT_NA,
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
        column_types=types,
        include_columns=columns or [],
        timestamp_parsers=parsers,
        decimal_point="," if dialect.comma_decimal else ".",
    )
    notes = [note] if note else []
    as_text = parse_dates if date_format else None
    head = dates.csv_sample(lines, dialect.names, dialect.header, parse_opts, convert_opts, as_text or ())
    plan = dates.plan(head, parse_dates=parse_dates, date_format=date_format, skip=types)

    def retype() -> None:  # the planned date columns are read as text, then parsed by `fix`
        convert_opts.column_types = {**types, **plan.text_types()}

    retype()

    def fix(t: pa.Table) -> pa.Table:
        t = plan.apply(_no_null_types(t))
        return apply_types(t, dict.fromkeys(as_dates, pa.date32()), path.name) if as_dates else t

    args = (
        path,
        target,
        read_opts,
        convert_opts,
        max_rows,
        chunk_size,
        nrows,
        fix,
    )
    load = dates.keep_text_on_mismatch(_load_csv, plan, retype)
    try:
        with damaged(path, "read"):
            try:
                loaded = load(*args, parse_opts)
            except pa.ArrowInvalid:
                if dialect.multiline:
                    raise
                # A quoted newline after the sniffed sample: parse again, quote-aware.
                parse_opts.newlines_in_values = True
                loaded = load(*args, parse_opts)
    except pa.ArrowInvalid as exc:
        raise InputError(
            f"Cannot parse {path.name} as CSV: {first_line(exc)}",
            hint=f"Detected sep={dialect.sep!r}, header={dialect.header}, encoding={codec}. "
            "Pass sep/header/encoding, or dtype={column: 'string'} for a column whose type changes mid-file.",
        ) from None
    header_note = "yes" if dialect.header else "no (columns named column_1...)"
    kind = f", {compression(path)}" if compressed else ""
    dec = ", decimal comma" if dialect.comma_decimal else ""
    loaded.notes = [
        *loaded.notes,
        *([dialect.renamed] if dialect.renamed else []),
        *notes,
        *plan.summary(),
        f"Read as sep={dialect.sep!r}, header={header_note}, encoding={codec}{kind}{dec}.",
    ]
    return loaded


def _load_csv(
    path: Path,
    target: Target,
    read_opts: pacsv.ReadOptions,
    convert_opts: pacsv.ConvertOptions,
    max_rows: int,
    chunk_size: int | None,
    nrows: int | None,
    fix: Callable[[pa.Table], pa.Table],
    parse_opts: pacsv.ParseOptions,
) -> OpResult:
    """Stream the file straight into the ref: peak memory is a few blocks, not ~3x the table.

    An uncompressed file in an ASCII-compatible encoding is cut into byte ranges at newlines
    and each range parsed by pyarrow's multi-threaded reader (~2.4x faster than its one-thread
    streaming reader here); anything else goes through the streaming reader.
    """
    with contextlib.ExitStack() as stack:
        split = _split_csv(path, read_opts, parse_opts, convert_opts, chunk_size)
        if split is not None:
            schema, batches = split
        else:
            stream = stack.enter_context(contextlib.closing(open_binary(path)))
            reader = pacsv.open_csv(
                stream, read_options=read_opts, parse_options=parse_opts, convert_options=convert_opts
            )
            schema, batches = reader.schema, record_batches(reader)
            if compression(path) is None:  # progress: bytes of the file (not of a compressed one)
                size = path.stat().st_size
                stack.enter_context(work.measure(lambda _rows: (stream.tell(), size)))
        guard = file_guard(path, max_rows, chunk_size)
        done = ingest(batches, schema, target, guard=guard, fix=fix, chunk_size=chunk_size, nrows=nrows)
        return OpResult.of(done)


# pyarrow's reader holds ~3x a range while parsing it (the bytes, the parsed fields, the columns):
# 32 MB ranges peaked at 0.84x the Arrow size of a 2M-row file in Arrow buffers, 16 MB at 0.42x,
# no slower (bench/bench_frames.py).
SPLIT_BYTES = 16 << 20


_SPLIT_CODECS = {"utf-8", "ascii", "latin-1", "iso8859-1", "iso8859-15", "cp1252"}


_CONVERT_KEYS = (
    "check_utf8", "null_values", "true_values", "false_values", "decimal_point", "strings_can_be_null",
    "quoted_strings_can_be_null", "include_columns", "include_missing_columns", "auto_dict_encode",
    "auto_dict_max_cardinality", "timestamp_parsers",
)  # fmt: skip


def _split_csv(
    path: Path,
    read_opts: pacsv.ReadOptions,
    parse_opts: pacsv.ParseOptions,
    convert_opts: pacsv.ConvertOptions,
    chunk_size: int | None,
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]] | None:
    """(schema, batches) parsing the file range by range, or None where ranges cannot be cut.

    Ranges end at a newline, which is only safe when no value holds one (as for pyarrow's own
    parallel reader): a cut inside a quoted value leaves an unterminated quote, an error on
    which the caller parses again quote-aware. The first range's types are kept for the rest.
    """
    codec = codecs.lookup(read_opts.encoding).name if read_opts.encoding != "utf8" else "utf-8"
    if parse_opts.newlines_in_values or codec not in _SPLIT_CODECS or compression(path) is not None:
        return None
    data = pa.OSFile(str(path), "r")  # read per range, not mapped: memory stays one range
    size = data.size()
    # Not empty: read_csv refused that before sniffing.
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        start = 0
        for _ in range(read_opts.skip_rows):
            nl = mm.find(b"\n", start)
            start = size if nl < 0 else nl + 1
        span = read_opts.block_size if chunk_size else SPLIT_BYTES
        cuts = [start]
        while cuts[-1] < size:
            nl = mm.find(b"\n", min(size, cuts[-1] + span))
            cuts.append(size if nl < 0 else nl + 1)
    opts = pacsv.ReadOptions(column_names=read_opts.column_names, encoding=read_opts.encoding)
    kept = {k: getattr(convert_opts, k) for k in _CONVERT_KEYS}

    def parse(a: int, b: int, types: dict[str, pa.DataType]) -> pa.Table:
        convert = pacsv.ConvertOptions(column_types=types, **kept)
        data.seek(a)
        part = pa.BufferReader(data.read_buffer(b - a))
        return pacsv.read_csv(part, read_options=opts, parse_options=parse_opts, convert_options=convert)

    first = parse(cuts[0], cuts[1], dict(convert_opts.column_types)) if len(cuts) > 1 else None
    if first is None:
        return None  # header only: the streaming reader names and types the empty columns
    schema = first.schema
    fixed = {f.name: f.type for f in schema if not pa.types.is_null(f.type)}
    pending = first.to_batches()
    del first

    def batches() -> Iterator[pa.RecordBatch]:
        # Each batch is let go once handed on: only the writer's backlog holds parsed data.
        try:
            with work.measure(lambda _rows: (data.tell(), size)):  # progress: bytes of the file
                while pending:
                    yield pending.pop(0)
                for a, b in itertools.pairwise(cuts[1:]):
                    pending.extend(parse(a, b, fixed).to_batches())
                    while pending:
                        yield pending.pop(0)
        finally:
            data.close()

    return schema, batches()


def _no_null_types(table: pa.Table) -> pa.Table:
    """A column with no values at all (a header-only CSV) is typed string, not Arrow's `null`."""
    for i, f in enumerate(table.schema):
        if pa.types.is_null(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.string()))
    return table
