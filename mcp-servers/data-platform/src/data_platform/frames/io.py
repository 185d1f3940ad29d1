"""Readers and writers: messy files in, one data_ref out (and back to files).

CSV goes through pyarrow's multi-threaded reader (fastest measured) after a
sniffing pass over the first 256 KB: compression by magic bytes (gzip, bz2,
zstd, zip), encoding (UTF-8, else latin-1 with a note), delimiter and quote
(csv.Sniffer), header, and integers too big for int64. Parquet uses pyarrow
through `frames/parquet.py` (row counts are free from the footer). JSON (array
or lines, nested kept as structs/lists, dates and zoned timestamps typed) goes
through a private DuckDB reader given only the already-checked path.

The row guard: a load that would materialise more than `max_rows` rows stops
with `GuardError` (nothing is created), carrying the exact count and a
preview. With `chunk_size`, the file is streamed batch by batch into one
disk-backed ref, so memory is bounded by the chunk, not the file.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import csv
import gzip
import io
import itertools
import mmap
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from data_platform.errors import (
    AlreadyExistsError,
    DataPlatformError,
    GuardError,
    InputError,
    StorageError,
    did_you_mean,
    list_for_message,
)
from data_platform.frames import dates, parquet
from data_platform.frames.engine import first_line, quote_ident
from data_platform.frames.ops import trim_cells
from data_platform.frames.types import is_nested, parse_type
from data_platform.registry import RefInfo, Registry, suggest_name
from data_platform.render import preview

SAMPLE_BYTES = 256 * 1024
DEFAULT_NA = ["", "NA", "N/A", "n/a", "NULL", "null", "#N/A", "None", "<NA>"]
GUARD_PREVIEW_ROWS = 5
PARQUET_DECODE_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError)
BIG_INT = re.compile(r"-?\d{19,}")


@dataclass
class Loaded:
    """A load's outcome: the new ref, its first rows, and what to tell the user."""

    info: RefInfo
    head: pa.Table
    notes: list[str] = field(default_factory=list)


@dataclass
class Target:
    """Where a load goes: the registry, an optional name, and whether to replace."""

    registry: Registry
    name: str | None
    overwrite: bool
    source: str
    default_name: str

    def check(self) -> None:
        if self.name is not None and not self.overwrite and self.registry.exists(self.name):
            raise AlreadyExistsError(
                f"data_ref `{self.name}` already exists.",
                hint="Pass overwrite=true to replace it, or choose another name.",
            )


# -- opening files -------------------------------------------------------------
def _compression(path: Path) -> str | None:
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
    kind = _compression(path)
    try:
        if kind == "gzip":
            return gzip.open(path, "rb")
        if kind == "bz2":
            return bz2.open(path, "rb")
        if kind == "zstd":
            return pa.input_stream(str(path), compression="zstd")  # type: ignore[return-value]
        if kind == "zip":
            z = zipfile.ZipFile(path)
            return z.open(_zip_member(path))
        return open(path, "rb")
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"Cannot open {path.name}: {exc}.") from exc


@contextlib.contextmanager
def _damaged(path: Path, what: str, *also: type[Exception]) -> Iterator[None]:
    """A body that fails to decompress or decode mid-stream (the file's start and footer were
    fine) is an InputError naming the file, not an internal error; the load creates nothing."""
    try:
        yield
    except DataPlatformError:
        raise
    except (OSError, EOFError, zlib.error, *also) as exc:
        raise InputError(
            f"Cannot {what} {path.name}: {first_line(exc)}",
            hint="The file is damaged or was cut short: write it again from its source.",
        ) from None


def _read_sample(path: Path) -> bytes:
    try:
        with open_binary(path) as f:
            return f.read(SAMPLE_BYTES)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(
            f"Cannot read {path.name}: {exc} (damaged or not the format its name says)."
        ) from exc


# -- sniffing ------------------------------------------------------------------
def _decode_sample(sample: bytes, encoding: str | None) -> tuple[str, str, str | None]:
    """(text, encoding, note): UTF-8 if it decodes, else latin-1 (which always does)."""
    if encoding:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            raise InputError(
                f"Unknown encoding {encoding!r}.", hint="e.g. utf-8, latin-1, cp1252, utf-16."
            ) from None
        try:
            return codecs.getincrementaldecoder(codec)().decode(sample), codec, None
        except UnicodeDecodeError as exc:
            raise InputError(f"The file is not valid {codec}: {exc.reason} at byte {exc.start}.") from None
    if sample.startswith(codecs.BOM_UTF8):
        return sample[3:].decode("utf-8", "replace"), "utf-8-sig", None
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return sample.decode("utf-16", "replace"), "utf-16", None
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(sample), "utf-8", None
    except UnicodeDecodeError:
        note = "Decoded as latin-1 (the file is not valid UTF-8); pass encoding=... if text looks wrong."
        return sample.decode("latin-1"), "latin-1", note


