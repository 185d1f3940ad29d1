"""Reading: what is known about a ref, waiting for its writer, and validated batches."""

from __future__ import annotations

import fcntl
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.ipc as ipc

from data_platform.errors import StorageError

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
