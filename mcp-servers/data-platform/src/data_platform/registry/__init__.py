"""The data registry: named Arrow tables that outlive tool calls and restarts.

Each ref is one Arrow IPC file, `<name>.arrow`, in the registry folder. Its metadata (source,
creation time) lives in the file's own schema metadata and the rest (rows, columns, size) is read
from the file, so a ref is exactly one file and is either wholly there or absent:

* writes go to a temp file in the same folder, then published by `os.link` (fails if the name
  exists: no silent overwrite, even between two processes) or `os.replace` (when overwriting was
  asked for); a writer thread copies batches to the file while the producer computes the next;
* a big ref whose blocks are all reserved is published while the writer thread still copies the
  last batches (up to WRITE_BEHIND bytes): the writer holds an exclusive flock on the file until
  it is whole, and every reader, in any process, takes a shared flock before mapping it;
* a published ref is flushed to disk (fsync) by the registry's own background queue right after,
  or before answering with `sync_writes` (docs/decisions.md: the disk here writes ~600 MB/s, slower
  than the engines produce data); a clean exit, `Registry.close` (server shutdown) and SIGTERM in
  `serve` wait for both;
* reads are memory-mapped, so a large ref costs pages, not heap, and a reader keeps its view even
  if another process replaces or drops the file; a file version's data is validated once, through
  a mapping dropped after, so only the pages a tool reads stay resident, and the file keeps a stamp
  of that version (a user attribute) so later processes skip it (`Registry.column` reads one
  column through a mapping of its own, for passes over one column at a time);
* temp files left by a killed process are removed the next time a registry opens the folder.

Modules, by concern: `names` (names, temp files, the "exists" error), `writer` (the writer
thread), `publish` (a written temp file given its ref's name), `durability` (the flusher, fsync,
fallocate), `reading` (ref info, waiting for a writer, validated batches), `store` (the
`Registry`), `ingest` (the one path every new ref takes).
"""

from data_platform.registry.ingest import Guard, Ingested, Target, guard_error, ingest
from data_platform.registry.names import exists_error, suggest_name, validate_name
from data_platform.registry.reading import RefInfo, ValidatedReader
from data_platform.registry.store import Registry
from data_platform.registry.writer import RefWriter

__all__ = [
    "Guard",
    "Ingested",
    "RefInfo",
    "RefWriter",
    "Registry",
    "Target",
    "ValidatedReader",
    "exists_error",
    "guard_error",
    "ingest",
    "suggest_name",
    "validate_name",
]
