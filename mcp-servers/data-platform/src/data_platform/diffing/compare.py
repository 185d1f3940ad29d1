"""Run a diff in any engine, given a function that runs one SQL statement and returns Arrow.

The engine (PostgreSQL, DuckDB, a dbt adapter) only supplies `execute`, the two relations as
SQL text, each side's columns and its `Dialect`; the steps and the reading of the answers are
here, once: schemas compared, duplicate keys counted, the summary, then capped examples.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from data_platform import work
from data_platform.diffing.passes import KeyedPasses
from data_platform.diffing.sql import (
    Col,
    Dialect,
    ExampleKind,
    KeyedSummary,
    MultisetDiff,
    MultisetSummary,
    Side,
)
from data_platform.errors import InputError

Execute = Callable[[str], pa.Table]


@dataclass(frozen=True)
class SideColumn:
    """One column of a side as the engine sees it.

    `type`: shown to the user and compared between sides; `numeric`: a number (max difference,
    tolerance); `text_only`: the engine has no `=` for it (PostgreSQL json): compared as text.
    """

    name: str
    type: str
    numeric: bool = False
    text_only: bool = False


def arrow_columns(schema: pa.Schema) -> list[SideColumn]:
    """The columns of an Arrow table (a ref, or a side streamed into DuckDB)."""
    out = []
    for f in schema:
        t = f.type
        numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
        out.append(SideColumn(f.name, str(t), numeric))
    return out


@dataclass(frozen=True)
class SchemaDiff:
    only_left: list[str]
    only_right: list[str]
    type_changed: list[tuple[str, str, str]]  # (column, left type, right type)
    common: list[str]


def compare_schemas(
    left: Sequence[SideColumn], right: Sequence[SideColumn]
) -> tuple[SchemaDiff, dict[str, Col]]:
    """Columns matched by name: what is on one side only, what changed type, and how to compare
    each common column (numbers of different widths still compare as numbers; other differing
    types compare as text)."""
    rmap = {c.name: c for c in right}
    lnames = {c.name for c in left}
    cols: dict[str, Col] = {}
    changed: list[tuple[str, str, str]] = []
    for c in left:
        other = rmap.get(c.name)
        if other is None:
            continue
        if c.type != other.type:
            changed.append((c.name, c.type, other.type))
        numeric = c.numeric and other.numeric
        as_text = c.text_only or other.text_only or (c.type != other.type and not numeric)
        cols[c.name] = Col(c.name, numeric=numeric, as_text=as_text)
    diff = SchemaDiff(
        only_left=[c.name for c in left if c.name not in rmap],
        only_right=[c.name for c in right if c.name not in lnames],
        type_changed=changed,
        common=list(cols),
    )
    return diff, cols


@dataclass
class DiffResult:
    """Everything a diff found; `example_sql` maps each kind that occurs to the query of its capped
    rows, `examples` to those rows when the runner fetched them (`run_examples`)."""

    schema: SchemaDiff
    key: list[str]
    left_rows: int
    right_rows: int
    keyed: KeyedSummary | None = None
    multiset: MultisetSummary | None = None
    duplicates: dict[Side, tuple[int, int]] = field(default_factory=dict)  # side -> (keys, rows)
    examples: dict[str, pa.Table] = field(default_factory=dict)
    example_sql: dict[str, str] = field(default_factory=dict)


def _one_row(execute: Execute, sql: str) -> dict:
    rows = execute(sql).to_pylist()
    return rows[0] if rows else {}


def check_key(
    key: Sequence[str], schema: SchemaDiff, left: Sequence[SideColumn], right: Sequence[SideColumn]
) -> None:
    """Every key column on both sides, else InputError naming what exists."""
    lnames, rnames = {c.name for c in left}, {c.name for c in right}
    for k in key:
        if k in lnames and k in rnames:
            continue
        where = (
            "either side"
            if k not in lnames and k not in rnames
            else ("the left" if k not in lnames else "the right")
        )
        close = difflib.get_close_matches(k, schema.common, n=1)
        raise InputError(
            f"Key column {k!r} is not in {where}." + (f" Did you mean {close[0]!r}?" if close else ""),
            hint="Columns on both sides: "
            + ", ".join(schema.common[:40])
            + ". Or leave key out for a row-set comparison.",
        )


def diff(
    execute: Execute,
    left: str,
    right: str,
    left_columns: Sequence[SideColumn],
    right_columns: Sequence[SideColumn],
    key: Sequence[str] | None,
    *,
    tolerance: float | None = None,
    dialect: Dialect | None = None,
    examples: int = 100,
    run_examples: bool = True,
    materialise: Callable[[str], str] | None = None,
    unique: Collection[str] = (),
    one_pass: bool = False,
) -> DiffResult:
    """Compare two relations of one engine: keyed (join on `key`) or, without a key, as multisets.

    `examples`: rows per example query (0: none); `run_examples=False` leaves them for the caller
    to run (e.g. straight into refs). Rows with a duplicated key are left out of the keyed
    comparison and reported instead (a join would multiply them silently); columns on one side
    only are reported and not compared.

    `materialise(select_sql) -> relation`: an engine that can keep a query's rows in a temporary
    table (DuckDB) passes it; then one join keeps the rows that differ and the summary and the
    examples are read from them (one pass over the data instead of one per question).
    `unique`: sides ("left"/"right") whose key the caller knows to be unique: no duplicate query.
    `one_pass` (DuckDB): unless both sides are in `unique`, first try `KeyedDiff.one_pass_sql`, one
    aggregate over the join giving the summary, the examples and the proof that no key is
    duplicated; only when a key is duplicated does the diff go on with the queries per step.
    """
    dialect = dialect or Dialect()
    schema, cols = compare_schemas(left_columns, right_columns)
    if not schema.common:
        raise InputError(
            "The two sides have no column name in common: nothing to compare.",
            hint="Select or rename columns so both sides share names (matched by exact name).",
        )
    if not key:
        result = _multiset(execute, left, right, schema, cols, dialect, examples)
        return _fetch_examples(execute, result) if run_examples else result
    key = list(dict.fromkeys(key))
    check_key(key, schema, left_columns, right_columns)
    plan = KeyedPasses(
        left,
        right,
        key=[cols[k] for k in key],
        columns=[c for n, c in cols.items() if n not in key],
        tolerance=tolerance,
        dialect=dialect,
    )
    result = DiffResult(schema=schema, key=key, left_rows=0, right_rows=0)
    sides: tuple[Side, Side] = ("left", "right")
    proven = set(sides) <= set(unique)  # then the rows-kept path needs no duplicate query at all
    if one_pass and not proven and _one_pass(execute, plan, result, examples):
        return result
    for i, side in enumerate(sides):
        if side in unique:
            continue
        work.check()
        work.progress(i, 4, f"duplicate keys on the {side}")
        row = _one_row(execute, plan.duplicates_sql(side))
        keys, rows = int(row.get("dp_keys") or 0), int(row.get("dp_rows") or 0)
        if keys:
            result.duplicates[side] = (keys, rows)
    exclude = ("left" in result.duplicates, "right" in result.duplicates)
    work.check()
    work.progress(2, 4, "comparing rows")
    dup_rows = {side: result.duplicates.get(side, (0, 0))[1] for side in sides}
    if materialise is not None:
        stored = materialise(plan.rows_sql(exclude))
        totals = {side: int(_one_row(execute, plan.count_sql(side))["dp_n"]) for side in sides}
        row = _one_row(execute, plan.stored_summary_sql(stored))
        summary = plan.read_stored_summary(row, totals["left"] - dup_rows["left"])
        result.left_rows, result.right_rows = totals["left"], totals["right"]
    else:
        summary = plan.read_summary(_one_row(execute, plan.summary_sql(exclude)))
        matched = summary.same + summary.changed
        result.left_rows = matched + summary.only_left + dup_rows["left"]
        result.right_rows = matched + summary.only_right + dup_rows["right"]
    result.keyed = summary
    if examples > 0:
        counts: dict[ExampleKind, int] = {
            "only_left": summary.only_left,
            "only_right": summary.only_right,
            "changed": summary.changed,
        }
        for kind, count in counts.items():
            if count and materialise is not None:
                result.example_sql[kind] = plan.stored_examples_sql(stored, kind, examples)
            elif count:
                result.example_sql[kind] = plan.examples_sql(kind, examples, exclude)
        for side in result.duplicates:
            result.example_sql[f"duplicates_{side}"] = plan.duplicate_examples_sql(side, examples)
    return _fetch_examples(execute, result) if run_examples else result


def _one_pass(execute: Execute, plan: KeyedPasses, result: DiffResult, examples: int) -> bool:
    """The whole keyed diff in one aggregate when no key is duplicated; False: go step by step."""
    work.check()
    work.progress(0, 2, "comparing rows")
    sides: tuple[Side, Side] = ("left", "right")
    totals = [int(_one_row(execute, plan.count_sql(side))["dp_n"]) for side in sides]
    table = execute(plan.one_pass_sql(max(examples, 1)))
    row = {k: v[0] for k, v in table.to_pydict().items() if not k.startswith("dp_ex_")}
    if not plan.one_pass_clean(row, *totals):
        return False
    result.keyed = plan.read_summary(row)
    result.left_rows, result.right_rows = totals
    for kind in ("only_left", "only_right", "changed"):
        lists = table.column(f"dp_ex_{kind}")
        if examples > 0 and lists[0].is_valid:
            result.examples[kind] = pa.Table.from_struct_array(lists.combine_chunks().flatten())
    return True


def _fetch_examples(execute: Execute, result: DiffResult) -> DiffResult:
    for i, (kind, text) in enumerate(result.example_sql.items()):
        work.check()
        work.progress(i, len(result.example_sql), f"examples: {kind}")
        result.examples[kind] = execute(text)
    return result


def _multiset(
    execute: Execute,
    left: str,
    right: str,
    schema: SchemaDiff,
    cols: dict[str, Col],
    dialect: Dialect,
    examples: int,
) -> DiffResult:
    plan = MultisetDiff(left, right, list(cols.values()), dialect)
    work.check()
    work.progress(0, 2, "comparing rows (no key: as multisets)")
    summary = plan.read_summary(_one_row(execute, plan.summary_sql()))
    result = DiffResult(
        schema=schema,
        key=[],
        left_rows=summary.same + summary.only_left,
        right_rows=summary.same + summary.only_right,
        multiset=summary,
    )
    if examples > 0:
        only: dict[Side, int] = {"left": summary.only_left, "right": summary.only_right}
        for side, count in only.items():
            if count:
                result.example_sql[f"only_{side}"] = plan.examples_sql(side, examples)
    return result
