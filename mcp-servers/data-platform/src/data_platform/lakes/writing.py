"""to_parquet / to_csv: one local file by frames/writers.py; object storage and partitioned folders here.

A partitioned write (`partition_by`, pandas' name) is a hive folder (`year=2024/part-0.parquet`)
written by pyarrow.dataset; an existing folder is replaced only with overwrite=true. An object is
uploaded as it is written (multipart) and appears only when complete; a failed or cancelled
upload leaves nothing behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from data_platform import work
from data_platform.config import Settings
from data_platform.errors import AlreadyExistsError, InputError
from data_platform.frames import writers
from data_platform.frames.engine import first_line
from data_platform.frames.sources import check_columns
from data_platform.lakes.files import storage_error
from data_platform.lakes.storage import Location, Storage, scheme_of
from data_platform.paths import resolve_path
from data_platform.registry import Registry


def write(
    fmt: str,
    registry: Registry,
    ref: str,
    path: str,
    settings: Settings,
    storage: Storage,
    *,
    overwrite: bool,
    mkdirs: bool,
    partition_by: Sequence[str] | None = None,
    sep: str = ",",
) -> writers.Written:
    """Write a ref to `path` (local or object storage), partitioned when asked (Parquet only)."""
    remote = scheme_of(path) not in (None, "file")
    if partition_by and fmt != "parquet":
        raise InputError("partition_by writes Parquet folders.", hint="Use to_parquet with partition_by.")
    if not remote and not partition_by:
        real = resolve_path(path, settings, for_write=True)
        if fmt == "csv":
            return writers.write_csv(registry, ref, real, overwrite=overwrite, mkdirs=mkdirs, sep=sep)
        return writers.write_parquet(registry, ref, real, overwrite=overwrite, mkdirs=mkdirs)
    if remote:
        loc = storage.locate(path, for_write=True)
    else:
        real = resolve_path(path, settings, for_write=True, folder=True)
        if not real.parent.is_dir() and not mkdirs:
            raise InputError(
                f"The folder {real.parent} does not exist.", hint="Pass mkdirs=true to create it."
            )
        loc = Location(pafs.LocalFileSystem(), str(real), str(real))
    info = registry.info(ref)
    if partition_by:
        return _partitioned(registry, ref, loc, list(partition_by), overwrite=overwrite, rows=info.rows)
    if fmt == "csv":
        sep = writers.check_csv(info.schema, sep)
    existing = _info(loc)
    if existing.type != pafs.FileType.NotFound and not overwrite:
        raise AlreadyExistsError(f"{loc.url} already exists.", hint="Pass overwrite=true to replace it.")
    schema = info.schema.remove_metadata()
    with _upload(loc) as out:
        if fmt == "csv":
            codec = writers.csv_codec(loc.path)
            stream = pa.CompressedOutputStream(out, codec) if codec else out
            options = pacsv.WriteOptions(delimiter=sep)
            # the compressed stream is closed too: its last block reaches the object before it is complete
            with stream, pacsv.CSVWriter(stream, schema, write_options=options) as w:
                for batch in writers.ref_batches(registry, ref, info.rows):
                    w.write_batch(batch)
        else:
            with pq.ParquetWriter(out, schema, compression="zstd") as w:
                for batch in writers.ref_batches(registry, ref, info.rows):
                    w.write_batch(batch)
    size = _info(loc).size or 0
    return writers.Written(loc.url, info.rows, info.columns, size, fmt)


def _info(loc: Location) -> pafs.FileInfo:
    try:
        return loc.fs.get_file_info(loc.path)
    except OSError as exc:
        raise storage_error(exc, loc.url) from None


@contextlib.contextmanager
def _upload(loc: Location) -> Iterator[pa.NativeFile]:
    """An output stream to `loc`; on an error or a cancel, what was written is removed.

    compression=None: pyarrow would otherwise compress by the name's ending (`.gz`) a second time."""
    try:
        out = loc.fs.open_output_stream(loc.path, compression=None)
    except OSError as exc:
        raise storage_error(exc, loc.url) from None
    try:
        with out:
            yield out
    except BaseException as exc:
        with contextlib.suppress(OSError):
            loc.fs.delete_file(loc.path)
        if isinstance(exc, OSError):
            raise storage_error(exc, loc.url) from None
        if isinstance(exc, pa.ArrowInvalid | pa.ArrowNotImplementedError):
            raise InputError(f"Cannot write {loc.url}: {first_line(exc)}") from None
        raise


def _partitioned(
    registry: Registry, ref: str, loc: Location, by: list[str], *, overwrite: bool, rows: int
) -> writers.Written:
    """A hive-partitioned Parquet folder: one folder per value of `by` (in that order)."""
    info = registry.info(ref)
    check_columns(by, info.schema.names, f"`{ref}`")
    if len(by) >= len(info.schema.names):
        raise InputError("partition_by names every column: nothing would be left in the files.")
    existing = _info(loc)
    if existing.type == pafs.FileType.File or (existing.type == pafs.FileType.Directory and _has_files(loc)):
        if not overwrite:
            raise AlreadyExistsError(
                f"{loc.url} already exists.", hint="Pass overwrite=true to replace the whole folder."
            )
        with contextlib.suppress(OSError):
            if existing.type == pafs.FileType.File:
                loc.fs.delete_file(loc.path)
            else:
                loc.fs.delete_dir_contents(loc.path)
    schema = info.schema.remove_metadata()
    part = ds.partitioning(pa.schema([schema.field(c) for c in by]), flavor="hive")
    reader = pa.RecordBatchReader.from_batches(schema, writers.ref_batches(registry, ref, rows))
    written: list[int] = []
    try:
        ds.write_dataset(
            reader,
            loc.path,
            filesystem=loc.fs,
            format="parquet",
            partitioning=part,
            existing_data_behavior="overwrite_or_ignore",
            file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"),
            file_visitor=lambda f: written.append(f.size),
            max_partitions=10_000,
        )
    except work.CancelledError:
        with contextlib.suppress(OSError):
            loc.fs.delete_dir_contents(loc.path)
        raise
    except OSError as exc:
        raise storage_error(exc, loc.url) from None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"Cannot write {loc.url}: {first_line(exc)}") from None
    return writers.Written(loc.url, info.rows, info.columns, sum(written), "parquet")


def _has_files(loc: Location) -> bool:
    try:
        found = loc.fs.get_file_info(pafs.FileSelector(loc.path, recursive=True))
    except OSError:
        return False
    return any(i.type == pafs.FileType.File for i in found)
