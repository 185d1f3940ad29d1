"""Iceberg and Delta tables: read into a ref with pushdown (an older snapshot or version too),
append or overwrite from a ref. Table formats through their reference libraries.

A table is named by a path or URL (Delta: a folder with `_delta_log/`) or by a catalog name,
`catalog.namespace.table` (or `namespace.table` when one catalog is declared). Catalogs are
pyiceberg's: `[iceberg.NAME]` entries in the connection files (docs/lakes.md) or its own
`PYICEBERG_CATALOG__NAME__*` variables:

    [iceberg.lake]
    uri = "sqlite:///.data-platform/iceberg.db"   # or postgresql://..., or connection = "default",
    warehouse = "warehouse"                        # or a REST catalog's http(s):// URL
    read_only = false

Writes never guess: `mode="append"` adds rows, `mode="overwrite"` replaces the table's rows and
is only done when asked; a ref whose columns differ from the table's is refused unless
`merge_schema=true` (new columns added: deltalake's `schema_mode="merge"`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa
import pyarrow.fs as pafs

from data_platform.config import Settings
from data_platform.errors import InputError, NotFoundError
from data_platform.frames.engine import first_line
from data_platform.frames.ops import OpResult
from data_platform.frames.sources import check_columns
from data_platform.lakes import catalogs
from data_platform.lakes.datasets import scan
from data_platform.lakes.files import Files, storage_error
from data_platform.lakes.pushdown import iceberg_filter
from data_platform.lakes.scanplan import ScanCounts, plan
from data_platform.lakes.storage import Location, Storage, canonical, scheme_of
from data_platform.lakes.tablestore import delta_options, delta_served
from data_platform.paths import is_glob, resolve_path
from data_platform.registry import Guard, Registry, guard_error, ingest, suggest_name

Mode = Literal["append", "overwrite"]
TASK_GROUP = 8  # Iceberg data files read in parallel at once


@dataclass
class TableRef:
    """Which table a name points to."""

    format: Literal["delta", "iceberg"]
    shown: str
    uri: str | None = None  # Delta: its folder (a local path or a URL)
    catalog: str | None = None  # Iceberg
    identifier: tuple[str, ...] = ()
    read_only: bool = False


def find_table(text: str, settings: Settings, storage: Storage, *, for_write: bool = False) -> TableRef:
    """A Delta folder (path or URL) or an Iceberg table in a catalog."""
    text = canonical(text.strip())
    if "/" in text or scheme_of(text) is not None or text.startswith((".", "~")):
        if scheme_of(text) not in (None, "file"):
            loc = storage.locate(text, for_write=for_write)
            delta_served(text, loc.url)
            return TableRef("delta", loc.url, uri=text.rstrip("/"), read_only=loc.read_only)
        real = resolve_path(text, settings, for_write=for_write, folder=True)
        return TableRef("delta", str(real), uri=str(real))
    name, ident = catalogs.split_name(text, storage)
    entry = catalogs.declared(storage).get(name, {})
    read_only = entry.get("read_only") is True
    if for_write and read_only:
        raise InputError(
            f"Iceberg catalog {name!r} is read-only.", hint="Set read_only = false in its entry."
        )
    return TableRef(
        "iceberg", f"{name}.{'.'.join(ident)}", catalog=name, identifier=ident, read_only=read_only
    )


def detect(text: str, settings: Settings, storage: Storage) -> TableRef | None:
    """The table `text` names for read_parquet: a declared catalog's `catalog.ns.table`, or a folder
    holding `_delta_log/` (read as Delta: its log says which Parquet files are current)."""
    text = canonical(text.strip())
    if is_glob(text):
        return None
    local = scheme_of(text) in (None, "file")
    if local and "/" not in text and not (settings.project_dir / text).exists():
        names = catalogs.declared(storage)
        first = text.split(".")[0].lower()
        looks_like_file = text.lower().endswith((".parquet", ".pq", ".parq"))
        if first in names or (len(names) == 1 and "." in text and not looks_like_file):
            return find_table(text, settings, storage)
        return None
    if local:
        real = resolve_path(text, settings, folder=True)
        return TableRef("delta", str(real), uri=str(real)) if (real / "_delta_log").is_dir() else None
    loc = storage.locate(text)
    try:
        log = loc.fs.get_file_info(loc.path.rstrip("/") + "/_delta_log")
    except OSError as exc:
        raise storage_error(exc, loc.url) from None
    if log.type != pafs.FileType.Directory:
        return None
    delta_served(text, loc.url)
    return TableRef("delta", loc.url, uri=text.rstrip("/"), read_only=loc.read_only)


def _as_of(value: int | str | None) -> int | dt.datetime | None:
    """A version/snapshot number, or a timestamp ('2025-01-02 10:00', ISO; UTC unless said)."""
    if value is None or isinstance(value, int):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"as_of {text!r} is neither a version number nor a timestamp.",
            hint="Give a version (Delta), a snapshot id (Iceberg) or a time like '2025-01-02 10:00:00'.",
        ) from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def read_table(
    ref: TableRef,
    storage: Storage,
    settings: Settings,
    target_of: Any,
    *,
    max_rows: int,
    where: str | None = None,
    columns: list[str] | None = None,
    as_of: int | str | None = None,
    nrows: int | None = None,
    chunk_size: int | None = None,
) -> OpResult:
    """A table (at a version or snapshot) into a new ref, filters and columns in the scan."""
    when = _as_of(as_of)
    if ref.format == "delta":
        return _read_delta(ref, storage, target_of, when, max_rows, where, columns, nrows, chunk_size)
    return _read_iceberg(ref, storage, settings, target_of, when, max_rows, where, columns, nrows, chunk_size)


def _delta(ref: TableRef, storage: Storage, version: int | dt.datetime | None = None) -> Any:
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    assert ref.uri is not None
    try:
        table = DeltaTable(ref.uri, storage_options=delta_options(ref.uri, storage) or None)
        if version is not None and not _travel(table, version, ref):
            table.load_as_version(version)
        return table
    except TableNotFoundError:
        raise NotFoundError(
            f"No Delta table at {ref.shown} (no _delta_log).", hint="list_files shows what is there."
        ) from None
    except (DeltaError, OSError, ValueError) as exc:
        raise InputError(f"Cannot open the Delta table {ref.shown}: {first_line(exc)}") from None


def _travel(table: Any, when: int | dt.datetime, ref: TableRef) -> bool:
    """Load the version `when` names; refuse one the log does not hold, and a time before the first
    commit (delta-rs would answer its earliest version). False: the kernel's own error is the answer."""
    from deltalake.exceptions import DeltaError

    latest = table.version()
    if isinstance(when, int):
        if 0 <= when <= latest:
            try:
                table.load_as_version(when)
                return True
            except DeltaError:
                pass  # gone from the log (cleaned up): said below
        raise NotFoundError(f"{ref.shown} has no version {when}; {_versions(table, latest)}.")
    commits = _commits(table)
    first, at = commits[0] if commits else (0, None)
    if at is not None and when < at:
        raise NotFoundError(
            f"{ref.shown} has no version at or before {when.isoformat()}; "
            f"its earliest is version {first} at {at.isoformat()}.",
            hint=f"Give a later time, or as_of={first}.",
        )
    return False


