"""What is at a path, a prefix or a catalog: files and sizes, partitions, the dataset's schema,
or a catalog's namespaces and tables, so an agent finds what to read before reading it."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pyarrow.dataset as ds
import pyarrow.fs as pafs

from data_platform.config import Settings
from data_platform.errors import NotFoundError
from data_platform.lakes import catalogs
from data_platform.lakes.files import glob_matches, hive_pairs, locate, storage_error
from data_platform.lakes.files import listing as list_all
from data_platform.lakes.listed import FileRow, Listing
from data_platform.lakes.storage import Location, Storage, scheme_of
from data_platform.paths import is_glob

SHOWN_FILES = 20
SHOWN_VALUES = 10
SHOWN_SNAPSHOTS = 5


def list_path(text: str, settings: Settings, storage: Storage) -> Listing:
    """A folder/prefix (recursively), one file, or a catalog (`lake`, `lake.sales`)."""
    text = text.strip()
    if "/" not in text and scheme_of(text) is None:
        name = text.split(".")[0].lower()
        if name in catalogs.declared(storage):
            return _catalog(text, name, settings, storage)
    loc = locate(text, settings, storage)
    remote = scheme_of(text) not in (None, "file")
    shown = (lambda p: loc.child_url(p)) if remote else (lambda p: p)
    if is_glob(loc.path):  # the files it matches, relative to its base folder
        root, files, _ = glob_matches(loc)
        return _files(text, files, root, shown(loc.path), loc, storage, remote=remote, glob=True)
    try:
        info = loc.fs.get_file_info(loc.path)
    except OSError as exc:
        raise storage_error(exc, loc.url) from None
    if info.type == pafs.FileType.File:
        one = FileRow(path=loc.path.rsplit("/", 1)[-1], size_bytes=info.size)
        out = Listing(path=loc.url, kind="file", files_total=1, bytes_total=info.size, files=[one])
        out.formats = dict(Counter([_ext(info.path)]))
        _schema(out, [info.path], loc.fs, None)
        return out
    files = list_all(loc.fs, loc.path, loc)
    if not files:
        raise NotFoundError(f"Nothing at {loc.url}.", hint="Check the path; list its parent folder.")
    return _files(text, files, loc.path, shown(loc.path), loc, storage, remote=remote)


def _files(
    text: str, files: list[pafs.FileInfo], root: str, read: str, loc: Location, storage: Storage, *,
    remote: bool, glob: bool = False,
) -> Listing:  # fmt: skip
    """Files under `root` (a folder's, or a glob's matches), `read` what a reader would be given."""
    rel = {i.path: i.path[len(root) :].lstrip("/") for i in files}
    total = sum(i.size or 0 for i in files)
    out = Listing(path=loc.url, kind="glob" if glob else "folder", files_total=len(files), bytes_total=total)
    if not glob and any(r.startswith("_delta_log/") for r in rel.values()):
        out.kind = "delta table"
        out.next = [f'read_parquet "{text}"']
    elif not glob and any(r.startswith("metadata/") and r.endswith(".metadata.json") for r in rel.values()):
        out.kind = "iceberg table files"
        out.next = [
            'read_parquet "catalog.namespace.table" once it is in an Iceberg catalog ([iceberg.NAME], '
            "docs/lakes.md)"
        ]
    # In path order (partitions in order), not the file system's: the table is read by a model.
    visible = sorted(
        (i for i in files if not any(p.startswith((".", "_")) for p in rel[i.path].split("/"))),
        key=lambda i: rel[i.path],
    )
    if out.kind in ("folder", "glob"):  # what a reader reads: not _SUCCESS, .crc (a table's log counts)
        out.files_total, out.bytes_total = len(visible), sum(i.size or 0 for i in visible)
    out.files = [FileRow(path=rel[i.path], size_bytes=i.size or 0) for i in visible[:SHOWN_FILES]]
    out.formats = dict(Counter(_ext(i.path) for i in visible).most_common(6))
    values: dict[str, set[str]] = {}
    for i in visible:
        for key, value in hive_pairs(rel[i.path]):
            values.setdefault(key, set()).add(value)
    out.partitions = {k: sorted(v)[:SHOWN_VALUES] for k, v in values.items()}
    out.partition_values = {k: len(v) for k, v in values.items()}
    if out.kind in ("folder", "glob"):
        parquet = [i.path for i in visible if _ext(i.path) == "parquet"]
        _schema(out, parquet, loc.fs, root)
        reader = {"parquet": "read_parquet", "csv": "read_csv", "json": "read_json"}
        top = next(iter(out.formats), "")
        if top in reader:
            hint = f' where="{next(iter(values))} = ..."' if values else ""
            out.next = [f'{reader[top]} "{read}"{hint}']
    elif out.kind == "delta table":
        from data_platform.lakes.tables import TableRef, _delta

        table = _delta(TableRef("delta", loc.url, uri=text.rstrip("/") if remote else loc.path), storage)
        out.columns = {f.name: str(f.type) for f in table.to_pyarrow_dataset().schema}
        out.next[0] += f" (version {table.version()}; as_of=N reads version N)"
        out.snapshots = [_delta_version(h) for h in table.history(SHOWN_SNAPSHOTS)]
    return out


def _catalog(text: str, name: str, settings: Settings, storage: Storage) -> Listing:
    """A catalog (its namespaces and tables), a namespace (its tables) or a table (its columns,
    files and latest snapshots: the ids `as_of` takes)."""
    ident = tuple(p for p in text.split(".")[1:] if p)
    if len(ident) >= 2:
        table = catalogs.describe(name, ident, storage, settings)
        if table is not None:
            return _iceberg_table(text, table)
    spaces, tables = catalogs.listing(name, storage, settings)
    if ident:
        space = ".".join(ident)
        if space not in spaces:
            raise NotFoundError(
                f"No Iceberg table or namespace {text} in catalog {name!r}.",
                hint=f"Namespaces: {', '.join(spaces) or 'none'}; tables: "
                f"{', '.join(tables[:15]) or 'none'}.",
            )
        tables = catalogs.listing(name, storage, settings, space)[1]
        below = [s for s in spaces if s.startswith(space + ".")]
        nxt = [f'read_parquet "{tables[0]}"'] if tables else [f'write_table creates a table: "{text}.NAME"']
        return Listing(path=text, kind="iceberg namespace", namespaces=below, tables=tables, next=nxt)
    nxt = [f'read_parquet "{tables[0]}"'] if tables else ["write_table creates a table from a ref"]
    return Listing(path=text, kind="iceberg catalog", namespaces=spaces, tables=tables, next=nxt)


def _iceberg_table(text: str, table: Any) -> Listing:
    out = Listing(path=text, kind="iceberg table")
    out.columns = {f.name: str(f.type) for f in table.schema().as_arrow()}
    current = table.current_snapshot()
    summary = current.summary if current is not None and current.summary is not None else {}
    out.files_total = int(summary.get("total-data-files") or 0)
    out.bytes_total = int(summary.get("total-files-size") or 0)
    snaps = sorted(table.snapshots(), key=lambda s: s.timestamp_ms, reverse=True)[:SHOWN_SNAPSHOTS]
    for snap in snaps:
        when = dt.datetime.fromtimestamp(snap.timestamp_ms / 1000, dt.UTC).isoformat(timespec="seconds")
        info = snap.summary
        op = str(info.operation.value) if info is not None else ""
        rows = int(info["total-records"]) if info is not None and info.get("total-records") else None
        out.snapshots.append({"id": snap.snapshot_id, "time": when, "operation": op, "rows": rows})
    out.next = [f'read_parquet "{text}"']
    if len(snaps) > 1:
        out.next[0] += f" (as_of={snaps[1].snapshot_id} reads the previous snapshot)"
    return out


def _delta_version(entry: dict[str, Any]) -> dict[str, Any]:
    """One commit of a Delta log as a snapshot row (its rows are not in the log: None)."""
    when = dt.datetime.fromtimestamp(int(entry.get("timestamp") or 0) / 1000, dt.UTC)
    mode = (entry.get("operationParameters") or {}).get("mode")
    op = str(entry.get("operation") or "").lower() + (f" ({str(mode).lower()})" if mode else "")
    return {
        "id": int(entry["version"]),
        "time": when.isoformat(timespec="seconds"),
        "operation": op,
        "rows": None,
    }


def _schema(out: Listing, parquet: list[str], fs: pafs.FileSystem, base: str | None) -> None:
    """The dataset's columns from one footer and the folder names (nothing else is read)."""
    if not parquet:
        return
    try:
        dataset = ds.dataset(
            parquet[:1], filesystem=fs, format="parquet", partitioning="hive" if base else None,
            partition_base_dir=base,
        )  # fmt: skip
    except (OSError, ValueError):
        return
    out.columns = {f.name: str(f.type) for f in dataset.schema}


def _ext(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    for compressed in (".gz", ".zst", ".bz2", ".zip", ".snappy"):
        name = name.removesuffix(compressed)
    ext = name.rsplit(".", 1)[-1] if "." in name else "(none)"
    return {"parq": "parquet", "pq": "parquet", "tsv": "csv", "jsonl": "json", "ndjson": "json"}.get(ext, ext)
