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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.acero as acero
import pyarrow.compute as pc

from data_platform.errors import ExpressionError, InputError, NotFoundError
from data_platform.frames import engine
from data_platform.frames.aggspec import parse_aggs
from data_platform.frames.expr import compile_filter, evaluate, null_note, resolve_column
from data_platform.frames.types import is_numeric
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

    @classmethod
    def of(cls, done: Ingested) -> OpResult:
        return cls(done.info, done.preview, done.notes)


def _store(registry: Registry, table: pa.Table, out: Output, default: str, source: str) -> OpResult:
    return OpResult.of(
        ingest([table], table.schema, Target(registry, out.name, out.overwrite, source, default))
    )


def _store_stream(
    registry: Registry, reader: pa.RecordBatchReader, out: Output, default: str, source: str
) -> OpResult:
    """Store a result as it streams out of an engine: each batch is written while the next is computed."""
    batches = iter(reader)
    first = next(batches, None)  # an engine's error surfaces here, before anything is written
    # (pyarrow 26 segfaults reading the schema of an Acero reader whose plan failed to start)
    if first is None:
        return _store(registry, reader.schema.empty_table(), out, default, source)
    target = Target(registry, out.name, out.overwrite, source, default)
    return OpResult.of(ingest(itertools.chain([first], batches), first.schema, target))


def _columns(info: RefInfo) -> list[str]:
    return info.schema.names


def _col(name: str, info: RefInfo) -> str:
    return resolve_column(name, _columns(info), info.name)


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
    compiled = compile_filter(where, _columns(info), ref, {f.name: f.type for f in info.schema})
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
    res = _store(registry, result, out, f"{ref}_filtered", f"filter {ref}: {where}"[:200])
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
    return _store(registry, result, out, default, f"sql: {' '.join(text.split())}"[:200])


# -- select / sort / sample -------------------------------------------------------
def select(
    registry: Registry, ref: str, columns: Sequence[str], rename: dict[str, str] | None, out: Output
) -> OpResult:
    info = registry.info(ref)
    if not columns:
        raise InputError(
            "Give at least one column.", hint=f"Columns of `{ref}`: {', '.join(_columns(info)[:30])}"
        )
    chosen = [_col(c, info) for c in columns]
    rename = rename or {}
    for old in rename:
        if _col(old, info) not in chosen:
            raise InputError(f'rename names "{old}", which is not among the selected columns.')
    resolved = {_col(k, info): v for k, v in rename.items()}
    names = [resolved.get(c, c) for c in chosen]
    if len(set(names)) != len(names):
        raise InputError(f"The output would have duplicate column names: {names}.")
    table = registry.get(ref).select(chosen).rename_columns(names)
    return _store(registry, table, out, f"{ref}_selected", f"select {ref}")


def sort(registry: Registry, ref: str, by: Sequence[str], out: Output) -> OpResult:
    """Sort by columns; a leading "-" on a column name sorts it descending. Nulls go last."""
    info = registry.info(ref)
    if not by:
        raise InputError("Give at least one column to sort by.")
    keys = []
    for c in by:
        desc = c.startswith("-") and c not in _columns(info)
        keys.append((_col(c[1:] if desc else c, info), "descending" if desc else "ascending"))
    table = registry.get(ref)
    try:
        result = sort_nulls_last(table, keys)
    except pa.ArrowNotImplementedError as exc:
        raise InputError(f"Cannot sort by these columns: {engine.first_line(exc)}") from None
    order = ", ".join(f"{k}{' desc' if d == 'descending' else ''}" for k, d in keys)
    return _store(registry, result, out, f"{ref}_sorted", f"sort {ref} by {order}")


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
    res = _store(registry, result, out, f"{ref}_sample", f"sample {ref} ({k} rows, seed {seed})")
    res.notes.append(
        f"{k:,} random rows of {info.rows:,}, in their original order (seed {seed}; pass it to repeat)."
    )
    return res


