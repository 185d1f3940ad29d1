"""Compact, bounded text for what the model reads: tables, schemas, notes.

Every tool's text goes through `bound`, so no result can flood a context
window however large the data is; what was cut is always said.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

# The preview's limits, everywhere a table is shown: rows kept with a new ref (and the most a
# preview or head/tail shows), columns shown, characters per cell.
PREVIEW_ROWS = 50
MAX_PREVIEW_COLUMNS = 12
FLOAT_DIGITS = 10  # significant digits of a float in text; float32 holds ~7
MAX_CELL = 40


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover


def jsonable(value: Any) -> Any:
    """A value as JSON can carry it, without losing precision silently."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, bytes):
        return "base64:" + base64.b64encode(value[:64]).decode() + ("..." if len(value) > 64 else "")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if value and isinstance(value[0], tuple) and len(value[0]) == 2:
            return {str(k): jsonable(v) for k, v in value}  # Arrow map as (key, value) pairs
        return [jsonable(v) for v in value]
    return str(value)


def format_float(value: float, digits: int = FLOAT_DIGITS) -> str:
    """A float as a reader expects it: `853.10071`, not `853.1007099999998`; `0.00001234`, not
    `1.234e-05`. At most `digits` significant digits (never fewer than the integer part has);
    scientific notation only outside 1e-7..1e15. Exact values stay in structured content."""
    if not math.isfinite(value):
        return str(value)  # nan, inf, -inf
    magnitude = abs(value)
    if magnitude == 0 or not 1e-7 <= magnitude < 1e15:
        return repr(value) if magnitude == 0 else f"{value:.{digits}g}"
    short = repr(value)
    if "e" not in short and len(short.lstrip("-").replace(".", "").strip("0")) <= digits:
        return short  # already short: 120.5, 0.25, 3.0, 10000000000.0
    whole = math.floor(math.log10(magnitude)) + 1  # digits before the point (<= 0 for 0.00x)
    text = f"{value:.{max(digits - whole, 0)}f}"
    if "." in text:
        text = text.rstrip("0")
        text += "0" if text.endswith(".") else ""
    return text