def _commits(table: Any) -> list[tuple[int, dt.datetime | None]]:
    """(version, commit time) of the commits the log holds, oldest first."""
    out = []
    for h in table.history():
        stamp = h.get("timestamp")
        at = dt.datetime.fromtimestamp(stamp / 1000, dt.UTC).replace(microsecond=0) if stamp else None
        if isinstance(h.get("version"), int) and h["version"] >= 0:
            out.append((h["version"], at))
    return sorted(out, key=lambda c: c[0])


def _versions(table: Any, latest: int) -> str:
    """`versions 0 to 2 (latest 2 at 2025-06-01T10:00:00+00:00)`: what as_of can name."""
    commits = _commits(table)
    first = commits[0][0] if commits else 0
    at = commits[-1][1] if commits and commits[-1][0] == latest else None
    return f"versions {first} to {latest} (latest {latest}{f' at {at.isoformat()}' if at else ''})"


def _read_delta(
    ref: TableRef, storage: Storage, target_of: Any, when: Any, max_rows: int, where: Any, columns: Any,
    nrows: Any, chunk_size: Any,
) -> OpResult:  # fmt: skip
    table = _delta(ref, storage, when)
    dataset = table.to_pyarrow_dataset()
    adds = pa.table(table.get_add_actions(flatten=True))
    sizes = dict(zip(adds["path"].to_pylist(), adds["size_bytes"].to_pylist(), strict=True))
    paths = list(dataset.files)
    where_ = Location(dataset.filesystem, "", ref.shown)
    files = Files(where_, paths, {p: sizes.get(p, 0) for p in paths}, "", local=False, shown_base=ref.shown)
    files.partitions = list(table.metadata().partition_columns)  # values in the log, not in the files
    p = plan(dataset, files, where=where, columns=columns, nrows=nrows)
    source = f"{ref.shown} (delta version {table.version()})"
    target = target_of(source, suggest_name(ref.shown.rstrip("/").rsplit("/", 1)[-1]))
    out = scan(p, files, target, max_rows=max_rows, nrows=nrows, chunk_size=chunk_size)
    out.notes.insert(0, f"Delta version {table.version()}.")
    return out


