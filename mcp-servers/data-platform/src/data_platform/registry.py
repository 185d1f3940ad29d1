"""The data registry: named Arrow tables that outlive tool calls and restarts.

Each ref is one Arrow IPC file, `<name>.arrow`, in the registry folder. Its
metadata (source, creation time) lives in the file's own schema metadata and
the rest (rows, columns, size) is read from the file, so a ref is exactly one
file and is either wholly there or absent:

* writes go to a temp file in the same folder, then published by `os.link`
  (fails if the name exists: no silent overwrite, even between two processes)
  or `os.replace` (when overwriting was asked for); a writer thread copies
  batches to the file while the producer computes the next ones;
* a big ref whose blocks are all reserved is published while the writer thread
  still copies the last batches (up to WRITE_BEHIND bytes): the writer holds an
  exclusive flock on the file until it is whole, and every reader, in any
  process, takes a shared flock before mapping it, so nobody sees it partial;
* a published ref is flushed to disk (fsync) by a background thread right
  after, or before answering with `sync_writes` (see docs/decisions.md: the
  disk here writes ~600 MB/s, slower than the engines produce data); a clean
  exit or SIGTERM waits for both;
* reads are memory-mapped, so a large ref costs pages, not heap, and a reader
  keeps its view even if another process replaces or drops the file;
* temp files left by a killed process are removed the next time a registry
  opens the folder.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import logging
import os
import queue
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from data_platform.errors import (
    AlreadyExistsError,
    CorruptRefError,
    InputError,
    NotFoundError,
    StorageError,
    did_you_mean,
    list_for_message,
)

SUFFIX = ".arrow"
TEMP_PREFIX = ".tmp-"
META_SOURCE = b"data_platform.source"
META_CREATED = b"data_platform.created"
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
STALE_TEMP_SECONDS = 24 * 3600
WRITE_BEHIND = 256 << 20  # bytes a producer may run ahead of the writer thread
WRITER_WAIT_S = 60.0  # how long a reader waits for a ref still being written
OPEN_TABLES = 16  # memory-mapped refs kept open for reuse (pages are the OS cache, not heap)
PREALLOCATE_FROM = 8 << 20  # refs smaller than this are written without reserving blocks
LOG = logging.getLogger(__name__)
GITIGNORE = "# data-platform's stored data refs: never commit them.\n*\n"


@dataclass(frozen=True)
class RefInfo:
    """What is known about a stored ref without reading its data."""

    name: str
    path: Path
    rows: int
    schema: pa.Schema
    size_bytes: int  # file size; for a ref published early, expected (dictionaries: a few 100 B off)
    source: str
    created: datetime

    @property
    def columns(self) -> int:
        return len(self.schema)


def validate_name(name: str) -> str:
    """A ref name is an identifier: letters, digits, underscore, at most 64 characters."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        shown = repr(name)[:80]
        raise InputError(
            f"Invalid data_ref name {shown}.",
            hint="Use letters, digits and underscores, starting with a letter or underscore "
            "(at most 64 characters), e.g. sales_2025.",
        )
    return name


def suggest_name(text: str) -> str:
    """Turn a file stem or label into a valid ref name (`Sales 2025.csv` -> `sales_2025`)."""
    stem = Path(text).name
    for ext in (
        ".gz",
        ".zip",
        ".bz2",
        ".zst",
        ".csv",
        ".tsv",
        ".txt",
        ".parquet",
        ".json",
        ".jsonl",
        ".ndjson",
    ):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
    clean = re.sub(r"[^A-Za-z0-9_]+", "_", stem).strip("_").lower()
    if not clean:
        clean = "data"
    if clean[0].isdigit():
        clean = "t_" + clean
    return clean[:48]


