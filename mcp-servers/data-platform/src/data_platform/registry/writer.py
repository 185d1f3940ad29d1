"""The writer: record batches copied into a ref's temp file by a thread, overlapping the producer.

A big ref whose blocks are all reserved may be published while this thread still copies the
last batches (up to WRITE_BEHIND bytes): it holds an exclusive flock on the file until the file is
whole, and every reader takes a shared flock before mapping it (docs/decisions.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.ipc as ipc

from data_platform.registry.durability import fallocate, in_background, trim
from data_platform.registry.names import temp_path, with_metadata

if TYPE_CHECKING:
    from data_platform.registry.store import RefInfo, Registry

WRITE_BEHIND = 256 << 20  # bytes a producer may run ahead of the writer thread
PREALLOCATE_FROM = 8 << 20  # refs smaller than this are written without reserving blocks


def version_of(st: os.stat_result) -> tuple[int, int, int]:
    """A file version: the inode, its last change and size (a replace or rewrite changes it)."""
    return (st.st_ino, st.st_mtime_ns, st.st_size)


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
        self.schema = with_metadata(schema, source)
        self.temp = temp_path(registry.root)
        self.rows = 0
        try:
            self._sink = pa.OSFile(str(self.temp), "wb")
            # Held until the last byte is written: readers of a ref published early wait on it.
            self._lock_fd = os.open(self.temp, os.O_RDONLY)
        except OSError as exc:
            raise registry.storage_error("write", exc) from exc
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
        self._drained = threading.Event()  # set when the writer thread is done with this file
        in_background(self._drain)

    _locked = False

    def _drain(self) -> None:
        try:
            self._copy()
        finally:
            self._drained.set()

    def _copy(self) -> None:
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
                raise self.registry.storage_error("write", exc) from exc
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
        if not self._drained.is_set():
            with self._cond:
                self._items.append(None)
                self._cond.notify_all()
            self._drained.wait()

    def _close_file(self) -> None:
        self._writer.close()
        self._sink.flush()
        if self._allocated > 0:  # the unused reserve goes: now when syncing, else after the answer
            if self.registry.sync_writes:
                os.ftruncate(self._sink.fileno(), self._sink.tell())
            else:
                self.registry.flusher.submit(partial(trim, os.dup(self._sink.fileno())))
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
            raise self.registry.storage_error("write", exc) from exc

    def finish_behind(
        self, on_done: Callable[[tuple[int, int, int] | None, BaseException | None], None]
    ) -> None:
        """The file is published: write the backlog, close, call `on_done(version, error)`, then
        unlock, all on the writer thread."""
        self.registry.flusher.behind(self._drained)
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
            key = version_of(os.fstat(self._lock_fd))
        try:
            on_done(key, error)  # before the unlock: a waiting reader then finds it validated
        finally:
            self.release()

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
            # Not from_pylist: converting Python objects makes pyarrow import pandas (~0.3 s).
            batch = pa.RecordBatch.from_arrays([pa.nulls(0, f.type) for f in self.schema], schema=self.schema)
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


class WriterHandle:
    """What `Registry.writer` yields: `write(...)`, then `.info` after the block."""

    def __init__(self, writer: RefWriter):
        self._writer = writer
        self.info: RefInfo | None = None

    @property
    def rows(self) -> int:
        return self._writer.rows

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        self._writer.write(data)