# -- groupby -----------------------------------------------------------------------
_ARROW_AGG = {
    "sum": "sum",
    "mean": "mean",
    "min": "min",
    "max": "max",
    "count_distinct": "count_distinct",
    "first": "first",
    "last": "last",
}
_SQL_AGG = {
    "sum": "sum({c})",
    "mean": "avg({c})",
    "min": "min({c})",
    "max": "max({c})",
    "count": "count({c})",
    "size": "count(*)",
    "count_distinct": "count(DISTINCT {c})",
    "median": "median({c})",
    "std": "stddev_samp({c})",
    "var": "var_samp({c})",
    "first": "arg_min({c}, __row)",
    "last": "arg_max({c}, __row)",
}


def groupby(
    registry: Registry,
    ref: str,
    by: Sequence[str],
    aggs: Mapping[str, object],
    out: Output,
    *,
    sandbox: engine.Engine | None = None,
) -> OpResult:
    """Group by key columns; aggs in our form or pandas' (frames/aggspec.py), told back in notes."""
    info = registry.info(ref)
    keys = [_col(k, info) for k in by]
    if not keys:
        raise InputError("Give at least one column to group by.")
    specs, notes = parse_aggs(aggs, info)
    clash = [o for o, _, _ in specs if o in keys]
    if clash:
        raise InputError(
            f"Output name {clash[0]!r} is also a group key; choose another name.",
            hint=f'e.g. {{"n_{clash[0]}": ["{clash[0]}", "count"]}}.',
        )
    table = registry.get(ref)
    if all(f != "median" for _, f, _ in specs):
        try:
            result = _groupby_arrow(table, keys, specs)
        except (pa.ArrowNotImplementedError, pa.ArrowTypeError):
            result = _groupby_duckdb(table, keys, specs, sandbox)
    else:
        result = _groupby_duckdb(table, keys, specs, sandbox)
    result = sort_nulls_last(result, [(k, "ascending") for k in keys])
    base = f"{ref}_by_{'_'.join(keys)}"
    res = _store(registry, result, out, base[:48], f"groupby {ref} by {', '.join(keys)}")
    res.notes.extend([*notes, f"{result.num_rows:,} groups."])
    return res


def _groupby_arrow(table: pa.Table, keys: list[str], specs: list[tuple[str, str, str | None]]) -> pa.Table:
    ordered = any(f in ("first", "last") for _, f, _ in specs)
    aggregations: list[tuple] = []
    for _, func, col in specs:
        if col is None:
            aggregations.append(([], "count_all"))
        elif func == "std":
            aggregations.append((col, "stddev", pc.VarianceOptions(ddof=1)))
        elif func == "var":
            aggregations.append((col, "variance", pc.VarianceOptions(ddof=1)))
        elif func == "count":
            aggregations.append((col, "count", pc.CountOptions(mode="only_valid")))
        else:
            aggregations.append((col, _ARROW_AGG[func]))
    needed = sorted({c for _, _, c in specs if c} | set(keys), key=table.column_names.index)
    result = table.select(needed).group_by(keys, use_threads=not ordered).aggregate(aggregations)
    # Acero names outputs "<col>_<func>" after the keys' position; rebuild in our order.
    agg_cols = result.columns[: len(specs)] if result.column_names[0] not in keys else None
    if agg_cols is None:
        agg_cols = result.columns[len(keys) :]
        key_cols = result.columns[: len(keys)]
    else:
        key_cols = [result.column(k) for k in keys]
    return pa.table(list(key_cols) + list(agg_cols), names=keys + [o for o, _, _ in specs])


def _groupby_duckdb(
    table: pa.Table, keys: list[str], specs: list[tuple[str, str, str | None]], sandbox: engine.Engine | None
) -> pa.Table:
    if any(f in ("first", "last") for _, f, _ in specs):
        table = table.append_column("__row", pa.array(range(table.num_rows), type=pa.int64()))
    q = engine.quote_ident
    select = [q(k) for k in keys] + [
        (_SQL_AGG[f].format(c=q(c)) if c else "count(*)") + f" AS {q(o)}" for o, f, c in specs
    ]
    sql_text = f"SELECT {', '.join(select)} FROM t GROUP BY {', '.join(q(k) for k in keys)}"
    with engine.scoped(sandbox) as eng, eng.over({"t": table}) as con:
        return narrow_hugeints(eng.run(con, sql_text))


