"""Publishing a ref: batches streamed to a temp file (writer.py), then given the ref's name.

A link refuses a name another process took meanwhile (an auto name moves on to the next free
one), a replace (overwrite) does not; nothing is published if the producer's block raises. A big
ref may be published while its writer thread still copies the last batches (`finish_behind`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from data_platform.errors import AlreadyExistsError, StorageError
from data_platform.registry.durability import open_for_release
from data_platform.registry.names import META_CREATED, exists_error, validate_name
from data_platform.registry.reading import RefInfo
from data_platform.registry.writer import RefWriter, WriterHandle

if TYPE_CHECKING:
    from data_platform.registry.store import Registry


@contextlib.contextmanager
def publish(
    registry: Registry,
    *,
    name: str | None,
    schema: pa.Schema,
    source: str,
    overwrite: bool = False,
    default_name: str = "data",
) -> Iterator[WriterHandle]:
    """`Registry.writer`: stream batches into a new ref, published when the block ends."""
    registry.ensure_root()
    auto = name is None
    target = registry.unique_name(default_name) if name is None else validate_name(name)
    if not auto and not overwrite and registry.exists(target):
        raise exists_error(target)
    writer = RefWriter(registry, target, schema, source, overwrite)
    handle = WriterHandle(writer)
    try:
        yield handle
    except BaseException:
        writer.abort()
        raise
    behind = not registry.sync_writes and writer.can_finish_behind()
    try:
        if not behind:
            writer.finish()
        for _ in range(1000):
            try:
                _link(registry, writer.temp, writer.name, overwrite)
                break
            except AlreadyExistsError:
                if not auto:
                    raise
                # Another process took the auto name between check and publish: take the next.
                writer.name = registry.unique_name(default_name)
        else:
            raise StorageError("Could not find a free ref name.")  # pragma: no cover
    except BaseException:
        writer.abort()
        raise
    writer.temp.unlink(missing_ok=True)  # after a link, the ref's own name holds the file
    registry.clear_failure(writer.name)
    if behind:
        # The rest is copied after the answer (the ref's lock makes every reader wait for it).
        handle.info = _info(registry, writer, source, writer.expected_size())
        writer.finish_behind(partial(registry.written, writer.name))
    else:
        writer.release()
        handle.info = registry.published(writer.name, partial(_info, registry, writer, source))


def _info(registry: Registry, writer: RefWriter, source: str, size: int) -> RefInfo:
    """What the writer knows of the ref it wrote: no need to open the file again to count rows."""
    return RefInfo(
        name=writer.name,
        path=registry.path(writer.name),
        rows=writer.rows,
        schema=writer.schema,
        size_bytes=size,
        source=source,
        created=datetime.fromisoformat(writer.schema.metadata[META_CREATED].decode()),
    )


def _link(registry: Registry, temp: Path, name: str, overwrite: bool) -> None:
    """Give the temp file the ref's name: a link refuses an existing name, a replace does not."""
    final = registry.path(name)
    old = open_for_release(final) if overwrite else None
    try:
        if overwrite:
            os.replace(temp, final)
        else:
            os.link(temp, final)
    except FileExistsError as exc:
        raise exists_error(name) from exc
    except OSError as exc:
        raise registry.storage_error("write", exc) from exc
    finally:
        if old is not None:
            registry.flusher.submit(partial(os.close, old))
