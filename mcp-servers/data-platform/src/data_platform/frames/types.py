"""Type names a user writes (`int64`, `decimal(12,2)`, `timestamp[tz=UTC]`) as Arrow types."""

from __future__ import annotations

import re

import pyarrow as pa

from data_platform.errors import InputError

_SIMPLE: dict[str, pa.DataType] = {
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int": pa.int64(),
    "int64": pa.int64(),
    "integer": pa.int64(),
    "bigint": pa.int64(),
    "uint8": pa.uint8(),
    "uint16": pa.uint16(),
    "uint32": pa.uint32(),
    "uint64": pa.uint64(),
    "float32": pa.float32(),
    "float": pa.float64(),
    "float64": pa.float64(),
    "double": pa.float64(),
    "str": pa.string(),
    "string": pa.string(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bool": pa.bool_(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "date32": pa.date32(),
    "datetime": pa.timestamp("us"),
    "timestamp": pa.timestamp("us"),
    "binary": pa.binary(),
}
_DECIMAL = re.compile(r"(?:decimal|numeric)(?:128)?\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")
_TSTZ = re.compile(r"timestamp\s*\[\s*(?:(s|ms|us|ns)\s*,\s*)?tz\s*=\s*([A-Za-z0-9_/+:-]+)\s*\]")
TYPE_HELP = (
    "Types: int64, int32, float64, string, bool, date, timestamp, timestamp[tz=UTC], decimal(12,2), binary."
)


def parse_type(text: str) -> pa.DataType:
    """An Arrow type from a short name; InputError listing the accepted names otherwise."""
    key = text.strip().lower()
    if key in _SIMPLE:
        return _SIMPLE[key]
    if m := _DECIMAL.fullmatch(key):
        precision, scale = int(m.group(1)), int(m.group(2) or 0)
        if not 1 <= precision <= 76 or scale > precision:
            raise InputError(f"Invalid decimal type {text!r}: precision 1..76, scale <= precision.")
        return pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    if m := _TSTZ.fullmatch(text.strip()):
        return pa.timestamp(m.group(1) or "us", tz=m.group(2))
    raise InputError(f"Unknown type {text!r}.", hint=TYPE_HELP)


def is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def is_nested(t: pa.DataType) -> bool:
    return pa.types.is_nested(t) or (pa.types.is_dictionary(t) and pa.types.is_nested(t.value_type))