def narrow_hugeints(table: pa.Table) -> pa.Table:
    """DuckDB sums BIGINT into HUGEINT (decimal(38,0) in Arrow): back to int64 when every value fits."""
    for i, f in enumerate(table.schema):
        if f.type == pa.decimal128(38, 0):
            try:
                table = table.set_column(i, f.name, table.column(i).cast(pa.int64()))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
    return table


# -- join ----------------------------------------------------------------------------
JOIN_TYPES = {
    "inner": "inner",
    "left": "left outer",
    "right": "right outer",
    "outer": "full outer",
    "semi": "left semi",
    "anti": "left anti",
}


def join(
    registry: Registry,
    left: str,
    right: str,
    *,
    on: Sequence[str] | None,
    left_on: Sequence[str] | None,
    right_on: Sequence[str] | None,
    how: str,
    suffixes: tuple[str, str],
    out: Output,
    sandbox: engine.Engine | None = None,
) -> OpResult:
    linfo, rinfo = registry.info(left), registry.info(right)
    if on:
        if left_on or right_on:
            raise InputError("Give either on, or left_on and right_on, not both.")
        lkeys = [_col(k, linfo) for k in on]
        rkeys = [_col(k, rinfo) for k in on]
    elif left_on and right_on:
        if len(left_on) != len(right_on):
            raise InputError(f"left_on has {len(left_on)} columns but right_on has {len(right_on)}.")
        lkeys = [_col(k, linfo) for k in left_on]
        rkeys = [_col(k, rinfo) for k in right_on]
    else:
        common = [c for c in linfo.schema.names if c in rinfo.schema.names]
        raise InputError(
            "Say which columns to join on: on=[...] or left_on=[...] with right_on=[...].",
            hint=f"Columns in both refs: {', '.join(common) or '(none)'}.",
        )
    for lk, rk in zip(lkeys, rkeys, strict=True):
        lt, rt = linfo.schema.field(lk).type, rinfo.schema.field(rk).type
        if lt != rt and not (is_numeric(lt) and is_numeric(rt)) and not (_textual(lt) and _textual(rt)):
            raise InputError(
                f'Join keys have different types: "{lk}" is {lt} in `{left}`, "{rk}" is {rt} in `{right}`.',
                hint="Convert one side first, e.g. with sql: SELECT CAST(id AS BIGINT) AS id, ... FROM ...",
            )
    if len(suffixes) != 2 or suffixes[0] == suffixes[1]:
        raise InputError('suffixes must be two different strings, e.g. ["_x", "_y"].')
    ltab, rtab = registry.get(left), registry.get(right)
    if left == right:
        rtab = pa.Table.from_batches(rtab.to_batches(), schema=rtab.schema)
    source = f"join {left} {how} {right}"
    default = f"{left}_{right}"[:48]
    try:
        if not _acero_can_carry(ltab.schema, rtab.schema):
            raise pa.ArrowNotImplementedError("nested or extension columns")
        # An outer join coalesces both sides' keys, which needs the whole result anyway.
        if how == "outer" or _fits_in_memory(ltab, rtab, lkeys, rkeys, how):
            joined = ltab.join(
                rtab, keys=lkeys, right_keys=rkeys, join_type=JOIN_TYPES[how],
                left_suffix=suffixes[0] or None, right_suffix=suffixes[1] or None, coalesce_keys=True,
            )  # fmt: skip
            res = _store(registry, joined, out, default, source)
        else:
            reader = _join_reader(ltab, rtab, lkeys, rkeys, how, suffixes)
            res = _store_stream(registry, reader, out, default, source)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        # Types Acero cannot carry through a join (e.g. nested columns); nothing was stored.
        joined = _join_duckdb(ltab, rtab, lkeys, rkeys, how, suffixes, sandbox)
        res = _store(registry, joined, out, default, source)
    pairs = ", ".join(a if a == b else f"{a}={b}" for a, b in zip(lkeys, rkeys, strict=True))
    res.notes.append(f"{how} join on {pairs}: {res.info.rows:,} rows.")
    return res


JOIN_IN_MEMORY = 1 << 30  # bytes a join result may have to be computed whole, then stored