def _lines(text: str, skiprows: int) -> list[str]:
    lines = text.splitlines()
    if len(text) >= SAMPLE_BYTES - 8 and lines:
        lines = lines[:-1]  # the last line of a cut sample is partial
    return lines[skiprows:]


@dataclass
class CsvDialect:
    sep: str
    quote: str
    header: bool
    names: list[str]
    multiline: bool = False
    comma_decimal: bool = False


def sniff_csv(text: str, skiprows: int, sep: str | None, header: bool | None) -> CsvDialect:
    lines = [ln for ln in _lines(text, skiprows)][:2000]
    body = "\n".join(lines)
    quote = '"'
    if sep is None:
        try:
            dialect = csv.Sniffer().sniff(body[:65536], delimiters=",;\t|")
            sep, quote = dialect.delimiter, dialect.quotechar or '"'
        except csv.Error:
            sep = ","
    if len(sep) != 1:
        raise InputError(f"sep must be one character, got {sep!r}.")
    rows = list(csv.reader(io.StringIO(body), delimiter=sep, quotechar=quote))[:200]
    rows = [r for r in rows if r]
    if not rows:
        raise InputError("The file has no data rows.", hint="Check skiprows, or that this is a CSV file.")
    if header is None:
        header = _looks_like_header(rows)
    width = max(len(r) for r in rows[:50])
    if header:
        names = [c.strip() or f"column_{i + 1}" for i, c in enumerate(rows[0])]
    else:
        names = [f"column_{i + 1}" for i in range(width)]
    body_rows = rows[1:] if header else rows
    comma_decimal = sep != "," and _comma_decimals(body_rows)
    multiline = any("\n" in c or "\r" in c for r in rows for c in r)
    return CsvDialect(sep, quote, header, _dedupe(names), multiline, comma_decimal)


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}_{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out


def _comma_decimals(rows: list[list[str]]) -> bool:
    """European numbers (`12,5`): some column holds only such values, none with a '.'."""
    width = max((len(r) for r in rows), default=0)
    for i in range(width):
        cells = [r[i].strip() for r in rows if i < len(r) and r[i].strip() not in DEFAULT_NA]
        if cells and all(re.fullmatch(r"-?\d+(,\d+)?", c) for c in cells) and any("," in c for c in cells):
            return True
    return False


def _is_number(cell: str) -> bool:
    try:
        float(cell.replace(",", "."))
    except ValueError:
        return False
    return True


def _looks_like_header(rows: list[list[str]]) -> bool:
    """A header row has no numbers, and differs in kind from the rows below it."""
    first, rest = rows[0], rows[1:]
    if not rest:
        return not any(_is_number(c) for c in first if c)
    if any(_is_number(c) for c in first if c.strip()):
        return False
    if len(set(first)) < len(first):
        return False
    for i, cell in enumerate(first):
        below = [r[i] for r in rest if i < len(r) and r[i] not in DEFAULT_NA]
        if below and all(_is_number(c) for c in below):
            return True  # a text label above a numeric column
        if below and max(len(c) for c in below) > 0 and cell in below:
            return False
    # All text: a header if the first row's values never appear again below.
    return all(all(i >= len(r) or r[i] != c for r in rest) for i, c in enumerate(first))


def _big_int_columns(text: str, dialect: CsvDialect, skiprows: int) -> dict[str, pa.DataType]:
    """Integer columns with values beyond int64: decimal(38,0) (or string past 38 digits)."""
    rows = list(csv.reader(io.StringIO("\n".join(_lines(text, skiprows)[:1000])), delimiter=dialect.sep))
    rows = rows[1:] if dialect.header else rows
    found: dict[str, pa.DataType] = {}
    for i, name in enumerate(dialect.names):
        cells = [r[i].strip() for r in rows if i < len(r) and r[i].strip() not in DEFAULT_NA]
        if (
            cells
            and all(re.fullmatch(r"-?\d+", c) for c in cells)
            and any(BIG_INT.fullmatch(c) for c in cells)
        ):
            longest = max(len(c.lstrip("-")) for c in cells)
            if longest > 19 or any(int(c) > 2**63 - 1 or int(c) < -(2**63) for c in cells):
                found[name] = pa.decimal128(38, 0) if longest <= 38 else pa.string()
    return found


# -- the row guard and streaming ---------------------------------------------------
def _guard_error(rows: int, max_rows: int, head: pa.Table, what: str, exact: bool = True) -> GuardError:
    text, _ = preview(head.slice(0, GUARD_PREVIEW_ROWS), GUARD_PREVIEW_ROWS)
    count = f"{rows:,}" if exact else f"more than {rows:,}"
    suggested = 100_000 if rows > 1_000_000 else 50_000
    return GuardError(
        f"{what} has {count} rows, over the row guard of {max_rows:,}; nothing was loaded. "
        f"First rows:\n{text}\n",
        hint=f"To load it all, pass chunk_size={suggested} (streams into one disk-backed ref, bounded "
        f"memory) or max_rows={rows if exact else rows * 2} (loads in one go, needs memory); "
        "or nrows=N for the first N rows.",
        details={"rows": rows, "max_rows": max_rows},
    )


def _stream(
    batches: Iterator[pa.RecordBatch],
    schema: pa.Schema,
    target: Target,
    *,
    max_rows: int,
    chunk_size: int | None,
    nrows: int | None,
    what: str,
    fix: Callable[[pa.Table], pa.Table] = lambda t: t,
) -> Loaded:
    """Write batches straight into a new ref on disk, so memory holds one batch, not the file.

    Without `chunk_size` the row guard applies: past `max_rows` the half-written ref is
    discarded, the rest is only counted (for the message), and GuardError is raised.
    """
    target.check()

    def capped() -> Iterator[pa.RecordBatch]:
        seen = 0
        for b in batches:
            if nrows is not None and seen + b.num_rows >= nrows:
                yield b.slice(0, nrows - seen)
                return
            seen += b.num_rows
            yield b

    head: pa.Table | None = None
    out_schema = fix(schema.empty_table()).schema
    it = capped()
    with target.registry.writer(
        name=target.name,
        schema=out_schema,
        source=target.source,
        overwrite=target.overwrite,
        default_name=target.default_name,
    ) as w:
        for b in it:
            t = fix(pa.Table.from_batches([b], schema=schema))
            if head is None:
                head = t.slice(0, 50)
            if not chunk_size and w.rows + t.num_rows > max_rows:
                total = w.rows + t.num_rows + sum(rest.num_rows for rest in it)
                raise _guard_error(total, max_rows, head, what)  # the writer discards its temp file
            for piece in t.to_batches(max_chunksize=chunk_size) if chunk_size else t.to_batches():
                w.write(piece)
    assert w.info is not None
    return Loaded(w.info, trim_cells(head if head is not None else out_schema.empty_table()))


def _put(table: pa.Table, target: Target) -> Loaded:
    info = target.registry.put(
        table,
        name=target.name,
        source=target.source,
        overwrite=target.overwrite,
        default_name=target.default_name,
    )
    return Loaded(info, trim_cells(table.slice(0, 50)))


# -- CSV ---------------------------------------------------------------------------------
def _apply_types(table: pa.Table, dtype: dict[str, pa.DataType], ref: str) -> pa.Table:
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


def _check_columns(wanted: list[str] | None, available: list[str], what: str) -> None:
    for name in wanted or []:
        if name not in available:
            raise InputError(
                f'column "{name}" not found in {what}.{did_you_mean(name, available)} '
                f"Columns: {list_for_message(available, 30)}"
            )


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
) -> Loaded:
    """Load a CSV (sniffed, decoded, decompressed) into a ref, under the row guard."""
    sample = _read_sample(path)
    if not sample.strip():
        raise InputError(f"{path.name} is empty.")
    text, codec, note = _decode_sample(sample, encoding)
    dialect = sniff_csv(text, skiprows, sep, header)
    types = {k: parse_type(v) for k, v in (dtype or {}).items()}
    _check_columns(list(types), dialect.names, path.name)
    _check_columns(columns, dialect.names, path.name)
    _check_columns(parse_dates, columns or dialect.names, path.name)
    for name, typ in _big_int_columns(text, dialect, skiprows).items():
        types.setdefault(name, typ)
    as_dates = [n for n, t in types.items() if t == pa.date32()] if date_format else []
    for n in as_dates:
        types[n] = pa.timestamp("s")  # parsed with date_format, then cast to date below
    typed = any(pa.types.is_timestamp(t) for t in types.values())  # date/timestamp dtypes use date_format
    parsers: list[Any] = [pacsv.ISO8601] + ([date_format] if date_format and typed else [])
    compressed = _compression(path) is not None
    lines = _lines(text, skiprows)
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
    sample = dates.csv_sample(lines, dialect.names, dialect.header, parse_opts, convert_opts, as_text or ())
    plan = dates.plan(sample, parse_dates=parse_dates, date_format=date_format, skip=types)

    def retype() -> None:  # the planned date columns are read as text, then parsed by `fix`
        convert_opts.column_types = {**types, **plan.text_types()}

    retype()

    def fix(t: pa.Table) -> pa.Table:
        t = plan.apply(_no_null_types(t))
        return _apply_types(t, dict.fromkeys(as_dates, pa.date32()), path.name) if as_dates else t

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
        with _damaged(path, "read"):
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
    kind = f", {_compression(path)}" if compressed else ""
    dec = ", decimal comma" if dialect.comma_decimal else ""
    loaded.notes = [
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
) -> Loaded:
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
            schema, batches = reader.schema, _batches(reader)
        return _stream(
            batches,
            schema,
            target,
            max_rows=max_rows,
            chunk_size=chunk_size,
            nrows=nrows,
            what=path.name,
            fix=fix,
        )