def _read_iceberg(
    ref: TableRef, storage: Storage, settings: Settings, target_of: Any, when: Any, max_rows: int,
    where: Any, columns: Any, nrows: Any, chunk_size: Any,
) -> OpResult:  # fmt: skip
    from pyiceberg.expressions import AlwaysTrue

    table = catalogs.load_table(ref, storage, settings)
    snapshot = _snapshot(table, when, ref)
    arrow_schema = table.schema().as_arrow()
    if snapshot is not None and snapshot.schema_id is not None:
        arrow_schema = table.schemas()[snapshot.schema_id].as_arrow()
    from data_platform.frames.sources import check_columns

    check_columns(columns, arrow_schema.names, ref.shown)
    row_filter = iceberg_filter(where, arrow_schema, ref.shown) if where else AlwaysTrue()
    sid = snapshot.snapshot_id if snapshot is not None else None
    fields = tuple(columns) if columns else ("*",)
    try:
        scan_ = table.scan(row_filter=row_filter, selected_fields=fields, snapshot_id=sid)
        tasks = list(scan_.plan_files())  # planned once: the counts and the read use the same tasks
        files_total, bytes_total = _totals(table, sid, tasks, where)
    except OSError as exc:
        raise storage_error(exc, ref.shown) from None
    counts = ScanCounts(len(tasks), files_total, sum(t.file.file_size_in_bytes for t in tasks), bytes_total)
    rows = sum(t.file.record_count for t in tasks) if not where else None
    source = f"{ref.shown} (iceberg snapshot {sid})" if sid else ref.shown
    target = target_of(source, suggest_name(ref.identifier[-1]))
    guard = None if chunk_size else Guard(max_rows, ref.shown, exact=rows is not None, narrow=_narrow(table))
    schema, batches = _iceberg_batches(scan_, tasks)
    if guard and rows is not None and rows > max_rows and (nrows is None or nrows > max_rows):
        head = next(batches, None)
        raise guard_error(rows, pa.Table.from_batches([head] if head else [], schema).slice(0, 5), guard)
    done = ingest(batches, schema, target, guard=guard, chunk_size=chunk_size, nrows=nrows)
    out = OpResult.of(done)
    out.notes.append(counts.sentence())
    if sid:
        out.notes.insert(0, f"Iceberg snapshot {sid}.")
    out.scan = counts
    return out


def _totals(table: Any, sid: int | None, tasks: list[Any], where: str | None) -> tuple[int, int]:
    """Files and bytes of the whole snapshot: from its summary (no second planning)."""
    if not where:
        return len(tasks), sum(t.file.file_size_in_bytes for t in tasks)
    snap = table.snapshot_by_id(sid) if sid else table.current_snapshot()
    summary = snap.summary if snap is not None else None
    if summary is not None:
        try:
            return int(summary["total-data-files"]), int(summary["total-files-size"])
        except (KeyError, TypeError, ValueError):  # a writer that keeps no totals in its summary
            pass
    every = list(table.scan(snapshot_id=sid).plan_files())
    return len(every), sum(t.file.file_size_in_bytes for t in every)


