"""One ingest path: a stream of batches into a new ref, under the row guard, with its preview.

Readers (read_csv, read_json, read_parquet), frame operations and pg_query all store their
results here, so the naming, the "already exists" and row-guard errors with their hints, and the
preview's limits are the same wherever a ref comes from. A ref's column names are unique: a result
repeating one (`SELECT 1 AS x, 2 AS x`, a CSV header `a,a`) is stored as DuckDB's CREATE TABLE AS
stores it (x, x_1), and the answer says so; by name, no tool could tell those columns apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa

from data_platform import work
from data_platform.errors import GuardError
from data_platform.registry.names import exists_error, unique_names
from data_platform.render import PREVIEW_ROWS, preview, trim_cells

if TYPE_CHECKING:
    from data_platform.registry.store import RefInfo, Registry

GUARD_PREVIEW_ROWS = 5  # rows shown in a row-guard error


@dataclass
class Target:
    """Where a new ref goes: the registry, a name (None: a free one from `default_name`),
    whether an existing ref of that name is replaced, and what the ref came from."""

    registry: Registry
    name: str | None
    overwrite: bool
    source: str
    default_name: str

    def check(self) -> None:
        """Refuse a taken name before any work is done (publishing refuses it again, atomically)."""
        if self.name is not None and not self.overwrite and self.registry.exists(self.name):
            raise exists_error(self.name)


@dataclass(frozen=True)
class Guard:
    """The row guard on one load: at most `max_rows` rows are materialised in one go.

    `what` names the source in the message. `exact`: the rest of the source is counted for the
    message (a file: cheap), else the load stops at the guard (a query: the server is told to stop).
    `chunk_size`: the source can stream all of it into a disk-backed ref (file readers).
    `narrow`: how to load less of it.
    """

    max_rows: int
    what: str
    exact: bool = True
    chunk_size: bool = True
    narrow: str = "nrows=N for the first N rows"


@dataclass
class Ingested:
    """The new ref and its first rows as stored (at most PREVIEW_ROWS)."""

    info: RefInfo
    head: pa.Table
    notes: list[str] = field(default_factory=list)

    @property
    def preview(self) -> pa.Table:
        """The head cut to preview size (columns and long cells), for structured output."""
        return trim_cells(self.head)


def guard_error(rows: int, head: pa.Table, guard: Guard) -> GuardError:
    """The one row-guard error: the count, a preview, and every way on."""
    n = min(GUARD_PREVIEW_ROWS, guard.max_rows)
    text, _ = preview(head.slice(0, n), n)
    count = f"{rows:,}" if guard.exact else f"more than {guard.max_rows:,}"
    whole = f"max_rows={rows}" if guard.exact else f"max_rows=N above {guard.max_rows}"
    if guard.chunk_size:
        suggested = 100_000 if rows > 1_000_000 else 50_000
        load_all = (
            f"pass chunk_size={suggested} (streams into one disk-backed ref, bounded memory) "
            f"or {whole} (loads in one go, needs memory)"
        )
    else:
        load_all = f"pass {whole}"
    return GuardError(
        f"{guard.what} has {count} rows, over the row guard of {guard.max_rows:,}; nothing was loaded. "
        f"First rows:\n{text}\n",
        hint=f"To load it all, {load_all}; or {guard.narrow}. DATA_PLATFORM_MAX_ROWS sets the default guard.",
        details={"rows": rows, "max_rows": guard.max_rows},
    )


def ingest(
    batches: Iterable[pa.RecordBatch | pa.Table],
    schema: pa.Schema,
    target: Target,
    *,
    guard: Guard | None = None,
    fix: Callable[[pa.Table], pa.Table] | None = None,
    chunk_size: int | None = None,
    nrows: int | None = None,
) -> Ingested:
    """Write batches straight into a new ref on disk, so memory holds one batch, not the source.

    Each one is written while the producer computes the next. `fix` converts each (types), `nrows`
    stops after that many rows, `chunk_size` re-cuts what is written. Past the guard the half-written
    ref is discarded (nothing is published) and GuardError is raised.
    """
    target.check()
    out_schema = fix(pa.Table.from_batches([], schema=schema)).schema if fix is not None else schema
    names, renamed = unique_names(out_schema.names)
    if renamed:
        fix = _renaming(fix, names)
        out_schema = pa.schema([f.with_name(n) for f, n in zip(out_schema, names, strict=True)])
    items = _capped(iter(batches), nrows)
    head: list[pa.Table] = []
    seen = 0
    with target.registry.writer(
        name=target.name,
        schema=out_schema,
        source=target.source,
        overwrite=target.overwrite,
        default_name=target.default_name,
    ) as w:
        for item in items:
            work.check()  # a cancelled call stops here: the writer discards its file
            table = item if isinstance(item, pa.Table) else pa.Table.from_batches([item])
            if fix is not None:
                table = item = fix(table)
            if seen < PREVIEW_ROWS:
                head.append(table.slice(0, PREVIEW_ROWS - seen))
                seen += head[-1].num_rows
            if guard is not None and w.rows + table.num_rows > guard.max_rows:
                rest = sum(r.num_rows for r in items) if guard.exact else 0
                total = w.rows + table.num_rows + rest
                raise guard_error(total, _concat(head, out_schema), guard)  # the writer discards its file
            if chunk_size:
                for piece in table.to_batches(max_chunksize=chunk_size):
                    w.write(piece)
            else:
                w.write(item)
            work.rows_done(w.rows)
        work.check()  # cancelled while the last batch was written: still nothing published
    assert w.info is not None
    return Ingested(w.info, _concat(head, out_schema), [renamed] if renamed else [])


def _renaming(fix: Callable[[pa.Table], pa.Table] | None, names: list[str]) -> Callable[[pa.Table], pa.Table]:
    def renamed(table: pa.Table) -> pa.Table:
        return (fix(table) if fix is not None else table).rename_columns(names)

    return renamed


def _capped(
    items: Iterator[pa.RecordBatch | pa.Table], nrows: int | None
) -> Iterator[pa.RecordBatch | pa.Table]:
    if nrows is None:
        yield from items
        return
    seen = 0
    for item in items:
        if seen + item.num_rows >= nrows:
            yield item.slice(0, nrows - seen)
            return
        seen += item.num_rows
        yield item


def _concat(parts: list[pa.Table], schema: pa.Schema) -> pa.Table:
    if not parts:
        return schema.empty_table()
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts)
