"""Writers: a ref streamed into a CSV or Parquet file, published atomically (temp file, then link)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from data_platform import work
from data_platform.errors import AlreadyExistsError, InputError, StorageError
from data_platform.frames.engine import first_line
from data_platform.frames.sniff import csv_sep
from data_platform.frames.types import is_nested
from data_platform.registry import Registry


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)


def check_csv(schema: pa.Schema, sep: str) -> str:
    """Refuse what CSV cannot hold before anything is written; the separator as pyarrow takes it."""
    bad = [f"{f.name} ({f.type})" for f in schema if is_nested(f.type) or _is_binary(f.type)]
    if bad:
        raise InputError(
            f"CSV cannot hold nested or binary values: {', '.join(bad[:5])}.",
            hint="Write Parquet with to_parquet, or select the other columns first "
            "(sql can turn them into text: to_json(col), hex(col)).",
        )
    return csv_sep(sep)


CODECS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}  # a CSV name's ending -> its compression


def csv_codec(name: str) -> str | None:
    """The compression a CSV name asks for (`x.csv.gz` -> gzip), None for plain text."""
    return next((c for end, c in CODECS.items() if name.lower().endswith(end)), None)


@dataclass
class Written:
    path: Path | str  # a local path, or the URL written in object storage
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


# A stored batch is handed on in slices of at most this many rows (zero-copy): a ref kept as one
# batch (`Registry.put` of a one-chunk table: a sort's or join's result) was written with no
# progress and no cancel until its end. pyarrow's default Parquet row group is the same size,
# so a Parquet file's row groups stay as they were.
SLICE_ROWS = 1024 * 1024


def ref_batches(registry: Registry, ref: str, total: int) -> Iterator[pa.RecordBatch]:
    """The ref's batches, with progress (rows of the ref) and a stop when the call is cancelled."""
    rows = 0
    for stored in registry.batches(ref):
        for start in range(0, max(stored.num_rows, 1), SLICE_ROWS):
            batch = stored.slice(start, SLICE_ROWS) if stored.num_rows > SLICE_ROWS else stored
            work.check()  # the caller removes the half-written file: nothing reaches `path`
            yield batch
            rows += batch.num_rows
            work.progress(rows, total, f"{rows:,} rows")


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
    """Stream a ref into a CSV file (compressed when the name ends in .gz, .bz2 or .zst), atomically."""
    info = registry.info(ref)
    sep = check_csv(info.schema, sep)
    temp = _prepare_output(path, overwrite, mkdirs)
    schema = info.schema.remove_metadata()
    with _temp_output(temp, path, f"Cannot write `{ref}` as CSV", hint="Try to_parquet."):
        sink = pa.OSFile(str(temp), "wb")
        codec = csv_codec(path.name)
        out = pa.CompressedOutputStream(sink, codec) if codec else sink
        with (
            out,
            pacsv.CSVWriter(
                out, schema, write_options=pacsv.WriteOptions(include_header=header, delimiter=sep)
            ) as w,
        ):
            for batch in ref_batches(registry, ref, info.rows):
                w.write_batch(batch)
        _publish(temp, path, overwrite)
    return Written(path, info.rows, info.columns, path.stat().st_size, "csv")


@contextlib.contextmanager
def _temp_output(temp: Path, path: Path, what: str, hint: str | None = None) -> Iterator[None]:
    """Whatever fails or is cancelled while writing, the temporary file goes; errors in our shape."""
    try:
        yield
    except work.CancelledError:
        temp.unlink(missing_ok=True)
        raise
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        temp.unlink(missing_ok=True)
        raise InputError(f"{what}: {first_line(exc)}", hint=hint) from None
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise StorageError(f"Cannot write {path}: {exc.strerror or exc}.") from exc


def write_parquet(
    registry: Registry, ref: str, path: Path, *, overwrite: bool, mkdirs: bool, compression: str = "zstd"
) -> Written:
    """Stream a ref into a Parquet file (zstd by default), written atomically."""
    info = registry.info(ref)
    temp = _prepare_output(path, overwrite, mkdirs)
    with _temp_output(temp, path, f"Cannot write `{ref}` as Parquet"):
        with pq.ParquetWriter(str(temp), info.schema.remove_metadata(), compression=compression) as w:
            for batch in ref_batches(registry, ref, info.rows):
                w.write_batch(batch)
        _publish(temp, path, overwrite)
    return Written(path, info.rows, info.columns, path.stat().st_size, "parquet")
