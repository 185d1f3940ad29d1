"""Operations on refs: each reads memory-mapped refs and stores its result as a new ref.

Engines were chosen by measurement (bench/bench_frames.py): pyarrow's Acero
for groupby and join (fastest here), the locked-down DuckDB for filter and
SQL (a safe, complete SQL dialect; zero-copy over Arrow), pyarrow for select,
sort, sample and head/tail (slicing a memory-mapped file reads only what it
shows).
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from data_platform import work
from data_platform.errors import ExpressionError, InputError, NotFoundError
from data_platform.frames import engine
from data_platform.frames.expr import compile_filter, evaluate, null_note, resolve_column
from data_platform.registry import Ingested, RefInfo, Registry, Target, ingest
from data_platform.render import trim_cells


@dataclass
class Output:
    """Where an op's result goes."""

    name: str | None = None
    overwrite: bool = False


@dataclass
class OpResult:
    """A new ref from a reader or an operation, with its preview-sized head and notes."""

    info: RefInfo
    head: pa.Table
    notes: list[str] = field(default_factory=list)
    scan: object = None  # a dataset read's counts (lakes.scanplan.ScanCounts)

    @classmethod
    def of(cls, done: Ingested) -> OpResult:
        return cls(done.info, done.preview, done.notes)


def store(registry: Registry, table: pa.Table, out: Output, default: str, source: str) -> OpResult:
    work.check()  # a sort or join computed whole cannot stop mid-kernel: a cancelled one stores nothing
    return OpResult.of(
        ingest([table], table.schema, Target(registry, out.name, out.overwrite, source, default))
    )


def store_stream(
    registry: Registry, reader: pa.RecordBatchReader, out: Output, default: str, source: str
) -> OpResult:
    """Store a result as it streams out of an engine: each batch is written while the next is computed."""
    batches = iter(reader)
    first = next(batches, None)  # an engine's error surfaces here, before anything is written
    # (pyarrow 26 segfaults reading the schema of an Acero reader whose plan failed to start)
    if first is None:
        return store(registry, reader.schema.empty_table(), out, default, source)
    target = Target(registry, out.name, out.overwrite, source, default)
    return OpResult.of(ingest(itertools.chain([first], batches), first.schema, target))


def columns_of(info: RefInfo) -> list[str]:
    return info.schema.names


def column(name: str, info: RefInfo) -> str:
    return resolve_column(name, columns_of(info), info.name)


# -- head / tail ------------------------------------------------------------------
def head(registry: Registry, ref: str, n: int) -> tuple[RefInfo, pa.Table]:
    """The first n rows, reading only the record batches that hold them."""
    info = registry.info(ref)
    got: list[pa.RecordBatch] = []
    rows = 0
    for b in registry.batches(ref) if n > 0 else ():
        got.append(b.slice(0, n - rows))
        rows += got[-1].num_rows
        if rows >= n:
            break  # before the next batch is read and validated
    return info, trim_cells(pa.Table.from_batches(got, schema=info.schema))


def tail(registry: Registry, ref: str, n: int) -> tuple[RefInfo, pa.Table]:
    """The last n rows; the file footer indexes batches, so only the last ones are read."""
    info = registry.info(ref)
    reader = registry.reader(ref)
    got: list[pa.RecordBatch] = []
    rows = 0
    for i in range(reader.num_record_batches - 1, -1, -1):
        if rows >= n:
            break
        b = reader.get_batch(i)
        take = min(n - rows, b.num_rows)
        got.insert(0, b.slice(b.num_rows - take, take))
        rows += take
    return info, trim_cells(pa.Table.from_batches(got, schema=info.schema))


def sort_nulls_last(table: pa.Table, keys: list[tuple[str, str]]) -> pa.Table:
    """`sort_by` with nulls last (per-key placement on pyarrow >= 25, the option before)."""
    try:
        return table.sort_by([(k, order, "at_end") for k, order in keys])
    except (TypeError, ValueError, pa.ArrowInvalid):
        return table.sort_by(keys, null_placement="at_end")


