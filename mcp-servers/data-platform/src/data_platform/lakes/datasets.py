"""A dataset (files, a folder, a glob, a prefix in object storage) scanned into one ref with pushdown.

pyarrow.dataset does the reading: hive folders (`year=2024/`) become typed columns, `where`
(the `filter` language, lakes/pushdown.py) prunes partitions and skips Parquet row groups by
their statistics, `columns` are the only columns decoded. What was read is counted before
the scan (lakes/scanplan.py: files and bytes of the row groups kept, of how many) and said in the answer. The
batches stream through the registry's one ingest path, under the row guard, with progress in
files and bytes and a stop when the call is cancelled.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.dataset as ds

from data_platform import work
from data_platform.errors import InputError
from data_platform.frames.engine import first_line
from data_platform.frames.ops import OpResult
from data_platform.frames.sniff import decode_sample, sniff_csv
from data_platform.frames.sources import SAMPLE_BYTES
from data_platform.lakes.files import Files, storage_error
from data_platform.lakes.scanplan import Plan, ScanCounts, plan
from data_platform.registry import Guard, Target, guard_error, ingest
from data_platform.registry.ingest import GUARD_PREVIEW_ROWS

BATCH_ROWS = 131_072


def open_dataset(
    files: Files, fmt: str, *, sep: str | None = None, encoding: str | None = None
) -> ds.Dataset:
    """The files as one pyarrow dataset, hive partitions as columns (a key whose values do not all
    read back as written, `zip=01234`, stays text: see `_padded_keys`)."""
    try:
        fmt_ = _format(files, fmt, sep, encoding)
        dataset = ds.dataset(
            files.infos(),  # with their sizes: no HEAD request per file in object storage
            filesystem=files.location.fs,
            format=fmt_,
            partitioning="hive" if files.base else None,
            partition_base_dir=files.base,
        )
        padded = _padded_keys(dataset, files)
        if not padded:
            return dataset
        inferred = dataset.partitioning.schema
        schema = pa.schema([pa.field(f.name, pa.string()) if f.name in padded else f for f in inferred])
        return ds.dataset(
            files.infos(),
            filesystem=files.location.fs,
            format=fmt_,
            partitioning=ds.partitioning(schema, flavor="hive"),
            partition_base_dir=files.base,
        )
    except OSError as exc:
        raise storage_error(exc, files.location.url) from None
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(
            f"{files.location.url} is not a readable {fmt} dataset: {first_line(exc)}",
            hint="Check the format, or name the files of one schema with a glob.",
        ) from None


def _padded_keys(dataset: ds.Dataset, files: Files) -> set[str]:
    """Hive keys pyarrow typed as numbers although a value does not read back as written
    (`zip=00501` as 501, `month=01` as 1): kept as text, as DuckDB's hive reader does, so no
    value is changed and a partitioned write gives back the same folders."""
    partitioning = getattr(dataset, "partitioning", None)
    if partitioning is None or not files.base:
        return set()
    numeric = {f.name for f in partitioning.schema if pa.types.is_integer(f.type)}
    found: set[str] = set()
    for path in files.paths:
        for key, value in files.hive(path):
            if key in numeric and key not in found and _reads_back_changed(value):
                found.add(key)
    return found


def _reads_back_changed(value: str) -> bool:
    try:
        return str(int(value)) != value
    except ValueError:
        return False


def _format(files: Files, fmt: str, sep: str | None, encoding: str | None) -> ds.FileFormat:
    if fmt == "parquet":
        return ds.ParquetFileFormat()
    if fmt == "json":
        return ds.JsonFileFormat()
    import pyarrow.csv as pacsv

    zst = next((p for p in files.paths if p.lower().endswith(".zst")), None)
    if zst is not None:  # pyarrow's datasets parse .zst CSV undecoded: a garbled parse error
        raise InputError(
            f"{files.url(zst)}: zstd-compressed CSV is not read as a dataset here (pyarrow's datasets "
            "do not decompress it).",
            hint="Write it as .csv.gz; one local .csv.zst file is read whole by read_csv without where.",
        )
    first = next((p for p in files.paths if files.sizes.get(p)), files.paths[0])
    with files.location.fs.open_input_stream(first, compression="detect") as f:
        sample = f.read(SAMPLE_BYTES)
    try:
        text, codec, _ = decode_sample(sample, encoding)
        dialect = sniff_csv(text, 0, sep, None)
    except InputError as exc:
        raise InputError(f"{files.url(first)}: {exc.message}", hint=exc.hint) from None
    read = pacsv.ReadOptions(
        encoding=codec, column_names=None if dialect.header else dialect.names, block_size=1 << 22
    )
    parse = pacsv.ParseOptions(delimiter=dialect.sep, newlines_in_values=dialect.multiline)
    return ds.CsvFileFormat(parse_options=parse, read_options=read)


def scan(
    p: Plan,
    files: Files,
    target: Target,
    *,
    max_rows: int,
    nrows: int | None = None,
    chunk_size: int | None = None,
    source_column: str | None = None,
) -> OpResult:
    """Stream the planned scan into a new ref, under the row guard (none when chunked)."""
    fmt = p.fragments[0].format if p.fragments else p.dataset.format  # theirs: dictionaries decoded
    sub = ds.FileSystemDataset(p.fragments, p.dataset.schema, fmt, p.dataset.filesystem)
    schema = pa.schema([p.dataset.schema.field(c) for c in p.columns])
    if source_column:
        if source_column in schema.names:
            raise InputError(
                f'source_column "{source_column}" is already a column.', hint="Pick another name."
            )
        schema = schema.append(pa.field(source_column, pa.string()))
    guard = _guard(p, files, max_rows) if not chunk_size else None
    if guard and p.rows is not None and p.rows > max_rows and (nrows is None or nrows > max_rows):
        head = sub.head(GUARD_PREVIEW_ROWS, columns=p.columns, filter=p.filter)
        raise guard_error(p.rows, head, guard)
    scanner = sub.scanner(columns=p.columns, filter=p.filter, batch_size=chunk_size or BATCH_ROWS)
    progress = [0, p.counts.bytes_read or files.total_bytes]
    seen: set[str] = set()
    try:
        with work.measure(lambda _rows: (progress[0], progress[1])):  # bytes of the files read
            done = ingest(
                _batches(scanner, files, schema, source_column, progress, seen),
                schema,
                target,
                guard=guard,
                chunk_size=chunk_size,
                nrows=nrows,
            )
    except OSError as exc:
        raise storage_error(exc, files.location.url) from None
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise InputError(
            f"Cannot read {files.location.url}: {first_line(exc)}",
            hint="Files of different schemas? Name the files of one schema with a glob.",
        ) from None
    counts = p.counts
    if nrows is not None and len(seen) < counts.files_read:  # stopped at nrows: what it read
        counts = _read_counts(p, seen)
    result = OpResult.of(done)
    result.notes.append(counts.sentence())
    result.scan = counts
    return result


def _read_counts(p: Plan, seen: set[str]) -> ScanCounts:
    """The counts of the files a scan stopped at nrows read from (of what the source holds)."""
    c = p.counts
    groups = sum((p.file_groups or {}).get(f, 0) for f in seen) if c.row_groups_total else None
    read = sum((p.file_bytes or {}).get(f, 0) for f in seen)
    return ScanCounts(len(seen), c.files_total, read, c.bytes_total, groups, c.row_groups_total)


def _guard(p: Plan, files: Files, max_rows: int) -> Guard:
    ways = []
    if p.partitions:
        shown = ", ".join(p.partitions[:4])
        ways.append(f'where="<partition> = value" on a partition column ({shown}) reads fewer files')
    else:
        ways.append('where="<condition>" skips row groups by their statistics')
    ways.append(f"columns=[...] reads only those ({len(p.columns)} now)")
    ways.append("nrows=N for the first N rows")
    return Guard(max_rows, files.location.url, exact=p.rows is not None, narrow="; ".join(ways))


def _batches(
    scanner: ds.Scanner,
    files: Files,
    schema: pa.Schema,
    source_column: str | None,
    progress: list[int],
    seen: set[str],
) -> Iterator[pa.RecordBatch]:
    """The scan's batches (with each row's file when asked); `progress` counts the files' bytes,
    `seen` gathers the files read."""
    for tagged in scanner.scan_batches():
        path = tagged.fragment.path
        if path not in seen:
            seen.add(path)
            progress[0] = min(progress[1], progress[0] + files.sizes.get(path, 0))
        batch = tagged.record_batch
        if source_column:
            name = pa.array([files.url(path)] * batch.num_rows, pa.string())
            batch = pa.RecordBatch.from_arrays([*batch.columns, name], schema=schema)
        yield batch


def read_dataset(
    files: Files,
    fmt: str,
    target: Target,
    *,
    max_rows: int,
    where: str | None = None,
    columns: list[str] | None = None,
    nrows: int | None = None,
    chunk_size: int | None = None,
    source_column: str | None = None,
    sep: str | None = None,
    encoding: str | None = None,
) -> OpResult:
    """Files of one format into one ref: planned (pruned, counted), then streamed."""
    dataset = open_dataset(files, fmt, sep=sep, encoding=encoding)
    p = plan(dataset, files, where=where, columns=columns, nrows=nrows)
    out = scan(
        p, files, target, max_rows=max_rows, nrows=nrows, chunk_size=chunk_size, source_column=source_column
    )
    if files.skipped:
        names = ", ".join(files.url(f).rsplit("/", 1)[-1] for f in files.skipped[:3])
        more = ", ..." if len(files.skipped) > 3 else ""
        n = len(files.skipped)
        out.notes.append(f"Skipped {n:,} file{'s' if n > 1 else ''} not {fmt} by extension ({names}{more}).")
    return out
