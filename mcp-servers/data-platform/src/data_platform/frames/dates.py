"""Dates and timestamps in the forms people write them: found from a sample, parsed per batch.

pyarrow's CSV reader and DuckDB's JSON reader already type ISO dates and timestamps; anything
else arrives as text (`2024/01/31`, `31/01/2024`, `31.01.2024`, `Jan 31, 2024`,
`31/01/2024 13:45`, `2024/01/31 13:45:00+02:00`), so `pg_load` would create text columns and
comparisons would compare strings. `plan` looks at the sample a reader already has (the sniffed
first block), picks one strptime format per text column whose every sampled value fits it, and
`Plan.apply` converts those columns batch by batch with `pyarrow.compute.strptime` (vectorised):
a file without such columns pays for the sample only.

Day-first or month-first (`01/02/2024`) is decided by the data: a first part above 12 means
day-first, a second part above 12 month-first; where neither appears the column stays text with
a note saying how to choose (dots, `31.01.2024`, read day-first). A value further down that does
not fit the chosen format never becomes a silent null: an auto-detected column is read again as
text, with a note naming the value and row (`keep_text_on_mismatch`); a column named in
`parse_dates` fails the load naming column, value and row.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from data_platform.errors import InputError
from data_platform.frames.date_forms import detect, first_bad

SAMPLE_ROWS = 10_000
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%p")


class DateMismatch(Exception):
    """A value further down the file does not fit an auto-detected column's format."""

    def __init__(self, column: str, value: str, row: int, fmt: str) -> None:
        super().__init__(column)
        self.column, self.value, self.row, self.fmt = column, value, row, fmt


@dataclass
class Conversion:
    """One text column to parse with one strptime format; `explicit` if named in parse_dates."""

    column: str
    fmt: str
    explicit: bool

    @property
    def is_date(self) -> bool:
        return not any(d in self.fmt for d in _TIME_DIRECTIVES)

    def target(self, unit: str) -> pa.DataType:
        if self.is_date:
            return pa.date32()
        return pa.timestamp(unit, "UTC" if "%z" in self.fmt else None)

    def describe(self) -> str:
        kind = "date" if self.is_date else "timestamp (UTC)" if "%z" in self.fmt else "timestamp"
        return f"{self.column}: {kind} from {self.fmt}"


@dataclass
class Plan:
    """Which columns a load converts, and what the answer says about dates."""

    conversions: dict[str, Conversion] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    unit: str = "s"
    can_format: bool = True  # the reader takes date_format (read_csv); hints say sql otherwise
    seen: int = 0  # rows converted so far in this attempt, for row numbers in messages

    def text_types(self) -> dict[str, pa.DataType]:
        """Column types for the reader: planned columns arrive as text, whatever a block holds."""
        return dict.fromkeys(self.conversions, pa.string())

    def apply(self, table: pa.Table) -> pa.Table:
        """Convert the planned columns of one batch (in file order); count its rows."""
        for name, conv in self.conversions.items():
            if name not in table.column_names:
                continue
            i = table.column_names.index(name)
            table = table.set_column(i, name, self._convert(table.column(i), conv))
        self.seen += table.num_rows
        return table

    def _convert(self, column: pa.ChunkedArray, conv: Conversion) -> pa.Array:
        values = column.combine_chunks()
        parsed = pc.strptime(values, format=conv.fmt, unit=self.unit, error_is_null=True)
        bad = first_bad(values, parsed, conv.fmt)
        if bad is not None:
            value, row = str(values[bad].as_py())[:60], self.seen + bad + 1
            if not conv.explicit:
                raise DateMismatch(conv.column, value, row, conv.fmt)
            raise InputError(
                f'column "{conv.column}": {value!r} at row {row:,} is not a date in the form '
                f"{conv.fmt}; nothing was loaded.",
                hint=f"Fix the value{', pass date_format for another form,' if self.can_format else ''} "
                f"or leave {conv.column} out of parse_dates to keep it as text.",
            )
        return parsed.cast(pa.date32()) if conv.is_date else parsed

    def drop(self, miss: DateMismatch) -> None:
        """After a mismatch: the column stays text, and the answer says why."""
        del self.conversions[miss.column]
        self.notes.append(
            f"{miss.column} kept as text: {miss.value!r} at row {miss.row:,} is not a {miss.fmt} date."
        )

    def summary(self) -> list[str]:
        found = "; ".join(c.describe() for c in self.conversions.values())
        return [*self.notes, *([f"Dates: {found}."] if found else [])]


P = ParamSpec("P")
T = TypeVar("T")


def keep_text_on_mismatch(load: Callable[P, T], plan: Plan, retype: Callable[[], None]) -> Callable[P, T]:
    """`load`, run again with a column left as text each time an auto-detected one misfits.

    The ref being written is discarded by the failed attempt; `retype` updates the reader's
    column types from the plan before the next. Only a rare file pays the second read.
    """

    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        while True:
            plan.seen = 0
            try:
                return load(*args, **kwargs)
            except DateMismatch as miss:
                plan.drop(miss)
                retype()

    return run


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def _is_temporal(t: pa.DataType) -> bool:
    return pa.types.is_date(t) or pa.types.is_timestamp(t)