def _short_floats(value: Any, digits: int) -> Any:
    """Floats inside a list or struct cell, cut to `digits` significant digits for the text."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else value
    if isinstance(value, list):
        return [_short_floats(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: _short_floats(v, digits) for k, v in value.items()}
    return value


def format_cell(value: Any, max_cell: int = MAX_CELL, *, digits: int = FLOAT_DIGITS) -> str:
    """One cell for a markdown table: short, single line, pipes escaped."""
    if value is None:
        text = "null"
    elif isinstance(value, float):
        text = format_float(value, digits)
    elif isinstance(value, bytes):
        text = "0x" + value[:16].hex() + ("..." if len(value) > 16 else "")
    elif isinstance(value, dict | list | tuple):
        text = json.dumps(_short_floats(jsonable(value), digits), ensure_ascii=False, default=str)
    else:
        text = str(value)
    text = text.replace("\r", " ").replace("\n", " ").replace("\t", " ").replace("|", "\\|")
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    if len(text) > max_cell:
        text = text[: max_cell - 1] + "…"
    return text


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "| " + " | ".join(header) + " |"
    rule = "|" + "|".join("-" * (max(len(h), 3) + 2) for h in header) + "|"
    body = ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def type_name(t: pa.DataType) -> str:
    """Arrow type in short form (`string`, `timestamp[us, tz=UTC]`, `decimal128(12, 2)`)."""
    text = str(t)
    return text.replace("large_string", "string").replace("large_binary", "binary")


CUT_NOTE = "(values longer than {n} characters cut (…); the ref holds them whole)"


def first_columns(table: pa.Table) -> pa.Table:
    """The columns a preview shows, the first MAX_PREVIEW_COLUMNS, picked by position, never by
    name: a stored ref may repeat one (`SELECT 1 AS x, 2 AS x` before names were made unique)."""
    return table.select(range(min(MAX_PREVIEW_COLUMNS, table.num_columns)))


def preview(table: pa.Table, limit: int, *, max_cell: int = MAX_CELL) -> tuple[str, bool]:
    """A markdown preview of the first `limit` rows; returns (text, columns_cut).

    A value cut here (or by `trim_cells` before) ends with `…`, and the text says values were cut.
    """
    names = table.column_names
    shown = names[:MAX_PREVIEW_COLUMNS]
    cut = len(names) > len(shown)
    if not shown:
        return "(no columns)", cut
    sample = first_columns(table).slice(0, limit)
    values: list[list[Any]]
    try:
        values = [list(row) for row in zip(*(col.to_pylist() for col in sample.columns), strict=True)]
    except (pa.ArrowInvalid, ValueError, OverflowError):
        values = _string_rows(sample)
    header = [format_cell(n, 30) for n in shown] + (["…"] if cut else [])
    digits = [7 if f.type in (pa.float32(), pa.float16()) else FLOAT_DIGITS for f in sample.schema]
    rows = [
        [format_cell(v, max_cell, digits=d) for v, d in zip(r, digits, strict=True)] + (["…"] if cut else [])
        for r in values
    ]
    text = markdown_table(header, rows)
    if any(_was_cut(v, max_cell) for r in values for v in r):
        text += "\n" + CUT_NOTE.format(n=max_cell)
    return text, cut


def _was_cut(value: Any, max_cell: int) -> bool:
    """Longer than a cell, or already cut by `trim_cells` (which ends the value with `…`)."""
    if isinstance(value, str):
        return len(value) > max_cell or (len(value) == max_cell and value.endswith("…"))
    return isinstance(value, dict | list | tuple) and len(json.dumps(jsonable(value), default=str)) > max_cell


def _string_rows(table: pa.Table) -> list[list[str]]:
    cols = [[str(v) for v in col] for col in table.columns]
    return [list(r) for r in zip(*cols, strict=False)]


def schema_line(fields: Iterable[tuple[str, str]], limit: int = 40) -> str:
    """`name type, name type, ...` for (name, type) pairs, cut after `limit`."""
    pairs = list(fields)
    parts = [f"{name} {typ}" for name, typ in pairs[:limit]]
    more = len(pairs) - len(parts)
    return ", ".join(parts) + (f", ... ({more} more)" if more > 0 else "")


def bound(text: str, max_chars: int) -> str:
    """Cut text to `max_chars`, at a line boundary where possible, saying so."""
    if len(text) <= max_chars:
        return text
    note = "\n[output cut to {n:,} characters; ask for fewer rows or columns to see the rest]"
    budget = max_chars - len(note) - 10
    cut = text.rfind("\n", 0, budget)
    if cut < budget // 2:
        cut = budget
    return text[:cut] + note.format(n=max_chars)


def trim_cells(table: pa.Table) -> pa.Table:
    """A preview-sized copy: the first columns, long text and bytes cut (for structured output).

    Text longer than a cell keeps MAX_CELL - 1 characters and ends with `…`: a cut never looks
    like the value.
    """
    import pyarrow.compute as pc  # not at the server's start

    table = first_columns(table)
    for i, f in enumerate(table.schema):
        col = table.column(i)
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            # No Python literal in a compute call: converting one makes pyarrow import pandas
            # (0.2-0.5 s on a server's first answer with text; bench/bench_frames.py).
            long = pc.not_equal(pc.utf8_slice_codeunits(col, 0, MAX_CELL), col)
            head = pc.utf8_replace_slice(col, MAX_CELL - 1, 1 << 62, "…")
            table = table.set_column(i, f.name, pc.if_else(long, head, col))
        elif pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type):
            table = table.set_column(i, f.name, pc.binary_slice(col, 0, MAX_CELL))
    return table