SPLIT_BYTES = 32 << 20
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
    if parse_opts.newlines_in_values or codec not in _SPLIT_CODECS or _compression(path) is not None:
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
    fixed = {f.name: f.type for f in first.schema if not pa.types.is_null(f.type)}

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from first.to_batches()
            for a, b in itertools.pairwise(cuts[1:]):
                yield from parse(a, b, fixed).to_batches()
        finally:
            data.close()

    return first.schema, batches()


def _batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return


# -- Parquet -------------------------------------------------------------------------------
def read_parquet(
    path: Path,
    target: Target,
    *,
    max_rows: int,
    columns: list[str] | None = None,
    nrows: int | None = None,
    chunk_size: int | None = None,
) -> Loaded:
    """Load a Parquet file; the row count comes from its footer, so the guard costs nothing."""
    try:
        pf = parquet.open_file(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path.name} is not a readable Parquet file: {first_line(exc)}") from None
    names = pf.schema_arrow.names
    _check_columns(columns, names, path.name)
    rows = pf.metadata.num_rows
    if rows > max_rows and not chunk_size and (nrows is None or nrows > max_rows):
        with contextlib.closing(pf), _damaged(path, "decode", *PARQUET_DECODE_ERRORS):
            head = next(pf.iter_batches(batch_size=GUARD_PREVIEW_ROWS, columns=columns), None)
        raise _guard_error(rows, max_rows, pa.Table.from_batches([head]) if head else pa.table({}), path.name)
    schema = pf.schema_arrow if not columns else pa.schema([pf.schema_arrow.field(c) for c in columns])
    with contextlib.closing(pf), _damaged(path, "decode", *PARQUET_DECODE_ERRORS):
        # Streamed by batches into the ref: faster and leaner than read_table + write here.
        return _stream(
            parquet.batches(path, pf, schema, columns, chunk_size),
            schema,
            target,
            max_rows=max_rows,
            chunk_size=chunk_size,
            nrows=nrows,
            what=path.name,
        )