def _version_of(st: os.stat_result) -> tuple[int, int, int]:
    """A file version: the inode, its last change and size (a replace or rewrite changes it)."""
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RefWriter:
    """Streams record batches into a new ref; published when its `Registry.writer` block ends.

    `write` hands each batch to a writer thread and returns, so computing the next batch
    overlaps with copying this one to the file. Up to WRITE_BEHIND bytes may wait for the
    thread; a big ref whose remaining blocks are reserved is published with that backlog
    still being copied (`finish_behind`), under an exclusive flock that readers wait on.
    """

    def __init__(self, registry: Registry, name: str, schema: pa.Schema, source: str, overwrite: bool):
        self.registry = registry
        self.name = name
        self.overwrite = overwrite
        self.schema = registry._with_metadata(schema, source)
        self.temp = registry._temp_path()
        self.rows = 0
        try:
            self._sink = pa.OSFile(str(self.temp), "wb")
            # Held until the last byte is written: readers of a ref published early wait on it.
            self._lock_fd = os.open(self.temp, os.O_RDONLY)
        except OSError as exc:
            raise registry._storage_error("write", exc) from exc
        with contextlib.suppress(OSError):  # no flock here (rare): early publishing is then off
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._locked = True
        self._writer = ipc.new_file(self._sink, self.schema)
        self._items: deque[pa.RecordBatch | pa.Table | None] = deque()
        self._cond = threading.Condition()
        self._waiting_bytes = 0  # queued for the thread, not yet written
        self._in_flight: pa.RecordBatch | pa.Table | None = None  # being written now
        self._written = 0  # bytes in the file so far
        self._error: BaseException | None = None
        self._discard = False
        self._on_done: Callable[[tuple[int, int, int] | None, BaseException | None], None] | None = None
        self._queued_bytes = 0  # everything handed to write(), for the block reservation
        self._batches = 0
        self._buffers = 0  # Arrow buffers per batch (each padded in the file)
        self._allocated = 0
        self._thread = threading.Thread(target=self._drain, name="ref-writer", daemon=True)
        self._thread.start()

    _locked = False

    def _drain(self) -> None:
        while True:
            with self._cond:
                while not self._items:
                    self._cond.wait()
                data = self._items.popleft()
                self._in_flight = data
            if data is None:
                break
            if self._error is None and not self._discard:
                try:
                    if isinstance(data, pa.Table):
                        self._writer.write_table(data)
                    else:
                        self._writer.write_batch(data)
                except BaseException as exc:  # surfaced to the producer by write/finish
                    self._error = exc
            with self._cond:
                self._waiting_bytes -= data.nbytes
                self._in_flight = None
                with contextlib.suppress(OSError):
                    self._written = self._sink.tell()
                self._cond.notify_all()
        if self._on_done is not None:
            self._complete_behind(self._on_done)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            exc = self._error
            if isinstance(exc, OSError):
                raise self.registry._storage_error("write", exc) from exc
            raise exc

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        self._raise_if_failed()
        if data.schema.remove_metadata() != self.schema.remove_metadata():
            data = data.cast(self.schema.remove_metadata())
        batches = data.to_batches() if isinstance(data, pa.Table) else [data]
        if not self._buffers and batches:
            self._buffers = sum(len(c.buffers()) for c in batches[0].columns)
        self._batches += len(batches)
        self._reserve(data.nbytes)
        with self._cond:
            while self._waiting_bytes > WRITE_BEHIND and self._error is None:
                self._cond.wait()
            self._items.append(data)
            self._waiting_bytes += data.nbytes
            self._cond.notify_all()
        self.rows += data.num_rows

    def _bound(self) -> int:
        """Bytes the finished file can take at most: data, per-batch metadata and padding, footer."""
        return self._queued_bytes + self._batches * (2048 + 64 * self._buffers) + (1 << 20)

    def _reserve(self, nbytes: int) -> None:
        """Allocate the file's blocks ahead of the writer: the kernel copies into allocated
        blocks ~25% faster than it grows a file page by page (bench/bench_frames.py)."""
        self._queued_bytes += nbytes
        need = self._bound()
        if self._queued_bytes < PREALLOCATE_FROM or self._allocated < 0 or need <= self._allocated:
            return
        grow = max(need - self._allocated, 64 << 20, self._allocated // 2)
        if fallocate(self._sink.fileno(), self._allocated, grow):
            self._allocated += grow
        else:
            self._allocated = -1  # unsupported here, or the disk is full: the writes alone decide

    def can_finish_behind(self) -> bool:
        """True when the rest may be written after publishing: a big ref, locked, every block it
        can still need reserved (so the copy cannot run out of space), nothing failed so far."""
        if not self._locked or self._error is not None or self._queued_bytes < PREALLOCATE_FROM:
            return False
        with self._cond:
            if not self._waiting_bytes:
                return False  # nothing left to copy: finishing here costs nothing
        return self._allocated > 0 and self._bound() <= self._allocated

    def _stop_thread(self) -> None:
        if self._thread.is_alive():
            with self._cond:
                self._items.append(None)
                self._cond.notify_all()
            self._thread.join()

    def _close_file(self) -> None:
        self._writer.close()
        self._sink.flush()
        if self._allocated > 0:
            os.ftruncate(self._sink.fileno(), self._sink.tell())  # the unused reserve goes
        if self.registry.sync_writes:
            os.fsync(self._sink.fileno())
        self._sink.close()

    def finish(self) -> None:
        """Write what is queued and close the temp file; it is then ready to publish."""
        self._stop_thread()
        self._raise_if_failed()
        try:
            self._close_file()
        except OSError as exc:
            raise self.registry._storage_error("write", exc) from exc

    def finish_behind(
        self, on_done: Callable[[tuple[int, int, int] | None, BaseException | None], None]
    ) -> None:
        """The file is published: write the backlog, close, call `on_done(version, error)`, then
        unlock, all on the writer thread."""
        FLUSHER.begin(self._thread)
        self._on_done = on_done
        with self._cond:
            self._items.append(None)
            self._cond.notify_all()

    def _complete_behind(
        self, on_done: Callable[[tuple[int, int, int] | None, BaseException | None], None]
    ) -> None:
        key: tuple[int, int, int] | None = None
        error: BaseException | None = self._error
        try:
            if error is None:
                self._close_file()
        except BaseException as exc:
            error = exc
        if error is not None:
            with contextlib.suppress(Exception):
                self._sink.close()
        with contextlib.suppress(OSError):  # the version written, or which file failed
            key = _version_of(os.fstat(self._lock_fd))
        try:
            on_done(key, error)  # before the unlock: a waiting reader then finds it validated
        finally:
            self.release()
            FLUSHER.end()

    def expected_size(self) -> int:
        """The file's size once written, for an answer given before: what is written, plus the
        serialized size of the backlog, plus the footer (~0.1 ms a batch of backlog)."""
        with self._cond:
            written = self._written
            backlog = [d for d in (self._in_flight, *self._items) if d is not None]
        pending = sum(
            ipc.get_record_batch_size(b)
            for d in backlog
            for b in (d.to_batches() if isinstance(d, pa.Table) else [d])
        )
        # An empty stream is exactly the file's header: the magic plus the schema.
        stream = pa.BufferOutputStream()
        ipc.new_stream(stream, self.schema).close()
        header = stream.tell()
        return max(written, header) + pending + self._footer(header, self._batches)

    def _footer(self, header: int, batches: int) -> int:
        """Bytes after the last batch: measured on a one-batch file (its padding is that of any
        number of batches), plus 24 bytes a block."""
        one = pa.BufferOutputStream()
        try:
            batch = pa.RecordBatch.from_pylist([], schema=self.schema)
        except (pa.ArrowException, TypeError, ValueError):  # a type with no empty form: near enough
            ipc.new_file(one, self.schema).close()
            return one.tell() - header + 24 * batches
        writer = ipc.new_file(one, self.schema)
        writer.write_batch(batch)
        writer.close()
        return one.tell() - header - ipc.get_record_batch_size(batch) + 24 * (batches - 1)

    def release(self) -> None:
        """Drop the writer's lock: readers waiting for this ref go on."""
        if self._lock_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = -1

    def abort(self) -> None:
        self._discard = True
        self._stop_thread()
        with contextlib.suppress(Exception):
            self._writer.close()
        with contextlib.suppress(Exception):
            self._sink.close()
        self.temp.unlink(missing_ok=True)
        self.release()


class _Flusher:
    """Disk work that need not hold up an answer, done in order on one background thread.

    Fsyncs of published refs (and their folder), and the last close of a replaced or
    dropped ref's file, where the kernel frees its blocks (~0.25 s for 400 MB here). It also
    counts the writers still copying a ref published early. All of it finishes at a clean
    exit (atexit, and SIGTERM in `serve`); after a machine crash a ref that had not reached
    the disk reads as damaged, which the registry reports.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], None]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()  # re-entrant: `wait` may run in a signal handler
        self._writers = 0
        self._writer_threads: list[threading.Thread] = []
        self._idle = threading.Condition(self._lock)

    def submit(self, *jobs: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ref-flusher", daemon=True)
                self._thread.start()
        for job in jobs:
            self._queue.put(job)

    def begin(self, thread: threading.Thread) -> None:
        """A writer thread goes on after its ref was published."""
        with self._lock:
            self._writers += 1
            self._writer_threads = [t for t in self._writer_threads if t.is_alive()] + [thread]

    def end(self) -> None:
        with self._lock:
            self._writers -= 1
            self._idle.notify_all()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                with contextlib.suppress(OSError):
                    job()
            finally:
                self._queue.task_done()

    def wait(self) -> None:
        """Block until every early-published ref is written and every submitted job is done."""
        with self._lock:
            while self._writers:
                self._idle.wait()
            done, self._writer_threads = self._writer_threads, []
        for thread in done:
            # Joined, not just counted: a daemon thread still dropping its Arrow writer when
            # the interpreter finalizes aborts the process (std::terminate).
            thread.join()
        if self._thread is not None:
            self._queue.join()


def fallocate(fd: int, offset: int, length: int) -> bool:
    """Linux fallocate(2), mode 0; False where unsupported (no slow zero-filling fallback)."""
    fn = getattr(_LIBC, "fallocate", None)
    if fn is None:
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    return fn(fd, 0, offset, length) == 0


_LIBC = ctypes.CDLL(None, use_errno=True)


def fsync_path(path: Path) -> None:
    """Fsync a file or folder by path; gone or unreadable is not an error (nothing left to save)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _open_for_release(path: Path) -> int | None:
    """An fd that keeps a file's blocks alive past unlink/replace, to close off the answer path."""
    try:
        return os.open(path, os.O_RDONLY)
    except OSError:
        return None


FLUSHER = _Flusher()
atexit.register(FLUSHER.wait)


class Registry:
    """Named Arrow tables in one folder, safe to share between processes."""

    def __init__(self, root: Path, *, sync_writes: bool = False):
        self.root = Path(root)
        self.sync_writes = sync_writes
        self._info_cache: dict[str, tuple[tuple[int, int, int], RefInfo]] = {}
        self._validated: dict[str, tuple[int, int, int]] = {}
        self._tables: dict[str, tuple[tuple[int, int, int], pa.Table]] = {}
        self._failed: dict[str, tuple[int, str]] = {}  # early-published files whose copy failed: inode, why
        self._lock = threading.Lock()
        self._cleaned = False

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
            raise self._storage_error("create", exc) from exc
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
        return w.info

    @contextlib.contextmanager
    def writer(
        self,
        *,
        name: str | None,
        schema: pa.Schema,
        source: str,
        overwrite: bool = False,
        default_name: str = "data",
    ) -> Iterator[_WriterHandle]:
        """Stream batches into a new ref: `with reg.writer(...) as w: w.write(batch)`.

        Nothing is published if the block raises. With no `name`, a free name
        is derived from `default_name` (and retried if another process takes it).
        """
        self.ensure_root()
        auto = name is None
        target = self.unique_name(default_name) if auto else validate_name(name)
        if not auto and not overwrite and self.exists(target):
            raise self._exists_error(target)
        writer = RefWriter(self, target, schema, source, overwrite)
        handle = _WriterHandle(writer)
        try:
            yield handle
        except BaseException:
            writer.abort()
            raise
        behind = not self.sync_writes and writer.can_finish_behind()
        try:
            if not behind:
                writer.finish()
            for _ in range(1000):
                try:
                    self._link(writer.temp, writer.name, overwrite)
                    break
                except AlreadyExistsError:
                    if not auto:
                        raise
                    # Another process took the auto name between check and publish: take the next.
                    writer.name = self.unique_name(default_name)
            else:
                raise StorageError("Could not find a free ref name.")  # pragma: no cover
        except BaseException:
            writer.abort()
            raise
        writer.temp.unlink(missing_ok=True)  # after a link, the ref's own name holds the file
        self._failed.pop(writer.name, None)
        if behind:
            # The rest is copied after the answer (the ref's lock makes every reader wait for it).
            handle.info = RefInfo(
                name=writer.name,
                path=self.path(writer.name),
                rows=writer.rows,
                schema=writer.schema,
                size_bytes=writer.expected_size(),
                source=source,
                created=datetime.fromisoformat(writer.schema.metadata[META_CREATED].decode()),
            )
            writer.finish_behind(partial(self._written, writer.name))
        else:
            writer.release()
            handle.info = self._published(writer.name)

    def _link(self, temp: Path, name: str, overwrite: bool) -> None:
        """Give the temp file the ref's name: a link refuses an existing name, a replace does not."""
        final = self.path(name)
        old = _open_for_release(final) if overwrite else None
        try:
            if overwrite:
                os.replace(temp, final)
            else:
                os.link(temp, final)
        except FileExistsError as exc:
            raise self._exists_error(name) from exc
        except OSError as exc:
            raise self._storage_error("write", exc) from exc
        finally:
            if old is not None:
                FLUSHER.submit(partial(os.close, old))

    def _published(self, name: str) -> RefInfo:
        """A ref written in full and named: mark it valid, schedule its fsync, describe it."""
        self._written(name, self._version(name), None)
        return self.info(name)

    def _written(self, name: str, key: tuple[int, int, int] | None, error: BaseException | None) -> None:
        """A ref's file is complete (`_published`, or the writer thread of one published early):
        mark that version valid and flush it, or record why its copy failed."""
        if error is not None:
            reason = (error.strerror if isinstance(error, OSError) else None) or str(error)
            if key is not None:
                self._failed[name] = (key[0], reason)
            LOG.error("data_ref %s could not be completed on disk: %s", name, reason)
            return
        if key is not None:  # written just now from in-memory arrays: nothing to validate
            self._validated[name] = key
        if self.sync_writes:  # the file itself was fsynced before it was named
            fsync_path(self.root)
        else:
            FLUSHER.submit(partial(fsync_path, self.path(name)), partial(fsync_path, self.root))

    # -- reading -----------------------------------------------------------
    def _open_reader(self, name: str) -> tuple[ipc.RecordBatchFileReader, tuple[int, int, int]]:
        """Map the ref's file once its writer is done, and that file's version.

        The file is opened once: the lock wait, the version and the mapping all belong to
        the same file even if another process replaces the name meanwhile.
        """
        path = self.path(name)
        try:
            fd = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            raise self._not_found(name) from None
        except OSError as exc:
            raise self._storage_error("read", exc) from exc
        try:
            self._wait_for_writer(fd, name)
            st = os.fstat(fd)
            proc = f"/proc/self/fd/{fd}"
            source = pa.memory_map(proc if os.path.exists(proc) else str(path), "r")
        except OSError as exc:
            raise self._storage_error("read", exc) from exc
        finally:
            os.close(fd)
        try:
            return ipc.open_file(source), _version_of(st)
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
            raise self._damaged(name, exc) from exc

    @staticmethod
    def _wait_for_writer(fd: int, name: str) -> None:
        """Wait while a writer still copies a ref it published early (it holds an exclusive flock)."""
        deadline = time.monotonic() + WRITER_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StorageError(
                        f"data_ref `{name}` is still being written by another call.",
                        hint="Try again in a moment.",
                    ) from None
                time.sleep(0.005)
            except OSError:
                return  # no flock on this filesystem: writers here never publish early

    def get(self, name: str) -> pa.Table:
        """The ref's table, memory-mapped: cheap to open, paged in on use.

        The data is validated in full once per file version (~20 ms per 160 MB): a file
        damaged by hand must give an error, not crash the process in a compute kernel.
        """
        current = self._version(name)
        with self._lock:  # tools run on worker threads: one registry, many callers
            cached = self._tables.pop(name, None)
            if cached is not None and current is not None and cached[0] == current:
                self._tables[name] = cached  # back in, as the most recently used
                return cached[1]
        reader, key = self._open_reader(name)
        try:
            table = reader.read_all()
            if self._validated.get(name) != key:
                table.validate(full=True)
                self._validated[name] = key
        except (pa.ArrowInvalid, OSError) as exc:
            raise self._damaged(name, exc) from exc
        # Keep the mapping: a new one per call pays a page fault per 4 KB touched again
        # (~0.1-0.3 s for a 330 MB ref here), the same pages already in memory.
        with self._lock:
            self._tables[name] = (key, table)
            while len(self._tables) > OPEN_TABLES:
                self._tables.pop(next(iter(self._tables)))
        return table

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
            return _version_of(self.path(name).stat())
        except OSError:
            return None

    def _damaged(self, name: str, exc: Exception) -> CorruptRefError:
        """The one error for a ref file that exists but cannot be read as valid Arrow."""
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
            raise self._storage_error("read", exc) from exc
        cached = self._info_cache.get(name)
        if cached and cached[0] == _version_of(st):
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
        self._info_cache[name] = (key, info)
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
        held = _open_for_release(path)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            raise self._not_found(name) from None
        except OSError as exc:
            raise self._storage_error("delete", exc) from exc
        finally:
            if held is not None:
                FLUSHER.submit(partial(os.close, held))
        self._info_cache.pop(name, None)
        self._validated.pop(name, None)
        with self._lock:
            self._tables.pop(name, None)
        return info

    def remove_stale_temps(self) -> int:
        """Remove temp files of dead processes (or older than a day)."""
        removed = 0
        if not self.root.is_dir():
            return 0
        now = time.time()
        for p in self.root.glob(f"{TEMP_PREFIX}*"):
            try:
                pid = int(p.name[len(TEMP_PREFIX) :].split("-", 1)[0])
            except ValueError:
                pid = -1
            try:
                old = now - p.stat().st_mtime > STALE_TEMP_SECONDS
            except OSError:
                continue
            if old or (pid > 0 and not _pid_alive(pid)) or pid == -1:
                with contextlib.suppress(OSError):
                    p.unlink()
                    removed += 1
        return removed

    # -- helpers -------------------------------------------------------------
    def _temp_path(self) -> Path:
        return self.root / f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}{SUFFIX}"

    @staticmethod
    def _with_metadata(schema: pa.Schema, source: str) -> pa.Schema:
        meta = {
            k: v
            for k, v in (schema.metadata or {}).items()
            if k not in (b"pandas", META_SOURCE, META_CREATED)
        }
        meta[META_SOURCE] = source.encode()
        meta[META_CREATED] = datetime.now(UTC).isoformat(timespec="seconds").encode()
        return schema.with_metadata(meta)

    def _not_found(self, name: str) -> NotFoundError:
        names = self.names()
        return NotFoundError(
            f"No data_ref named `{name}`.{did_you_mean(name, names)}",
            hint=f"Existing refs: {list_for_message(names)}. Use list_data to see them all.",
        )

    @staticmethod
    def _exists_error(name: str) -> AlreadyExistsError:
        return AlreadyExistsError(
            f"data_ref `{name}` already exists.",
            hint="Pass overwrite=true to replace it, or choose another name.",
        )

    def _storage_error(self, action: str, exc: OSError) -> StorageError:
        reason = exc.strerror or str(exc)
        return StorageError(
            f"Cannot {action} in the data registry folder {self.root}: {reason}.",
            hint="Make the folder writable, free disk space, or set DATA_PLATFORM_REGISTRY_DIR "
            "to another folder.",
        )


class ValidatedReader:
    """A ref's batches by index, each fully validated before anyone computes on it."""

    def __init__(self, registry: Registry, name: str, reader: ipc.RecordBatchFileReader):
        self._registry = registry
        self._name = name
        self._reader = reader
        self.num_record_batches = reader.num_record_batches
        self.schema = reader.schema

    def get_batch(self, i: int) -> pa.RecordBatch:
        try:
            batch = self._reader.get_batch(i)
            batch.validate(full=True)
        except (pa.ArrowInvalid, OSError) as exc:
            raise self._registry._damaged(self._name, exc) from exc
        return batch


class _WriterHandle:
    """What `Registry.writer` yields: `write(...)`, then `.info` after the block."""

    def __init__(self, writer: RefWriter):
        self._writer = writer
        self.info: RefInfo | None = None

    @property
    def name(self) -> str:
        return self._writer.name

    @property
    def rows(self) -> int:
        return self._writer.rows

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        self._writer.write(data)
