"""read_csv / read_parquet / read_json: one file by the single-file readers, anything else as a dataset;
read_parquet also reads Delta folders and Iceberg tables (lakes/tables.py).

A local file read as before (CSV sniffing, encodings, dates, zip/gz: frames/csv_reader.py...);
a folder, a glob, a list, a URL in object storage, or a `where`/`source_column` go through
lakes/datasets.py (pushdown). Options only one path knows are refused on the other, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from data_platform.config import Settings
from data_platform.errors import InputError
from data_platform.frames import csv_reader, json_reader, parquet
from data_platform.frames.ops import OpResult
from data_platform.frames.sources import default_name_for
from data_platform.lakes import tables
from data_platform.lakes.datasets import read_dataset
from data_platform.lakes.files import find_files
from data_platform.lakes.storage import Storage, scheme_of
from data_platform.paths import is_glob, resolve_path
from data_platform.registry import Registry, Target, suggest_name

FORMATS = {"read_csv": "csv", "read_parquet": "parquet", "read_json": "json"}
SINGLE: dict[str, Callable[..., OpResult]] = {
    "read_csv": csv_reader.read_csv,
    "read_parquet": parquet.read_parquet,
    "read_json": json_reader.read_json,
}
# A dataset read's options, in the order an answer names them.
DATASET_OPTIONS = ("where", "columns", "nrows", "chunk_size", "sep", "encoding", "source_column")
_UNSET: tuple[Any, ...] = (None, 0, False)


def is_dataset(path: str | Sequence[str], settings: Settings, options: dict[str, Any]) -> bool:
    """Whether the dataset path reads this (anything but one local file without dataset options)."""
    if not isinstance(path, str) or options.get("where") or options.get("source_column"):
        return True
    if scheme_of(path) not in (None, "file") or is_glob(path):
        return True
    return resolve_path(path, settings, folder=True).is_dir()


def load(
    kind: str,
    path: str | Sequence[str],
    settings: Settings,
    storage: Storage,
    registry: Registry,
    *,
    name: str | None,
    overwrite: bool,
    max_rows: int,
    **options: Any,
) -> OpResult:
    """Read `path` with the reader `kind` into a new ref."""
    if isinstance(path, list | tuple) and len(path) == 1:
        path = path[0]
    as_of = options.pop("as_of", None)
    table = (
        tables.detect(path, settings, storage) if kind == "read_parquet" and isinstance(path, str) else None
    )
    if table is not None:
        if options.get("source_column"):
            raise InputError("source_column applies to files, not to a table.", hint="Leave it out.")

        def target_of(source: str, default: str) -> Target:
            return Target(registry, name, overwrite, source, default)

        keep = {k: options.get(k) for k in ("where", "columns", "nrows", "chunk_size")}
        return tables.read_table(table, storage, settings, target_of, max_rows=max_rows, as_of=as_of, **keep)
    if as_of is not None:
        raise InputError(
            "as_of reads an older version of a Delta or Iceberg table; this is plain files.",
            hint="Give a Delta folder or an Iceberg catalog.namespace.table, or leave as_of out.",
        )
    if not is_dataset(path, settings, options):
        real = resolve_path(str(path), settings)
        for key in ("where", "source_column"):
            options.pop(key, None)
        target = Target(registry, name, overwrite, str(real), default_name_for(real))
        return SINGLE[kind](real, target, max_rows=max_rows, **options)
    extra = sorted(k for k, v in options.items() if k not in DATASET_OPTIONS and v not in _UNSET)
    if extra:
        takes = [k for k in DATASET_OPTIONS if k in options]
        raise InputError(
            f"{', '.join(extra)} apply to one local file; a folder, glob, list or URL is read as a dataset "
            f"with {', '.join(takes[:-1])} and {takes[-1]}.",
            hint="Read one file at a time for those options, or convert types afterwards with sql.",
        )
    files = find_files(path, settings, storage, FORMATS[kind])
    shown = files.location.url if isinstance(path, str) else f"{files.url(files.paths[0])} and others"
    default = suggest_name(shown.rstrip("/*").rsplit("/", 1)[-1] or "dataset")
    target = Target(registry, name, overwrite, shown, default)
    kept = {k: v for k, v in options.items() if k in DATASET_OPTIONS}
    return read_dataset(files, FORMATS[kind], target, max_rows=max_rows, **kept)