# -- JSON ------------------------------------------------------------------------------------
def _reader_connection() -> duckdb.DuckDBPyConnection:
    """A private DuckDB for reading one checked path: no extensions, UTC time zone."""
    con = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False, "threads": 2},
    )
    con.execute("SET TimeZone = 'UTC'")
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
) -> Loaded:
    """Load a JSON array or JSON lines file (optionally compressed); nested values stay nested."""
    sample = _read_sample(path)
    text, codec, _ = _decode_sample(sample, encoding)
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
    kind = _compression(path)
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
    con = _reader_connection()
    try:
        fmt = "array" if first == "[" else "newline_delimited"
        rel = con.sql(
            "SELECT * FROM read_json(?, format = ?, maximum_object_size = 268435456)",
            params=[str(source), fmt],
        )
        names = rel.columns
        _check_columns(list(types), names, path.name)
        _check_columns(columns, names, path.name)
        _check_columns(parse_dates, columns or names, path.name)
        if columns:
            rel = rel.select(", ".join(quote_ident(c) for c in columns))
        sample = rel.limit(dates.SAMPLE_ROWS).to_arrow_table()
        plan = dates.plan(sample, parse_dates=parse_dates, skip=types, unit="us", can_format=False)

        def stream() -> Loaded:
            reader = rel.to_arrow_reader(batch_size=chunk_size or 122_880)
            return _stream(
                _batches(reader),
                reader.schema,
                target,
                max_rows=max_rows,
                chunk_size=chunk_size,
                nrows=nrows,
                what=path.name,
                fix=lambda t: plan.apply(_apply_types(t, types, path.name)),
            )

        loaded = dates.keep_text_on_mismatch(stream, plan, lambda: None)()
    except DataPlatformError:
        raise
    except (duckdb.Error, OSError) as exc:  # OSError: DuckDB's errors met while streaming batches
        raise InputError(
            f"Cannot parse {path.name} as JSON: {first_line(exc)}",
            hint="read_json takes a JSON array of objects or JSON lines (one object per line).",
        ) from None
    finally:
        con.close()
        if temp is not None:
            temp.unlink(missing_ok=True)
    loaded.notes = [*notes, *plan.summary()]
    return loaded


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)


