"""groupby's aggregation specs: our `{out: "func(col)"}` and pandas' `agg` forms, read one way.

Agents write aggregations from pandas habit, so every form `DataFrame.groupby(...).agg` takes
as a dict is accepted, with pandas' output names, and each entry is read by fixed rules:

    {"total": "sum(amount)"}          func(column) (or count(*)) -> output "total"
    {"amount": "sum"}                 pandas {column: func}      -> output "amount"
    {"amount": ["sum", "mean"]}       pandas {column: [funcs]}   -> "amount_sum", "amount_mean"
    {"total": ["amount", "sum"]}      pandas named aggregation, agg(total=("amount", "sum"))
    {"n": "size"}                     a row count needs no column -> output "n"

A value that is a function name wins over a column of the same name (`{"amount": "sum"}`
is pandas' form even if a column is called "sum"); a list of function names on a column key
wins over a named pair. Every entry read the pandas way is told back in a note, and anything
else is an InputError that shows the forms. Functions follow pandas: `size` counts rows
(nulls included), `count` non-null values, `std`/`var` are sample statistics (ddof=1),
`first`/`last` skip nulls, `nunique` counts distinct non-null values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from data_platform.errors import InputError, did_you_mean
from data_platform.frames.columns import find_column
from data_platform.frames.types import is_numeric
from data_platform.registry import RefInfo

AGG_FUNCS = (
    "sum",
    "mean",
    "min",
    "max",
    "count",
    "size",
    "count_distinct",
    "median",
    "std",
    "var",
    "first",
    "last",
)
ALIASES = {
    "avg": "mean",
    "average": "mean",
    "nunique": "count_distinct",
    "stddev": "std",
    "variance": "var",
    "len": "size",
}
Spec = tuple[str, str, str | None]
"""(output name, function, column or None for a row count)."""

_CALL = re.compile(r"\s*([A-Za-z_]+)\s*\(\s*(\*|\"[^\"]+\"|[^()]*?)\s*\)\s*")


def function(name: object) -> str | None:
    """Our name for an aggregation function written the SQL or pandas way, else None."""
    if not isinstance(name, str):
        return None
    low = name.strip().lower()
    low = ALIASES.get(low, low)
    return low if low in AGG_FUNCS else None


def parse_aggs(aggs: Mapping[str, object], info: RefInfo) -> tuple[list[Spec], list[str]]:
    """The specs in order and the notes saying how pandas-style entries were read."""
    if not isinstance(aggs, Mapping) or not aggs:
        raise _bad("Give at least one aggregation.", info)
    specs: list[Spec] = []
    read: list[str] = []
    for key, value in aggs.items():
        if not isinstance(key, str) or not key.strip():
            raise _bad("Every aggregation needs a non-empty name.", info)
        got, how = _entry(key, value, info)
        specs.extend(got)
        if how:
            read.append(how)
    outputs = [o for o, _, _ in specs]
    dup = next((o for o in outputs if outputs.count(o) > 1), None)
    if dup is not None:
        raise InputError(
            f'Two aggregations would both be named "{dup}".',
            hint='Name one explicitly, e.g. {"' + dup + '_2": ["column", "func"]}.',
        )
    notes = [f"aggs read pandas-style: {'; '.join(read)}."] if read else []
    return specs, notes


def _entry(key: str, value: object, info: RefInfo) -> tuple[list[Spec], str | None]:
    """One dict entry as specs, with how it was read when that was a pandas form."""
    columns = info.schema.names
    column = find_column(key, columns)
    if isinstance(value, str):
        m = _CALL.fullmatch(value)
        if m:
            return [_call(key, m.group(1), m.group(2).strip('"'), info)], None
        func = function(value)
        if func == "size":
            return [(column or key, "size", None)], f"{column or key} = size (rows)"
        if func and column:
            return [(column, func, column)], f"{column} = {func}({column})"
        if func:
            raise _bad(
                f'"{key}" is not a column of `{info.name}`, so {{"{key}": "{value}"}} names no data.', info
            )
        reversed_ = find_column(value, columns)
        if reversed_ and function(key):
            raise _bad(
                f'{{"{key}": "{value}"}} is the wrong way round: write {{"{reversed_}": "{key}"}}.', info
            )
        raise _bad(f'Bad aggregation {{"{key}": {json.dumps(value)}}}.', info)
    if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
        funcs = [function(v) for v in value]
        if column and all(funcs):
            return _funcs_of(column, value, columns)
        if len(value) == 2 and funcs[1] and (named := find_column(value[0], columns)):
            return [(key, funcs[1], None if funcs[1] == "size" else named)], None
        if len(value) == 2 and funcs[0] and (named := find_column(value[1], columns)):
            raise _bad(
                f'Named aggregation is [column, func]: write {{"{key}": ["{named}", "{value[0]}"]}}.', info
            )
        raise _bad(f"Bad aggregation {{{json.dumps(key)}: {json.dumps(value)}}}.", info)
    raise _bad(f"Bad aggregation {{{json.dumps(key)}: {json.dumps(value, default=str)}}}.", info)


def _funcs_of(column: str, names: Sequence[str], columns: Sequence[str]) -> tuple[list[Spec], str]:
    """pandas' {column: [funcs]}: one output per function, named column_func as pandas flattens them."""
    specs: list[Spec] = []
    for name in names:
        func = function(name) or ""
        specs.append((f"{column}_{name.strip()}", func, None if func == "size" else column))
    shown = ", ".join(_show(s) for s in specs)
    if len(names) == 2 and find_column(names[0], columns):  # also a named pair: say which reading won
        pair = json.dumps(list(names))
        shown += f' (functions of {column}; for column "{names[0]}" write {{"out": {pair}}})'
    return specs, shown


def _call(output: str, name: str, arg: str, info: RefInfo) -> Spec:
    func = function(name)
    if func is None:
        close = did_you_mean(name.lower(), [*AGG_FUNCS, *ALIASES])
        raise _bad(f"Unknown aggregation function {name!r}.{close}", info)
    if arg in ("*", ""):
        if func not in ("count", "size"):
            raise _bad(f"{name}({arg}) is not allowed; name a column.", info)
        return (output, "size", None)
    column = find_column(arg, info.schema.names)
    if column is None:
        raise InputError(
            f'column "{arg}" not found in `{info.name}`.{did_you_mean(arg, info.schema.names)}',
            hint=f"Columns: {', '.join(info.schema.names[:30])}",
        )
    return (output, func, None if func == "size" else column)


def _show(spec: Spec) -> str:
    out, func, col = spec
    return f"{out} = {func}({col or '*'})" if func != "size" else f"{out} = size (rows)"


def _bad(what: str, info: RefInfo) -> InputError:
    col = next((f.name for f in info.schema if is_numeric(f.type)), None) or (info.schema.names or ["x"])[0]
    c = json.dumps(col)
    return InputError(
        what,
        hint=(
            f'aggs forms: {{"total": "sum({col})", "n": "count(*)"}}, {{{c}: "sum"}}, '
            f'{{{c}: ["sum", "mean"]}}, {{"total": [{c}, "sum"]}}. Functions: sum mean min max '
            "count (non-null) size (rows) nunique median std var first last."
        ),
    )