# -- filter / sql ----------------------------------------------------------------
def filter_rows(
    registry: Registry, ref: str, where: str, out: Output, *, sandbox: engine.Engine | None = None
) -> OpResult:
    """Rows of `ref` matching a safe expression (parsed by expr.py).

    Simple conditions (a column against literals: comparisons, IN, BETWEEN, IS NULL, and
    AND/OR/NOT of those) run on Arrow kernels, AND-ed parts one after the other (~2x faster
    than DuckDB here); everything else runs as SQL in the locked DuckDB, which defines the
    semantics both paths share (`sandbox`, or a throwaway one when not given).
    """
    info = registry.info(ref)
    compiled = compile_filter(where, columns_of(info), ref, {f.name: f.type for f in info.schema})
    table = registry.get(ref)
    result = evaluate(table, compiled)
    if result is None:
        types = ", ".join(f"{f.name} {f.type}" for f in info.schema if f.name in compiled.columns)
        with engine.scoped(sandbox) as eng, eng.over({"t": table}) as con:
            # DuckDB evaluates only the condition (insertion order is preserved); Arrow then takes the
            # rows, zero-copy for the columns DuckDB never had to convert: ~20% faster than SELECT *.
            hint = " ".join([f"Column types: {types}.", *compiled.notes])
            mask = eng.run(con, f"SELECT {compiled.sql} AS keep FROM t", hint=hint)
        if not pa.types.is_boolean(mask.schema.field(0).type):
            raise ExpressionError(
                f"The filter must be a condition (true/false); this one gives {mask.schema.field(0).type}.",
                hint="Compare it with something, e.g. amount > 100.",
            )
        result = table.filter(mask.column(0))
    res = store(registry, result, out, f"{ref}_filtered", f"filter {ref}: {where}"[:200])
    nulls = null_note(compiled, table)
    res.notes.extend(
        [*compiled.notes, *([nulls] if nulls else []), f"{result.num_rows:,} of {info.rows:,} rows matched."]
    )
    return res


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def sql(registry: Registry, query: str, out: Output, *, sandbox: engine.Engine | None = None) -> OpResult:
    """One SELECT over refs by name, in the locked DuckDB; each ref is a view named after it."""
    with engine.scoped(sandbox) as eng:
        return _sql(registry, query, out, eng)


def _sql(registry: Registry, query: str, out: Output, eng: engine.Engine) -> OpResult:
    text = eng.check_select(query)
    names = set(registry.names())
    words = {w for w in _WORD.findall(text)}
    lowered = {n.lower(): n for n in names}
    used = sorted({lowered[w.lower()] for w in words if w.lower() in lowered})
    tables = {n: registry.get(n) for n in used}
    with eng.over(tables) as con:
        try:
            result = eng.run(con, text)
        except ExpressionError as exc:
            if "does not exist" in exc.message and "Table" in exc.message:
                raise NotFoundError(
                    exc.message,
                    hint=f"Refs you can query by name: {', '.join(sorted(names)) or '(none yet)'}.",
                ) from None
            raise
    result = narrow_hugeints(result)
    default = used[0] + "_sql" if used else "sql_result"
    return store(registry, result, out, default, f"sql: {' '.join(text.split())}"[:200])


# -- select / sort / sample -------------------------------------------------------
def select(
    registry: Registry, ref: str, columns: Sequence[str], rename: dict[str, str] | None, out: Output
) -> OpResult:
    info = registry.info(ref)
    if not columns:
        raise InputError(
            "Give at least one column.", hint=f"Columns of `{ref}`: {', '.join(columns_of(info)[:30])}"
        )
    chosen = [column(c, info) for c in columns]
    rename = rename or {}
    for old in rename:
        if column(old, info) not in chosen:
            raise InputError(f'rename names "{old}", which is not among the selected columns.')
    resolved = {column(k, info): v for k, v in rename.items()}
    names = [resolved.get(c, c) for c in chosen]
    if len(set(names)) != len(names):
        raise InputError(f"The output would have duplicate column names: {names}.")
    table = registry.get(ref).select(chosen).rename_columns(names)
    return store(registry, table, out, f"{ref}_selected", f"select {ref}")


def sort(registry: Registry, ref: str, by: Sequence[str], out: Output) -> OpResult:
    """Sort by columns; a leading "-" on a column name sorts it descending. Nulls go last."""
    info = registry.info(ref)
    if not by:
        raise InputError("Give at least one column to sort by.")
    keys = []
    for c in by:
        desc = c.startswith("-") and c not in columns_of(info)
        keys.append((column(c[1:] if desc else c, info), "descending" if desc else "ascending"))
    table = registry.get(ref)
    try:
        result = sort_nulls_last(table, keys)
    except pa.ArrowNotImplementedError as exc:
        raise InputError(f"Cannot sort by these columns: {engine.first_line(exc)}") from None
    order = ", ".join(f"{k}{' desc' if d == 'descending' else ''}" for k, d in keys)
    return store(registry, result, out, f"{ref}_sorted", f"sort {ref} by {order}")


def sample(
    registry: Registry, ref: str, n: int | None, frac: float | None, seed: int | None, out: Output
) -> OpResult:
    info = registry.info(ref)
    if (n is None) == (frac is None):
        raise InputError("Give exactly one of n or frac.")
    k = n if n is not None else round(info.rows * (frac or 0))
    k = min(k, info.rows)
    seed = random.randrange(1_000_000) if seed is None else seed  # said in the answer, so it can be repeated
    picked = sorted(random.Random(seed).sample(range(info.rows), k))
    result = registry.get(ref).take(pa.array(picked, type=pa.int64()))
    res = store(registry, result, out, f"{ref}_sample", f"sample {ref} ({k} rows, seed {seed})")
    res.notes.append(
        f"{k:,} random rows of {info.rows:,}, in their original order (seed {seed}; pass it to repeat)."
    )
    return res


def narrow_hugeints(table: pa.Table) -> pa.Table:
    """DuckDB sums BIGINT into HUGEINT (decimal(38,0) in Arrow): back to int64 when every value fits."""
    for i, f in enumerate(table.schema):
        if f.type == pa.decimal128(38, 0):
            try:
                table = table.set_column(i, f.name, table.column(i).cast(pa.int64()))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
    return table