def _no_null_types(table: pa.Table) -> pa.Table:
    """A column with no values at all (a header-only CSV) is typed string, not Arrow's `null`."""
    for i, f in enumerate(table.schema):
        if pa.types.is_null(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.string()))
    return table


# -- writers ---------------------------------------------------------------------------------
@dataclass
class Written:
    path: Path
    rows: int
    columns: int
    size_bytes: int
    format: str


def _prepare_output(path: Path, overwrite: bool, mkdirs: bool) -> Path:
    if path.exists() and not overwrite:
        raise AlreadyExistsError(
            f"{path} already exists.", hint="Pass overwrite=true to replace it, or choose another path."
        )
    if not path.parent.is_dir():
        if not mkdirs:
            raise InputError(
                f"The folder {path.parent} does not exist.",
                hint="Pass mkdirs=true to create it, or fix the path.",
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"Cannot create {path.parent}: {exc.strerror or exc}.") from exc
    return path.parent / f".{path.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}"


def _publish(temp: Path, path: Path, overwrite: bool) -> None:
    try:
        if overwrite:
            os.replace(temp, path)
        else:
            os.link(temp, path)
    except FileExistsError:
        raise AlreadyExistsError(
            f"{path} already exists.", hint="Pass overwrite=true to replace it."
        ) from None
    finally:
        temp.unlink(missing_ok=True)


def write_csv(
    registry: Registry,
    ref: str,
    path: Path,
    *,
    overwrite: bool,
    mkdirs: bool,
    sep: str = ",",
    header: bool = True,
) -> Written:
    """Stream a ref into a CSV file (gzip when the name ends in .gz), written atomically."""
    info = registry.info(ref)
    bad = [f"{f.name} ({f.type})" for f in info.schema if is_nested(f.type) or _is_binary(f.type)]
    if bad:
        raise InputError(
            f"CSV cannot hold nested or binary values: {', '.join(bad[:5])}.",
            hint="Write Parquet with to_parquet, or select the other columns first "
            "(sql can turn them into text: to_json(col), hex(col)).",
        )
    if len(sep) != 1:
        raise InputError(f"sep must be one character, got {sep!r}.")
    temp = _prepare_output(path, overwrite, mkdirs)
    schema = info.schema.remove_metadata()
    try:
        sink = pa.OSFile(str(temp), "wb")
        out = pa.CompressedOutputStream(sink, "gzip") if path.name.endswith(".gz") else sink
        with (
            out,
            pacsv.CSVWriter(
                out, schema, write_options=pacsv.WriteOptions(include_header=header, delimiter=sep)
            ) as w,
        ):
            for batch in registry.batches(ref):
                w.write_batch(batch)
        _publish(temp, path, overwrite)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        temp.unlink(missing_ok=True)
        raise InputError(f"Cannot write `{ref}` as CSV: {first_line(exc)}", hint="Try to_parquet.") from None
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise StorageError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
    return Written(path, info.rows, info.columns, path.stat().st_size, "csv")


def write_parquet(
    registry: Registry, ref: str, path: Path, *, overwrite: bool, mkdirs: bool, compression: str = "zstd"
) -> Written:
    """Stream a ref into a Parquet file (zstd by default), written atomically."""
    info = registry.info(ref)
    temp = _prepare_output(path, overwrite, mkdirs)
    try:
        with pq.ParquetWriter(str(temp), info.schema.remove_metadata(), compression=compression) as w:
            for batch in registry.batches(ref):
                w.write_batch(batch)
        _publish(temp, path, overwrite)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        temp.unlink(missing_ok=True)
        raise InputError(f"Cannot write `{ref}` as Parquet: {first_line(exc)}") from None
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise StorageError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
    return Written(path, info.rows, info.columns, path.stat().st_size, "parquet")


def default_name_for(path: Path) -> str:
    return suggest_name(path.name)
