"""Sniffing a text sample: its encoding, and a CSV's delimiter, quote, header and number style."""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass

import pyarrow as pa

from data_platform.errors import InputError
from data_platform.frames.sources import SAMPLE_BYTES
from data_platform.registry.names import unique_names

DEFAULT_NA = ["", "NA", "N/A", "n/a", "NULL", "null", "#N/A", "None", "<NA>"]
BIG_INT = re.compile(r"-?\d{19,}")


def decode_sample(sample: bytes, encoding: str | None) -> tuple[str, str, str | None]:
    """(text, encoding, note): UTF-8 if it decodes, else latin-1 (which always does)."""
    if encoding:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            raise InputError(
                f"Unknown encoding {encoding!r}.", hint="e.g. utf-8, latin-1, cp1252, utf-16."
            ) from None
        try:
            return codecs.getincrementaldecoder(codec)().decode(sample), codec, None
        except UnicodeDecodeError as exc:
            raise InputError(f"The file is not valid {codec}: {exc.reason} at byte {exc.start}.") from None
        except UnicodeError as exc:  # e.g. utf-16 without a byte-order mark: no position to give
            raise InputError(
                f"The file is not valid {codec}: {exc}.",
                hint="Leave encoding out to detect it, or name the file's own, e.g. utf-16-le.",
            ) from None
    if sample.startswith(codecs.BOM_UTF8):
        return sample[3:].decode("utf-8", "replace"), "utf-8-sig", None
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return sample.decode("utf-16", "replace"), "utf-16", None
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(sample), "utf-8", None
    except UnicodeDecodeError:
        note = "Decoded as latin-1 (the file is not valid UTF-8); pass encoding=... if text looks wrong."
        return sample.decode("latin-1"), "latin-1", note


def sample_lines(text: str, skiprows: int) -> list[str]:
    lines = text.splitlines()
    if len(text) >= SAMPLE_BYTES - 8 and lines:
        lines = lines[:-1]  # the last line of a cut sample is partial
    return lines[skiprows:]


@dataclass
class CsvDialect:
    sep: str
    quote: str
    header: bool
    names: list[str]
    multiline: bool = False
    comma_decimal: bool = False
    renamed: str = ""  # what a repeated header name became (registry.names.unique_names), if any


# `sep` as a model writes a tab in JSON ("\\t" arrives as backslash + t) or by name.
SEP_ALIASES = {"\\t": "\t", "tab": "\t"}


def csv_sep(sep: str) -> str:
    """`sep` as pyarrow's CSV parser and writer take it: one printable ASCII character or a tab
    (anything else was pyarrow's ValueError, an internal error); refused naming what works."""
    sep = SEP_ALIASES.get(sep, sep)
    if len(sep) != 1 or not (sep == "\t" or " " <= sep <= "~"):
        raise InputError(
            f"sep must be one printable ASCII character or a tab, got {sep!r}.",
            hint="e.g. sep=';', sep='|' or sep='\\t'.",
        )
    return sep


def sniff_csv(text: str, skiprows: int, sep: str | None, header: bool | None) -> CsvDialect:
    lines = [ln for ln in sample_lines(text, skiprows)][:2000]
    body = "\n".join(lines)
    quote = '"'
    if sep is None:
        try:
            dialect = csv.Sniffer().sniff(body[:65536], delimiters=",;\t|")
            sep, quote = dialect.delimiter, dialect.quotechar or '"'
        except csv.Error:
            sep = ","
    sep = csv_sep(sep)
    rows = list(csv.reader(io.StringIO(body), delimiter=sep, quotechar=quote))[:200]
    rows = [r for r in rows if r]
    if not rows:
        raise InputError("The file has no data rows.", hint="Check skiprows, or that this is a CSV file.")
    if header is None:
        header = _looks_like_header(rows)
    width = max(len(r) for r in rows[:50])
    if header:
        names = [c.strip() or f"column_{i + 1}" for i, c in enumerate(rows[0])]
    else:
        names = [f"column_{i + 1}" for i in range(width)]
    body_rows = rows[1:] if header else rows
    comma_decimal = sep != "," and _comma_decimals(body_rows)
    multiline = any("\n" in c or "\r" in c for r in rows for c in r)
    names, renamed = unique_names(names)
    return CsvDialect(sep, quote, header, names, multiline, comma_decimal, renamed)


def _comma_decimals(rows: list[list[str]]) -> bool:
    """European numbers (`12,5`): some column holds only such values, none with a '.'."""
    width = max((len(r) for r in rows), default=0)
    for i in range(width):
        cells = [r[i].strip() for r in rows if i < len(r) and r[i].strip() not in DEFAULT_NA]
        if cells and all(re.fullmatch(r"-?\d+(,\d+)?", c) for c in cells) and any("," in c for c in cells):
            return True
    return False


def _is_number(cell: str) -> bool:
    try:
        float(cell.replace(",", "."))
    except ValueError:
        return False
    return True


def _looks_like_header(rows: list[list[str]]) -> bool:
    """A header row has no numbers, and differs in kind from the rows below it."""
    first, rest = rows[0], rows[1:]
    if not rest:
        return not any(_is_number(c) for c in first if c)
    if any(_is_number(c) for c in first if c.strip()):
        return False
    for i, cell in enumerate(first):
        below = [r[i] for r in rest if i < len(r) and r[i] not in DEFAULT_NA]
        if below and all(_is_number(c) for c in below):
            return True  # a text label above a numeric column (even a repeated one: `amount,amount`)
        if below and max(len(c) for c in below) > 0 and cell in below:
            return False
    if len(set(first)) < len(first):
        return False  # all text, and a value repeated across the first row: more likely data
    # All text: a header if the first row's values never appear again below.
    return all(all(i >= len(r) or r[i] != c for r in rest) for i, c in enumerate(first))


def big_int_columns(text: str, dialect: CsvDialect, skiprows: int) -> dict[str, pa.DataType]:
    """Integer columns with values beyond int64: decimal(38,0) (or string past 38 digits)."""
    rows = list(
        csv.reader(io.StringIO("\n".join(sample_lines(text, skiprows)[:1000])), delimiter=dialect.sep)
    )
    rows = rows[1:] if dialect.header else rows
    found: dict[str, pa.DataType] = {}
    for i, name in enumerate(dialect.names):
        cells = [r[i].strip() for r in rows if i < len(r) and r[i].strip() not in DEFAULT_NA]
        if (
            cells
            and all(re.fullmatch(r"-?\d+", c) for c in cells)
            and any(BIG_INT.fullmatch(c) for c in cells)
        ):
            longest = max(len(c.lstrip("-")) for c in cells)
            if longest > 19 or any(int(c) > 2**63 - 1 or int(c) < -(2**63) for c in cells):
                found[name] = pa.decimal128(38, 0) if longest <= 38 else pa.string()
    return found
