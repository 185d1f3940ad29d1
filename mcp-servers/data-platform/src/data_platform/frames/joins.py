"""join: Acero's hash join, streamed into the ref; DuckDB where Acero cannot carry the columns.

A join that cannot multiply rows is computed whole and stored after the answer
(measured faster); others stream with bounded memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.acero as acero

from data_platform.errors import InputError
from data_platform.frames import engine, joinkeys
from data_platform.frames.ops import OpResult, Output, column, store, store_stream
from data_platform.frames.types import is_numeric
from data_platform.registry import Registry

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
    validate: str | None = None,
    sandbox: engine.Engine | None = None,
) -> OpResult:
    validate = joinkeys.validate_name(validate)
    linfo, rinfo = registry.info(left), registry.info(right)
    if on:
        if left_on or right_on:
            raise InputError("Give either on, or left_on and right_on, not both.")
        lkeys = [column(k, linfo) for k in on]
        rkeys = [column(k, rinfo) for k in on]
    elif left_on and right_on:
        if len(left_on) != len(right_on):
            raise InputError(f"left_on has {len(left_on)} columns but right_on has {len(right_on)}.")
        lkeys = [column(k, linfo) for k in left_on]
        rkeys = [column(k, rinfo) for k in right_on]
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
    left_kept = how != "right"  # the side every row of which is in the result
    kept, other = ((ltab, lkeys), (rtab, rkeys)) if left_kept else ((rtab, rkeys), (ltab, lkeys))
    with ThreadPoolExecutor(max_workers=1) as counting:
        # The kept side's repeats (often a big fact table's) only go into the answer, unless
        # validate checks them: counted on a thread while the join runs (~20% of its time).
        against = other if how not in ("semi", "anti") else None  # and the kept rows that match nothing
        kept_counted = counting.submit(joinkeys.repeats, *kept, False, against)
        other_rep = joinkeys.repeats(*other)
        if validate is not None:
            reps = (kept_counted.result(), other_rep) if left_kept else (other_rep, kept_counted.result())
            joinkeys.check(validate, left, right, *reps)
        if left == right:
            rtab = pa.Table.from_batches(rtab.to_batches(), schema=rtab.schema)
        source = f"join {left} {how} {right}"
        default = f"{left}_{right}"[:48]
        try:
            if not _acero_can_carry(ltab.schema, rtab.schema):
                raise pa.ArrowNotImplementedError("nested or extension columns")
            # An outer join coalesces both sides' keys, which needs the whole result anyway.
            if how == "outer" or _fits_in_memory(ltab, rtab, other_rep, how):
                joined = ltab.join(
                    rtab, keys=lkeys, right_keys=rkeys, join_type=JOIN_TYPES[how],
                    left_suffix=suffixes[0] or None, right_suffix=suffixes[1] or None, coalesce_keys=True,
                )  # fmt: skip
                res = store(registry, joined, out, default, source)
            else:
                reader = _join_reader(ltab, rtab, lkeys, rkeys, how, suffixes)
                res = store_stream(registry, reader, out, default, source)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
            # Types Acero cannot carry through a join (e.g. nested columns); nothing was stored.
            joined = _join_duckdb(ltab, rtab, lkeys, rkeys, how, suffixes, sandbox)
            res = store(registry, joined, out, default, source)
        lrep, rrep = (kept_counted.result(), other_rep) if left_kept else (other_rep, kept_counted.result())
    pairs = ", ".join(a if a == b else f"{a}={b}" for a, b in zip(lkeys, rkeys, strict=True))
    rows = (ltab.num_rows, rtab.num_rows, res.info.rows)
    res.notes.append(joinkeys.summary(how, pairs, left, right, *rows, lrep, rrep))
    return res


JOIN_IN_MEMORY = 1 << 30  # bytes a join result may have to be computed whole, then stored


def _fits_in_memory(ltab: pa.Table, rtab: pa.Table, other_rep: joinkeys.Repeats, how: str) -> bool:
    """True when the result is sure to be small: each row of the kept side matches at most one
    row of the other (no key repeated there, the usual fact-to-dimension join; null keys match
    nothing) and the result is under JOIN_IN_MEMORY. Computed whole, it is ~1.2x faster than
    streamed (Acero's reader) and the registry copies it after the answer; a join that may
    multiply rows streams instead. The other side's repeats are counted for the answer anyway."""
    if how == "semi" or how == "anti":
        return ltab.nbytes <= JOIN_IN_MEMORY
    kept, other = (rtab, ltab) if how == "right" else (ltab, rtab)
    if other_rep.keys:
        return False
    return not other.num_rows or kept.nbytes + other.nbytes / other.num_rows * kept.num_rows <= JOIN_IN_MEMORY


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