def _fits_in_memory(ltab: pa.Table, rtab: pa.Table, lkeys: list[str], rkeys: list[str], how: str) -> bool:
    """True when the result is sure to be small: each row of the kept side matches at most one
    row of the other (unique keys there, the usual fact-to-dimension join) and the result is
    under JOIN_IN_MEMORY. Computed whole, it is ~1.2x faster than streamed (Acero's reader) and
    the registry copies it after the answer; a join that may multiply rows streams instead."""
    if how == "semi" or how == "anti":
        return ltab.nbytes <= JOIN_IN_MEMORY
    kept, other, other_keys = (rtab, ltab, lkeys) if how == "right" else (ltab, rtab, rkeys)
    if other.num_rows and kept.nbytes + other.nbytes / other.num_rows * kept.num_rows > JOIN_IN_MEMORY:
        return False
    keys = other.select(other_keys)
    if len(other_keys) == 1:
        distinct = pc.count_distinct(keys.column(0), mode="all").as_py()
    else:
        distinct = keys.group_by(other_keys).aggregate([]).num_rows
    return distinct == other.num_rows


def _acero_can_carry(*schemas: pa.Schema) -> bool:
    """Acero's hash join refuses nested and extension columns: those go to DuckDB."""
    return not any(
        pa.types.is_nested(f.type) or isinstance(f.type, pa.BaseExtensionType) for s in schemas for f in s
    )


def _join_reader(
    ltab: pa.Table, rtab: pa.Table, lkeys: list[str], rkeys: list[str], how: str, suffixes: tuple[str, str]
) -> pa.RecordBatchReader:
    """Acero's hash join as a stream of batches, keys coalesced as `Table.join` does (not for
    outer joins). For joins that may multiply rows: memory stays bounded by the writer's backlog."""
    lcols, rcols = ltab.column_names, rtab.column_names
    if how in ("semi", "anti"):
        rcols = []
    elif how == "right":
        lcols = [c for c in lcols if c not in lkeys]
    else:
        rcols = [c for c in rcols if c not in rkeys]
    options = acero.HashJoinNodeOptions(
        JOIN_TYPES[how], lkeys, rkeys, lcols, rcols,
        output_suffix_for_left=suffixes[0], output_suffix_for_right=suffixes[1],
    )  # fmt: skip
    sources = [acero.Declaration("table_source", acero.TableSourceNodeOptions(t)) for t in (ltab, rtab)]
    return acero.Declaration("hashjoin", options, inputs=sources).to_reader(use_threads=True)


def _textual(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _join_duckdb(
    ltab: pa.Table,
    rtab: pa.Table,
    lkeys: list[str],
    rkeys: list[str],
    how: str,
    suffixes: tuple[str, str],
    sandbox: engine.Engine | None,
) -> pa.Table:
    """Fallback for types Acero cannot carry through a join (e.g. nested columns)."""
    q = engine.quote_ident
    cond = " AND ".join(f"l.{q(a)} = r.{q(b)}" for a, b in zip(lkeys, rkeys, strict=True))
    kind = {
        "inner": "INNER",
        "left": "LEFT",
        "right": "RIGHT",
        "outer": "FULL OUTER",
        "semi": "SEMI",
        "anti": "ANTI",
    }[how]
    cols = []
    rnames = set(rtab.column_names)
    lnames = set(ltab.column_names)
    for c in ltab.column_names:
        if c in lkeys and how in ("right", "outer"):
            i = lkeys.index(c)
            cols.append(f"coalesce(l.{q(c)}, r.{q(rkeys[i])}) AS {q(c)}")
        elif c in rnames and c not in lkeys and how not in ("semi", "anti"):
            cols.append(f"l.{q(c)} AS {q(c + suffixes[0])}")
        else:
            cols.append(f"l.{q(c)}")
    if how not in ("semi", "anti"):
        for c in rtab.column_names:
            if c in rkeys and lkeys[rkeys.index(c)] == c:
                continue
            cols.append(f"r.{q(c)} AS {q(c + suffixes[1] if c in lnames else c)}")
    sql_text = f"SELECT {', '.join(cols)} FROM l {kind} JOIN r ON {cond}"
    with engine.scoped(sandbox) as eng, eng.over({"l": ltab, "r": rtab}) as con:
        return eng.run(con, sql_text)
