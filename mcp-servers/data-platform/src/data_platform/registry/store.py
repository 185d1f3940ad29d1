"""The store: named Arrow tables in one folder, each one file, shared safely between processes.

How a ref is written, published, flushed and read: see the package docstring (`__init__.py`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from data_platform.errors import (
    CorruptRefError,
    DataPlatformError,
    NotFoundError,
    StorageError,
    did_you_mean,
    list_for_message,
)
from data_platform.registry.durability import Flusher, fsync_path, open_for_release
from data_platform.registry.names import (
    GITIGNORE,
    META_CREATED,
    META_SOURCE,
    NAME_PATTERN,
    SUFFIX,
    remove_stale_temps,
    suggest_name,
    validate_name,
)
from data_platform.registry.pages import small_pages
from data_platform.registry.publish import publish
from data_platform.registry.reading import (
    RefInfo,
    ValidatedReader,
    stamp_validated,
    validated_before,
    wait_for_writer,
)
from data_platform.registry.writer import WriterHandle, version_of

OPEN_TABLES = 16  # memory-mapped refs kept open for reuse (pages are the OS cache, not heap)
COLUMN_BATCH_ROWS = 1 << 15  # `column` maps a column alone where batches are this long on average
LOG = logging.getLogger(__name__)


class Registry:
    """Named Arrow tables in one folder, safe to share between processes."""

    def __init__(self, root: Path, *, sync_writes: bool = False):
        self.root = Path(root)
        self.sync_writes = sync_writes
        self._info_cache: dict[str, tuple[tuple[int, int, int], RefInfo]] = {}
        self._validated: dict[str, tuple[int, int, int]] = {}
        self._tables: dict[str, tuple[tuple[int, int, int], pa.Table]] = {}
        self._failed: dict[str, tuple[int, str]] = {}  # early-published files whose copy failed: inode, why
        # One lock for the four caches above: tool threads and writer threads (a ref published
        # early calls back when its copy ends) read and change them at once.
        self._lock = threading.Lock()
        self._cleaned = False
        self.flusher = Flusher()  # this registry's own: fsyncs and writers finishing behind an answer
        small_pages()  # the process that keeps refs allocates in small pages (registry/pages.py)

    def close(self) -> None:
        """Wait until every ref written so far is whole and on disk (server shutdown, SIGTERM)."""
        self.flusher.wait()

    # -- names and paths -------------------------------------------------
    def path(self, name: str) -> Path:
        return self.root / f"{validate_name(name)}{SUFFIX}"

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name[: -len(SUFFIX)]
            for p in self.root.iterdir()
            if p.name.endswith(SUFFIX) and not p.name.startswith(".") and NAME_PATTERN.fullmatch(p.stem)
        )

    def fingerprint(self) -> dict[str, int]:
        """Each ref's name and inode, from one directory read (no stat per file).

        A new, dropped or replaced ref (a replace publishes a new inode) changes it, whichever
        process did it: the server compares it before and after a call to tell its client.
        """
        if not self.root.is_dir():
            return {}
        with os.scandir(self.root) as entries:
            return {
                e.name[: -len(SUFFIX)]: e.inode()
                for e in entries
                if e.name.endswith(SUFFIX)
                and not e.name.startswith(".")
                and NAME_PATTERN.fullmatch(e.name[: -len(SUFFIX)])
            }

    def unique_name(self, base: str) -> str:
        """`base`, or `base_2`, `base_3`... whichever is free now."""
        base = suggest_name(base)
        if not self.exists(base):
            return base
        n = 2
        while self.exists(f"{base}_{n}"):
            n += 1
        return f"{base}_{n}"

    # -- writing -----------------------------------------------------------
    def ensure_root(self) -> None:
        """Create the folder with a `.gitignore` so refs never land in the user's repo."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            ignore = self.root / ".gitignore"
            if not ignore.exists():
                ignore.write_text(GITIGNORE, encoding="utf-8")
        except OSError as exc:
            raise self.storage_error("create", exc) from exc
        if not self._cleaned:
            self._cleaned = True
            self.remove_stale_temps()

    def put(
        self,
        table: pa.Table,
        *,
        name: str | None = None,
        source: str,
        overwrite: bool = False,
        default_name: str = "data",
    ) -> RefInfo:
        """Store `table` as a ref; an explicit existing name needs `overwrite=True`."""
        with self.writer(
            name=name, schema=table.schema, source=source, overwrite=overwrite, default_name=default_name
        ) as w:
            w.write(table)
        assert w.info is not None  # set when the block ends without an error
        return w.info

    def writer(
        self,
        *,
        name: str | None,
        schema: pa.Schema,
        source: str,
        overwrite: bool = False,
        default_name: str = "data",
    ) -> contextlib.AbstractContextManager[WriterHandle]:
        """Stream batches into a new ref: `with reg.writer(...) as w: w.write(batch)`.

        Nothing is published if the block raises. With no `name`, a free name
        is derived from `default_name` (and retried if another process takes it).
        """
        return publish(
            self, name=name, schema=schema, source=source, overwrite=overwrite, default_name=default_name
        )

    def clear_failure(self, name: str) -> None:
        """A new file now holds the name: an earlier copy's failure no longer applies."""
        with self._lock:
            self._failed.pop(name, None)

    def published(self, name: str, info: RefInfo) -> RefInfo:
        """A ref written in full and named: mark it valid, schedule its fsync, describe it
        (`info`, the writer's, with the file's size)."""
        key = self._version(name)
        self.written(name, key, None)
        if key is None:  # dropped by another process already: say so as a read would
            return self.info(name)
        info = dataclasses.replace(info, size_bytes=key[2])
        self._remember(self._info_cache, name, key, (key, info))
        return info

    def written(self, name: str, key: tuple[int, int, int] | None, error: BaseException | None) -> None:
        """A ref's file is complete (`published`, or the writer thread of one published early):
        mark that version valid and flush it, or record why its copy failed."""
        if error is not None:
            reason = (error.strerror if isinstance(error, OSError) else None) or str(error)
            if key is not None:
                self._remember(self._failed, name, key, (key[0], reason))
            LOG.error("data_ref %s could not be completed on disk: %s", name, reason)
            return
        if key is not None:  # written just now from in-memory arrays: nothing to validate
            self._remember(self._validated, name, key, key)
        if self.sync_writes:  # the file itself was fsynced before it was named
            fsync_path(self.root)
        else:
            self.flusher.submit(partial(fsync_path, self.path(name)), partial(fsync_path, self.root))

    # -- reading -----------------------------------------------------------
    def _open_reader(
        self, name: str, *, validate: bool = False
    ) -> tuple[ipc.RecordBatchFileReader, tuple[int, int, int]]:
        """Map the ref's file once its writer is done, and that file's version (`validate`: its
        data validated in full first, once per version).

        The file is opened once: the lock wait, the version, the validation and the mapping all
        belong to the same file even if another process replaces the name meanwhile.
        """
        path = self.path(name)
        try:
            fd = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            raise self._not_found(name) from None
        except OSError as exc:
            raise self.storage_error("read", exc) from exc
        try:
            wait_for_writer(fd, name)
            st = os.fstat(fd)
            proc = f"/proc/self/fd/{fd}"
            where = proc if os.path.exists(proc) else str(path)
            if validate:
                self._validate(name, where, version_of(st), fd)
            source = pa.memory_map(where, "r")
        except CorruptRefError:
            raise
        except OSError as exc:
            raise self.storage_error("read", exc) from exc
        finally:
            os.close(fd)
        try:
            return ipc.open_file(source), version_of(st)
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
            raise self._damaged(name, exc) from exc

    def get(self, name: str) -> pa.Table:
        """The ref's table, memory-mapped: cheap to open, paged in on use.

        The data is validated in full once per file version (~0.1 s per 300 MB, once ever: the
        file keeps a stamp of it): a file damaged by hand must give an error, not crash the
        process in a compute kernel.
        """
        current = self._version(name)
        with self._lock:  # tools run on worker threads: one registry, many callers
            cached = self._tables.pop(name, None)
            if cached is not None and current is not None and cached[0] == current:
                self._tables[name] = cached  # back in, as the most recently used
                return cached[1]
        reader, key = self._open_reader(name, validate=True)
        try:
            table = reader.read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise self._damaged(name, exc) from exc
        # Keep the mapping: a new one per call pays a page fault per 4 KB touched again
        # (~0.1-0.3 s for a 330 MB ref here), the same pages already in memory.
        self._remember(self._tables, name, key, (key, table))
        with self._lock:
            while len(self._tables) > OPEN_TABLES:
                self._tables.pop(next(iter(self._tables)))
        return table

    def _validate(self, name: str, where: str, key: tuple[int, int, int], fd: int) -> None:
        """Validate a file version's data in full, once, through a mapping of its own, unmapped
        after: the pages it touched leave this process's memory, and the table's mapping then
        holds only what a tool reads. Once ever: the file keeps a stamp of the version validated
        (reading.stamp_validated), which a later process trusts."""
        with self._lock:
            if self._validated.get(name) == key:
                return
        if not validated_before(fd, key):
            try:
                ipc.open_file(pa.memory_map(where, "r")).read_all().validate(full=True)
            except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
                raise self._damaged(name, exc) from exc
            self.flusher.submit(partial(stamp_validated, self.path(name), key))  # behind the answer
        self._remember(self._validated, name, key, key)

    def column(self, name: str, table: pa.Table, column: str) -> pa.ChunkedArray:
        """`table.column(column)`, for `table` from `get(name)`, through a mapping of its own: its
        pages leave this process's memory once the array is dropped, where the table's mapping
        keeps every page read until `release`. A pass over the columns one at a time (profile)
        then holds one column's pages, not the whole ref's. The table's own column when the
        ref's file is no longer that table's (replaced, dropped) or the table not the one kept,
        and for batches under COLUMN_BATCH_ROWS rows on average: each costs ~30 us to read again
        here, more than its pages weigh (a small ref, or 2,000 batches of 1,000 rows)."""
        batches = table.column(0).num_chunks if table.num_columns else 0
        if table.num_rows < COLUMN_BATCH_ROWS * max(1, batches):
            return table.column(column)
        try:
            reader, key = self._open_reader(name)
        except DataPlatformError:
            return table.column(column)
        with self._lock:
            kept = self._tables.get(name)
        i = table.schema.get_field_index(column)
        if kept is None or kept[1] is not table or kept[0] != key or i < 0:
            return table.column(column)
        # The same file version as `table`, validated by `get`.
        chunks = [reader.get_batch(b).column(i) for b in range(reader.num_record_batches)]
        return pa.chunked_array(chunks, table.schema.field(i).type)

    def release(self, name: str) -> None:
        """Let go of the ref's kept mapping: its pages leave this process's memory (they stay in
        the OS cache, so the next `get` maps them again in milliseconds). For a call that is
        done with a large ref and goes on to use memory for something else (a report's drawing)."""
        with self._lock:
            self._tables.pop(name, None)

    def _remember(self, cache: dict, name: str, key: tuple[int, int, int], value: object) -> None:
        """Cache `value` for version `key` of a ref only while that version is still the ref's
        file: a drop or replace by another thread meanwhile must not leave a stale entry behind."""
        with self._lock:
            if self._version(name) == key:
                cache[name] = value

    def reader(self, name: str) -> ValidatedReader:
        """Random access to the ref's record batches, each validated as it is read."""
        return ValidatedReader(self, name, self._open_reader(name)[0])

    def batches(self, name: str) -> Iterator[pa.RecordBatch]:
        """The ref's record batches one at a time, for streaming consumers."""
        reader = self.reader(name)
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)

    def _version(self, name: str) -> tuple[int, int, int] | None:
        try:
            return version_of(self.path(name).stat())
        except OSError:
            return None

    def _damaged(self, name: str, exc: Exception) -> CorruptRefError:
        """The one error for a ref file that exists but cannot be read as valid Arrow."""
        with self._lock:
            failed = self._failed.get(name)
        if failed is not None and (version := self._version(name)) is not None and version[0] == failed[0]:
            exc = OSError(f"its writing failed after it was named: {failed[1]}")
        return CorruptRefError(
            f"data_ref `{name}` is damaged on disk ({name}{SUFFIX}: {exc}).",
            hint=f"Drop it with drop_data `{name}` and create it again; other refs are unaffected.",
        )

    def info(self, name: str) -> RefInfo:
        path = self.path(name)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise self._not_found(name) from None
        except OSError as exc:
            raise self.storage_error("read", exc) from exc
        with self._lock:
            cached = self._info_cache.get(name)
        if cached and cached[0] == version_of(st):
            return cached[1]
        reader, key = self._open_reader(name)
        try:
            rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
        except (pa.ArrowInvalid, OSError) as exc:
            raise self._damaged(name, exc) from exc
        meta = reader.schema.metadata or {}
        created_text = meta.get(META_CREATED, b"").decode() or None
        created = (
            datetime.fromisoformat(created_text)
            if created_text
            else datetime.fromtimestamp(key[1] / 1e9, tz=UTC)
        )
        info = RefInfo(
            name=name,
            path=path,
            rows=rows,
            schema=reader.schema,
            size_bytes=key[2],
            source=meta.get(META_SOURCE, b"").decode() or "unknown",
            created=created,
        )
        self._remember(self._info_cache, name, key, (key, info))
        return info

    def list(self) -> tuple[list[RefInfo], list[tuple[str, str]]]:
        """Every readable ref, and (name, problem) for every damaged one."""
        good: list[RefInfo] = []
        bad: list[tuple[str, str]] = []
        for name in self.names():
            try:
                good.append(self.info(name))
            except NotFoundError:
                continue  # dropped by another process meanwhile
            except StorageError as exc:
                bad.append((name, exc.message))
        return good, bad

    # -- dropping ------------------------------------------------------------
    def drop(self, name: str) -> RefInfo | None:
        """Delete a ref; returns its info, or None if it was damaged."""
        path = self.path(name)
        info: RefInfo | None
        try:
            info = self.info(name)
        except CorruptRefError:
            info = None
        held = open_for_release(path)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            raise self._not_found(name) from None
        except OSError as exc:
            raise self.storage_error("delete", exc) from exc
        finally:
            if held is not None:
                self.flusher.submit(partial(os.close, held))
        with self._lock:
            for cache in (self._info_cache, self._validated, self._tables, self._failed):
                cache.pop(name, None)
        return info

    def remove_stale_temps(self) -> int:
        """Remove temp files of dead processes (or older than a day)."""
        return remove_stale_temps(self.root)

    # -- helpers -------------------------------------------------------------
    def _not_found(self, name: str) -> NotFoundError:
        names = self.names()
        return NotFoundError(
            f"No data_ref named `{name}`.{did_you_mean(name, names)}",
            hint=f"Existing refs: {list_for_message(names)}. Use list_data to see them all.",
        )

    def storage_error(self, action: str, exc: OSError) -> StorageError:
        reason = exc.strerror or str(exc)
        return StorageError(
            f"Cannot {action} in the data registry folder {self.root}: {reason}.",
            hint="Make the folder writable, free disk space, or set DATA_PLATFORM_REGISTRY_DIR "
            "to another folder.",
        )