def _iceberg_batches(scan_: Any, tasks: list[Any]) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """pyiceberg's reader over the planned tasks, a few files at a time (it reads a group in
    parallel and holds that group's batches), in plain Arrow types without field ids."""
    from pyiceberg.io.pyarrow import ArrowScan, schema_to_pyarrow

    projection = scan_.projection()
    schema = pa.schema([f.remove_metadata() for f in schema_to_pyarrow(projection)])
    reader = ArrowScan(scan_.table_metadata, scan_.io, projection, scan_.row_filter, scan_.case_sensitive)

    def batches() -> Iterator[pa.RecordBatch]:
        for i in range(0, len(tasks), TASK_GROUP):
            for b in reader.to_record_batches(tasks[i : i + TASK_GROUP]):
                same = [f.type for f in b.schema] == [f.type for f in schema]
                yield pa.RecordBatch.from_arrays(b.columns, schema=schema) if same else b.cast(schema)

    return schema, batches()


def _narrow(table: Any) -> str:
    parts = [f.name for f in table.spec().fields]
    ways = [f"where= on a partition column ({', '.join(parts)})"] if parts else ["where=<condition>"]
    return "; ".join([*ways, "columns=[...]", "nrows=N for the first N rows"])


def _snapshot(table: Any, when: Any, ref: TableRef) -> Any:
    if when is None:
        return None
    if isinstance(when, int):
        snap = table.snapshot_by_id(when)
        if snap is None:
            ids = [s.snapshot_id for s in table.snapshots()][-5:]
            raise NotFoundError(
                f"{ref.shown} has no snapshot {when}.",
                hint=f"Recent snapshot ids: {', '.join(map(str, ids))}.",
            )
        return snap
    snap = table.snapshot_as_of_timestamp(int(when.timestamp() * 1000))
    if snap is None:
        raise NotFoundError(f"{ref.shown} has no snapshot at or before {when.isoformat()}.")
    return snap


def write_table(
    ref: TableRef,
    registry: Registry,
    data_ref: str,
    storage: Storage,
    settings: Settings,
    *,
    mode: Mode,
    schema_mode: Literal["merge"] | None = None,
    partition_by: list[str] | None = None,
) -> tuple[str, int, str]:
    """Append or overwrite a table from a ref; (what happened, rows written, the table's version)."""
    info = registry.info(data_ref)
    data = registry.get(data_ref)
    data = data.replace_schema_metadata(None)
    if partition_by:
        check_columns(partition_by, data.column_names, f"`{data_ref}`")
    if ref.format == "delta":
        return _write_delta(ref, data, storage, mode, schema_mode, partition_by)
    if partition_by:
        raise InputError(
            "partition_by is for Delta tables; an Iceberg table's partitioning is its partition spec.",
            hint="Leave partition_by out (pyiceberg appends to the spec the table has).",
        )
    return catalogs.write_iceberg(ref, data, storage, settings, mode, schema_mode, info.rows)


def _write_delta(
    ref: TableRef, data: pa.Table, storage: Storage, mode: Mode, schema_mode: Any, partition_by: Any
) -> tuple[str, int, str]:
    from deltalake import write_deltalake
    from deltalake.exceptions import DeltaError, SchemaMismatchError

    assert ref.uri is not None
    options = delta_options(ref.uri, storage) or None
    table = _delta_table(ref, storage)
    exists = table is not None
    have = list(table.metadata().partition_columns) if table is not None else []
    if exists and partition_by and list(partition_by) != have:
        raise InputError(
            f"{ref.shown} is partitioned by {', '.join(have) or 'nothing'}: partition_by applies "
            "when a table is created.",
            hint="Leave partition_by out, or write to a new table.",
        )
    try:
        write_deltalake(
            ref.uri, data, mode=mode, schema_mode=schema_mode, partition_by=partition_by,
            storage_options=options,
        )  # fmt: skip
    except SchemaMismatchError as exc:
        raise InputError(
            f"The ref's columns do not match the Delta table {ref.shown}: {first_line(exc)}",
            hint="Pass merge_schema=true to add the new columns to the table, or select matching columns.",
        ) from None
    except (DeltaError, OSError) as exc:
        raise InputError(f"Cannot write the Delta table {ref.shown}: {first_line(exc)}") from None
    version = _delta(ref, storage).version()
    done = "created" if not exists else {"append": "appended to", "overwrite": "overwrote"}[mode]
    return done, data.num_rows, f"version {version}"


def _delta_table(ref: TableRef, storage: Storage) -> Any:
    """The Delta table at `ref`, or None when there is none yet."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    assert ref.uri is not None
    try:
        return DeltaTable(ref.uri, storage_options=delta_options(ref.uri, storage) or None)
    except TableNotFoundError:
        return None
    except OSError as exc:
        raise storage_error(exc, ref.shown) from None
