"""Reading: what is known about a ref, waiting for its writer, and validated batches."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.ipc as ipc

from data_platform.errors import StorageError
from data_platform.registry.writer import version_of

if TYPE_CHECKING:
    from data_platform.registry.store import Registry

WRITER_WAIT_S = 60.0  # how long a reader waits for a ref still being written


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


def wait_for_writer(fd: int, name: str) -> None:
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


VALIDATED_XATTR = "user.data-platform.validated"  # on a ref's file: the version validated in full


def validated_before(fd: int, version: tuple[int, int, int]) -> bool:
    """Whether this file version's data was validated in full by an earlier process (the stamp
    `stamp_validated` left on the file: its change time and size, the inode being the file's own)."""
    try:
        return os.getxattr(fd, VALIDATED_XATTR) == _stamp(version)
    except OSError:  # no stamp, or a file system without user attributes
        return False


def stamp_validated(path: Path, version: tuple[int, int, int]) -> None:
    """Remember on the file that this version was validated in full, so a later process (a fresh
    server) skips it (~0.1 s a 300 MB ref). Run behind the answer (the registry's flusher): the file
    is fsynced first, so no stamp outlives data a crash lost. A write to the file changes its
    version and so voids the stamp; a file no longer of that version is left alone; a file system
    or file that refuses user attributes just means no stamp."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            if version_of(os.fstat(fd)) == version:
                os.fsync(fd)
                os.setxattr(fd, VALIDATED_XATTR, _stamp(version))
        finally:
            os.close(fd)


def _stamp(version: tuple[int, int, int]) -> bytes:
    _, mtime_ns, size = version
    return f"{mtime_ns}:{size}".encode()


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