# -- the plan ------------------------------------------------------------------------------------
def plan(
    sample: pa.Table | None,
    *,
    parse_dates: list[str] | None,
    date_format: str | None = None,
    skip: Iterable[str] = (),
    unit: str = "s",
    can_format: bool = True,
) -> Plan:
    """Which columns to convert: every text column of the sample in a known date form, and the
    `parse_dates` columns (with `date_format` if given). The caller has checked that the
    `parse_dates` columns exist, and reads them as text when `date_format` is given."""
    out = Plan(unit=unit, can_format=can_format)
    explicit = list(dict.fromkeys(parse_dates or []))
    skipped = set(skip)
    both = [c for c in explicit if c in skipped]
    if both:
        raise InputError(
            f"{both[0]} is in both dtype and parse_dates.", hint="Name each column in one of them."
        )
    head = sample.slice(0, SAMPLE_ROWS) if sample is not None else None
    for name in explicit:
        out.conversions.update(_explicit(head, name, date_format, can_format))
    if head is None:
        return out
    for f in head.schema:
        if f.name in explicit or f.name in skipped or not _is_text(f.type):
            continue
        found = detect(head.column(f.name).combine_chunks(), date_format)
        if found.invalid is not None:
            out.notes.append(
                f"{f.name} kept as text: it looks like {found.fmt} dates, but {found.invalid!r} is not one."
            )
        elif found.fmt:
            out.conversions[f.name] = Conversion(f.name, found.fmt, explicit=False)
        elif found.ambiguous:
            sep = _separator(found.ambiguous)
            how = (
                f'pass parse_dates=["{f.name}"] with date_format="%d{sep}%m{sep}%Y" or "%m{sep}%d{sep}%Y".'
                if can_format
                else _with_sql(f.name, f"%d{sep}%m{sep}%Y")
            )
            out.notes.append(
                f"{f.name} kept as text: dates like {found.ambiguous!r} read day-first or month-first; {how}"
            )
    return out


def _separator(value: str) -> str:
    return re.sub(r"\d", "", value)[:1] or "/"


def _with_sql(name: str, fmt: str) -> str:
    return f"""convert it with sql, e.g. strptime("{name}", '{fmt}') (this reader takes no date_format)."""


def _explicit(
    sample: pa.Table | None, name: str, date_format: str | None, can_format: bool
) -> dict[str, Conversion]:
    """The conversion for one parse_dates column, or an InputError saying what would work."""
    column = None
    if sample is not None and name in sample.column_names:
        column = sample.column(name).combine_chunks()
    if date_format:
        if column is not None and _is_text(column.type):
            parsed = pc.strptime(column, format=date_format, unit="s", error_is_null=True)
            bad = first_bad(column, parsed, date_format)
            if bad is not None:
                raise InputError(
                    f'column "{name}": {column[bad].as_py()!r} (row {bad + 1:,}) is not a date in the '
                    f"form date_format={date_format!r}.",
                    hint="Pass the format its values are written in, e.g. %d/%m/%Y, %Y%m%d, %d %b %Y %H:%M.",
                )
        return {name: Conversion(name, date_format, explicit=True)}
    if column is None:
        raise InputError(
            f'Cannot sample column "{name}" to find its date format.',
            hint='Pass date_format (e.g. "%d/%m/%Y").',
        )
    if _is_temporal(column.type):
        return {}  # the reader parsed it already (ISO)
    if not _is_text(column.type):
        raise InputError(
            f'column "{name}" holds {column.type} values, not dates written as text.',
            hint='Pass date_format for its form (e.g. "%Y%m%d"), or convert it with sql.'
            if can_format
            else "Leave it out of parse_dates; " + _with_sql(name, "%Y%m%d"),
        )
    found = detect(column)
    if found.fmt and found.invalid is None:
        return {name: Conversion(name, found.fmt, explicit=True)}
    if found.ambiguous:
        sep = _separator(found.ambiguous)
        raise InputError(
            f'column "{name}" holds dates like {found.ambiguous!r} that read day-first or month-first.',
            hint=f'Pass date_format="%d{sep}%m{sep}%Y" or "%m{sep}%d{sep}%Y".'
            if can_format
            else "Leave it out of parse_dates; " + _with_sql(name, f"%d{sep}%m{sep}%Y"),
        )
    example = found.invalid or next((v for v in column.to_pylist() if v), None)
    raise InputError(
        f'column "{name}": {example!r} is not a date in a form I know'
        + (f" ({found.fmt})." if found.fmt else "."),
        hint='Pass date_format (e.g. "%d/%m/%Y %H:%M"), or leave it out of parse_dates.'
        if can_format
        else "Leave it out of parse_dates; " + _with_sql(name, "%d/%m/%Y %H:%M"),
    )


def csv_sample(
    lines: list[str],
    names: list[str],
    header: bool,
    parse_opts: pacsv.ParseOptions,
    convert_opts: pacsv.ConvertOptions,
    as_text: Iterable[str] = (),
) -> pa.Table | None:
    """The sniffed lines parsed with the load's own options (so types match what the load
    infers), `as_text` columns kept as strings; None if the sample does not parse on its own."""
    if not lines:
        return None
    convert = copy.copy(convert_opts)
    convert.column_types = {**convert_opts.column_types, **dict.fromkeys(as_text, pa.string())}
    read = pacsv.ReadOptions(column_names=names, skip_rows=1 if header else 0, use_threads=False)
    data = "\n".join(lines[: SAMPLE_ROWS + 1]).encode("utf-8")
    try:
        return pacsv.read_csv(
            pa.BufferReader(data), read_options=read, parse_options=parse_opts, convert_options=convert
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
