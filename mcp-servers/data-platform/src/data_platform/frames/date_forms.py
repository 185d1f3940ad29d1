"""Which date form a text column is written in, and whether parsed values really fit it.

`detect` finds the one strptime format every sampled value fits (day-first or month-first decided by
the data); `first_bad` finds the first value a format does not really fit, including two strptime
accepts wrongly (30/02 rolled into March, a two-digit `%Y`). frames/dates.py plans and applies the
conversions a load makes with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

DAY_MONTH = "DM"  # a numeric day/month pair whose order the data decides
# (strptime format, regex of the date part); the first pair that fits the first value is tried.
DATE_FORMS: tuple[tuple[str, str], ...] = (
    ("%Y/%m/%d", r"\d{4}/\d{1,2}/\d{1,2}"),
    ("%Y-%m-%d", r"\d{4}-\d{1,2}-\d{1,2}"),
    ("%Y.%m.%d", r"\d{4}\.\d{1,2}\.\d{1,2}"),
    (f"{DAY_MONTH}/", r"\d{1,2}/\d{1,2}/\d{4}"),
    (f"{DAY_MONTH}-", r"\d{1,2}-\d{1,2}-\d{4}"),
    (f"{DAY_MONTH}.", r"\d{1,2}\.\d{1,2}\.\d{4}"),
    ("%d %b %Y", r"\d{1,2} [A-Za-z]{3,9} \d{4}"),
    ("%d-%b-%Y", r"\d{1,2}-[A-Za-z]{3,9}-\d{4}"),
    ("%b %d, %Y", r"[A-Za-z]{3,9} \d{1,2}, \d{4}"),
    ("%b %d %Y", r"[A-Za-z]{3,9} \d{1,2} \d{4}"),
)
_TAIL = re.compile(
    r"(?P<sep>[ T])\d{1,2}:\d{2}(?P<sec>:\d{2})?(?P<ampm> ?[AaPp][Mm])?(?P<tz> ?(?:Z|[+-]\d{2}:?\d{2}))?"
)
_OFFSET = r"\s?(?:Z|[+-]\d{2}:?\d{2})"
_YEAR_1000 = -30_610_224_000  # 1000-01-01 in seconds since the epoch: earlier means a misread year


# -- checking parsed values ----------------------------------------------------------------------
def first_bad(values: pa.Array, parsed: pa.Array, fmt: str) -> int | None:
    """Index of the first value the format does not really fit, else None.

    Besides values strptime refuses (empty strings count as nulls), two it accepts wrongly:
    a day past the month's end (glibc reads 30/02/2024 as 1 March) and a year below 1000
    (`%Y` takes `24`). The common case costs a null count, a min and a day-of-month pass.
    """
    found: list[int] = []
    if parsed.null_count != values.null_count:
        refused = pc.and_kleene(pc.is_null(parsed), pc.not_equal(values, ""))
        found.append(pc.index(pc.fill_null(refused, False), True).as_py())
    low = pc.min(parsed)
    if low.is_valid and low.cast(pa.int64()).as_py() < _YEAR_1000 * _per_second(parsed.type):
        early = pc.less(parsed.cast(pa.int64()), _YEAR_1000 * _per_second(parsed.type))
        found.append(pc.index(pc.fill_null(early, False), True).as_py())
    day = _day_pattern(fmt)
    if day is not None and len(parsed):
        # A rolled-over day lands on the 1st to 3rd of the next month: check only those rows,
        # on the clock as written (an offset moves the UTC instant to another day).
        local = parsed
        if "%z" in fmt:
            bare = pc.replace_substring_regex(values, _OFFSET + "$", "")
            local = pc.strptime(bare, format=re.sub(r"\s?%z", "", fmt), unit="s", error_is_null=True)
        days = pc.day(local)
        suspects = pc.indices_nonzero(pc.fill_null(pc.less_equal(days, 3), False))
        if len(suspects):
            written = pc.extract_regex(values.take(suspects), day).field("d")
            wrong = pc.fill_null(pc.not_equal(pc.cast(written, pa.int64()), days.take(suspects)), True)
            at = pc.index(wrong, True).as_py()
            if at >= 0:
                found.append(suspects[at].as_py())
    found = [i for i in found if i >= 0]
    return min(found) if found else None


def _per_second(t: pa.DataType) -> int:
    return {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[t.unit]


_BEFORE_DAY = {
    "%Y": r"\s*\d{1,4}",
    "%y": r"\s*\d{1,2}",
    "%m": r"\s*\d{1,2}",
    "%b": r"\s*[A-Za-z]+",
    "%B": r"\s*[A-Za-z]+",
    "%%": "%",
}


def _day_pattern(fmt: str) -> str | None:
    """A regex capturing the written day as group `d`, or None (no %d, or a directive before it
    this cannot follow)."""
    head, found, _ = fmt.partition("%d")
    if not found:
        return None
    parts = re.split(r"(%.)", head)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            if part not in _BEFORE_DAY:
                return None
            out.append(_BEFORE_DAY[part])
        else:
            out.append("".join(r"\s*" if c.isspace() else re.escape(c) for c in part))
    return "^" + "".join(out) + r"\s*(?P<d>\d{1,2})"


# -- detection -----------------------------------------------------------------------------------
@dataclass
class Found:
    """What the sample says about one text column."""

    fmt: str | None = None  # the format, when one fits
    ambiguous: str | None = None  # "a value like ..." when day-first and month-first both fit
    invalid: str | None = None  # a value that looks like a date in `fmt` but is not one


def detect(values: pa.Array, prefer: str | None = None) -> Found:
    """The one strptime format every non-empty value fits: `prefer` (the caller's date_format)
    if it does, else one of DATE_FORMS chosen by the first value's shape.

    A column whose first value has no date shape (most text) is let go before any compute call:
    a Python literal in one (`!= ""`) makes pyarrow import pandas, 0.2-0.5 s on a process's
    first read_csv (bench/bench_frames.py)."""
    first = next((v for v in values.to_pylist() if v), None)
    shapes = _shapes(first) if first is not None else []
    if first is None or not (shapes or prefer):
        return Found()
    values = pc.drop_null(values)
    values = values.filter(pc.not_equal(values, ""))
    if prefer:
        parsed = pc.strptime(values, format=prefer, unit="s", error_is_null=True)
        if first_bad(values, parsed, prefer) is None:
            return Found(fmt=prefer)
    for fmt, tail_fmt, rx, sep in shapes:
        if not pc.all(pc.match_substring_regex(values, rx)).as_py():
            continue
        if sep:
            order = _day_month(values, sep)
            if order is None:
                return Found(ambiguous=first)
            if not order:
                continue
            fmt = order
        fmt += tail_fmt
        parsed = pc.strptime(values, format=fmt, unit="s", error_is_null=True)
        bad = first_bad(values, parsed, fmt)
        return Found(fmt=fmt) if bad is None else Found(fmt=fmt, invalid=values[bad].as_py())
    return Found()


def _shapes(first: str) -> list[tuple[str, str, str, str]]:
    """The DATE_FORMS the first value is written in, in order: (date format, time format,
    whole-value regex, day/month separator where the data decides the order, else '')."""
    out = []
    for fmt, date_rx in DATE_FORMS:
        m = re.match(date_rx, first)
        if not m:
            continue
        tail_fmt, tail_rx = _tail(first[m.end() :])
        if tail_fmt is None:
            continue
        sep = fmt[-1] if fmt.startswith(DAY_MONTH) else ""
        out.append((fmt, tail_fmt, f"^{date_rx}{tail_rx}$", sep))
    return out


def _tail(text: str) -> tuple[str | None, str]:
    """(format, regex) of what follows a date: nothing, or a time with optional AM/PM and offset."""
    if not text:
        return "", ""
    m = _TAIL.fullmatch(text)
    if not m:
        return None, ""
    fmt = m["sep"] + ("%I:%M" if m["ampm"] else "%H:%M") + (":%S" if m["sec"] else "")
    rx = re.escape(m["sep"]) + r"\d{1,2}:\d{2}" + (r":\d{2}" if m["sec"] else "")
    if m["ampm"]:
        space = " " if m["ampm"].startswith(" ") else ""
        fmt, rx = fmt + space + "%p", rx + space + "[AaPp][Mm]"
    if m["tz"]:
        space = " " if m["tz"].startswith(" ") else ""
        fmt, rx = fmt + space + "%z", rx + space + r"(?:Z|[+-]\d{2}:?\d{2})"
    return fmt, rx


def _day_month(values: pa.Array, sep: str) -> str | None:
    """Day-first or month-first from the data: '' when neither fits, None when both do.

    Dots (31.01.2024) are written day-first where they are used, so they never stay ambiguous.
    """
    parts = pc.extract_regex(values, r"^(?P<a>\d{1,2})\D(?P<b>\d{1,2})")
    a = pc.max(pc.cast(parts.field("a"), pa.int64())).as_py()
    b = pc.max(pc.cast(parts.field("b"), pa.int64())).as_py()
    day_first, month_first = f"%d{sep}%m{sep}%Y", f"%m{sep}%d{sep}%Y"
    if a > 12 and b > 12:
        return ""
    if a > 12:
        return day_first
    if b > 12:
        return month_first
    return day_first if sep == "." else None
