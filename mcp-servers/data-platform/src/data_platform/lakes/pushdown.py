"""A filter in the `filter` tool's language, as a pyarrow.dataset expression for a scan.

The text goes through the same safe parser as `filter` (frames/expr.py): what comes out is SQL
holding only quoted columns, escaped literals and whitelisted operators. That SQL is read back
with sqlglot and translated node by node into `pyarrow.compute.Expression`; a node without an
exact twin (arithmetic division, LIKE, most functions) is refused with what to do, never
approximated: a scan filter that meant something else would drop rows silently.
Partitions are pruned and Parquet row groups skipped by pyarrow from this expression.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from data_platform.errors import ExpressionError
from data_platform.frames.expr import compile_filter

Expr: TypeAlias = pc.Expression
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    exp.EQ: lambda a, b: a == b,
    exp.NEQ: lambda a, b: a != b,
    exp.GT: lambda a, b: a > b,
    exp.GTE: lambda a, b: a >= b,
    exp.LT: lambda a, b: a < b,
    exp.LTE: lambda a, b: a <= b,
}
_ARITH: dict[type, str] = {exp.Add: "add_checked", exp.Sub: "subtract_checked", exp.Mul: "multiply_checked"}
_TEXT_FNS: dict[type, str] = {exp.Lower: "utf8_lower", exp.Upper: "utf8_upper", exp.Abs: "abs"}


class NotPushable(ExpressionError):
    """A part of the filter has no exact scan twin."""


def scan_filter(where: str, schema: pa.Schema, what: str) -> tuple[Expr, list[str]]:
    """The scan expression for `where` over `schema`, and the columns it reads."""
    types = {f.name: f.type for f in schema}
    compiled = compile_filter(where, schema.names, what, types)
    tree = sqlglot.parse_one(compiled.sql, read="duckdb")
    return _Translate(types).node(tree), compiled.columns


class _Translate:
    def __init__(self, types: dict[str, pa.DataType]) -> None:
        self.types = types

    def refuse(self, node: exp.Expr) -> NotPushable:
        return NotPushable(
            f"`{node.sql('duckdb')[:80]}` cannot be pushed into the scan.",
            hint="Push the conditions on columns against values (=, <>, <, IN, BETWEEN, IS NULL, "
            "AND/OR/NOT, LIKE, lower/upper, .str.contains/startswith) and apply the rest with filter on the "
            "new ref.",
        )

    def node(self, n: exp.Expr) -> Any:
        if isinstance(n, exp.Paren):
            return self.node(n.this)
        if isinstance(n, exp.And):
            return self.node(n.this) & self.node(n.expression)
        if isinstance(n, exp.Or):
            return self.node(n.this) | self.node(n.expression)
        if isinstance(n, exp.Not):
            inner = n.this
            if isinstance(inner, exp.Is):
                return self.is_(inner, negate=True)
            return ~self.node(inner)
        if isinstance(n, exp.Is):
            return self.is_(n, negate=False)
        if type(n) in _COMPARE:
            a, b = self.pair(n.this, n.expression)
            return _COMPARE[type(n)](a, b)
        if isinstance(n, exp.In):
            if n.args.get("query") or not n.expressions:
                raise self.refuse(n)
            target = self.node(n.this)
            for v in n.expressions:
                _text_beside_number(n.this, v, self.types)
            values = [self.literal(v, self.type_of(n.this)) for v in n.expressions]
            if any(v is None for v in values):
                raise self.refuse(n)
            return target.isin(values)
        if isinstance(n, exp.Between):
            low, high = n.args["low"], n.args["high"]
            a, lo = self.pair(n.this, low)
            _, hi = self.pair(n.this, high)
            return (a >= lo) & (a <= hi)
        if isinstance(n, exp.Column):
            name = n.name
            if name not in self.types:
                raise self.refuse(n)
            return pc.field(name)
        if isinstance(n, exp.Boolean):
            return pc.scalar(n.this is True)
        if isinstance(n, exp.IsNan):
            return Expr._call("is_nan", [self.node(n.this)])
        if isinstance(n, exp.Contains | exp.StartsWith | exp.EndsWith):
            pattern = n.expression
            if not (isinstance(pattern, exp.Literal) and pattern.is_string):
                raise self.refuse(n)
            fn = {exp.Contains: "match_substring", exp.StartsWith: "starts_with", exp.EndsWith: "ends_with"}
            return Expr._call(fn[type(n)], [self.node(n.this)], pc.MatchSubstringOptions(pattern.this))
        if isinstance(n, exp.Like | exp.ILike):
            pattern = _like_pattern(n)
            if pattern is None:
                raise self.refuse(n)
            options = pc.MatchSubstringOptions(pattern, ignore_case=isinstance(n, exp.ILike))
            matched = Expr._call("match_like", [self.node(n.this)], options)
            return ~matched if n.args.get("negate") else matched
        if type(n) in _TEXT_FNS:
            return Expr._call(_TEXT_FNS[type(n)], [self.node(n.this)])
        if type(n) in _ARITH:
            a, b = self.pair(n.this, n.expression)
            return Expr._call(_ARITH[type(n)], [a, b])
        if isinstance(n, exp.Literal | exp.Neg | exp.Cast | exp.Null):
            value = self.literal(n, None)
            if value is None:
                raise self.refuse(n)
            return pc.scalar(value)
        raise self.refuse(n)

    def is_(self, n: exp.Is, *, negate: bool) -> Any:
        if not isinstance(n.expression, exp.Null):
            raise self.refuse(n)
        target = self.node(n.this)
        return target.is_valid() if negate else target.is_null()

    def type_of(self, n: exp.Expr) -> pa.DataType | None:
        return self.types.get(n.name) if isinstance(n, exp.Column) else None

    def pair(self, a: exp.Expr, b: exp.Expr) -> tuple[Any, Any]:
        """Both sides; a literal beside a column takes the column's type (as SQL casts it). A number
        beside a text column is refused: read as the text "5" it would match nothing, silently."""
        _text_beside_number(a, b, self.types)
        _text_beside_number(b, a, self.types)
        left = self.side(a, self.type_of(b))
        right = self.side(b, self.type_of(a))
        return left, right

    def side(self, n: exp.Expr, other: pa.DataType | None) -> Any:
        if isinstance(n, exp.Literal | exp.Neg | exp.Cast | exp.Boolean):
            value = self.literal(n, other)
            if value is None:
                raise self.refuse(n)
            return pc.scalar(value)
        return self.node(n)

    def literal(self, n: exp.Expr, to: pa.DataType | None) -> pa.Scalar | None:
        """A literal as an Arrow scalar, cast to `to` (a date column compared with '2025-01-01')."""
        value: Any
        if isinstance(n, exp.Neg) and isinstance(n.this, exp.Literal) and not n.this.is_string:
            inner = self.literal(n.this, None)
            value = None if inner is None else pa.scalar(-inner.as_py())
        elif isinstance(n, exp.Literal):
            if n.is_string:
                value = pa.scalar(n.this)
            else:
                text = str(n.this)
                value = pa.scalar(int(text) if text.lstrip("-").isdigit() else float(text))
        elif isinstance(n, exp.Boolean):
            value = pa.scalar(n.this is True)
        elif isinstance(n, exp.Cast) and isinstance(n.this, exp.Literal) and n.this.is_string:
            kind = n.to.this
            try:
                if kind == exp.DataType.Type.DATE:
                    value = pa.scalar(dt.date.fromisoformat(n.this.this))
                elif kind in (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ):
                    value = pa.scalar(dt.datetime.fromisoformat(n.this.this))
                else:
                    return None
            except ValueError:
                return None
        else:
            return None
        if to is not None and value.type != to:
            try:
                value = _same_kind(value, to) or value.cast(to)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError):
                return None
        return value


def _like_pattern(n: exp.Expr) -> str | None:
    """A LIKE's pattern, where pyarrow's `match_like` reads it as DuckDB does (no ESCAPE clause and no
    backslash: pyarrow escapes with it, DuckDB's LIKE does not)."""
    pattern = n.expression
    if n.args.get("escape") or not (isinstance(pattern, exp.Literal) and pattern.is_string):
        return None
    return None if "\\" in pattern.this else str(pattern.this)


def _text_beside_number(column: exp.Expr, value: exp.Expr, types: dict[str, pa.DataType]) -> None:
    """Refuse a number compared with a text column: cast to the text "5" it matches nothing, silently
    (DuckDB's filter would cast the column and fail; PostgreSQL refuses text = integer)."""
    kind = types.get(column.name) if isinstance(column, exp.Column) else None
    while isinstance(value, exp.Paren):
        value = value.this
    number = isinstance(value, exp.Neg) or (isinstance(value, exp.Literal) and not value.is_string)
    if kind is not None and number and (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise ExpressionError(
            f"`{column.name}` is text and {value.sql()} is a number.",
            hint=f"Quote the value as the column writes it: {column.name} == '{value.sql()}', or "
            f"'0{value.sql()}' if its values are zero-padded (list_files shows a partition's values).",
        )


def _same_kind(value: pa.Scalar, to: pa.DataType) -> pa.Scalar | None:
    """A number as another width of number, a string as another string type: made directly
    (~1 us; Scalar.cast costs ~0.35 ms each in pyarrow 26), with the cast's range checks."""
    t = value.type
    ints = pa.types.is_integer
    numbers = (ints(t) and (ints(to) or pa.types.is_floating(to))) or (
        pa.types.is_floating(t) and pa.types.is_floating(to)
    )
    strings = pa.types.is_string(t) and (pa.types.is_large_string(to) or pa.types.is_string_view(to))
    return pa.scalar(value.as_py(), type=to) if numbers or strings else None


def iceberg_filter(where: str, schema: pa.Schema, what: str) -> Any:
    """`where` as a pyiceberg row filter (files pruned by their partition values and column
    statistics, rows filtered by pyiceberg): comparisons of a column with values only."""
    types = {f.name: f.type for f in schema}
    compiled = compile_filter(where, schema.names, what, types)
    return _Iceberg(types).node(sqlglot.parse_one(compiled.sql, read="duckdb"))


class _Iceberg(_Translate):
    """The same walk, building pyiceberg's expressions; anything but column-vs-value is refused."""

    def node(self, n: exp.Expr) -> Any:
        from pyiceberg import expressions as ie

        compare: dict[type[exp.Expr], Any] = {
            exp.EQ: ie.EqualTo,
            exp.NEQ: ie.NotEqualTo,
            exp.GT: ie.GreaterThan,
        }
        compare |= {exp.GTE: ie.GreaterThanOrEqual, exp.LT: ie.LessThan, exp.LTE: ie.LessThanOrEqual}
        flipped: dict[type[exp.Expr], Any] = {
            exp.GT: ie.LessThan,
            exp.GTE: ie.LessThanOrEqual,
            exp.LT: ie.GreaterThan,
        }
        flipped |= {exp.LTE: ie.GreaterThanOrEqual, exp.EQ: ie.EqualTo, exp.NEQ: ie.NotEqualTo}
        if isinstance(n, exp.Paren):
            return self.node(n.this)
        if isinstance(n, exp.And):
            return ie.And(self.node(n.this), self.node(n.expression))
        if isinstance(n, exp.Or):
            return ie.Or(self.node(n.this), self.node(n.expression))
        if isinstance(n, exp.Not):
            if isinstance(n.this, exp.Is) and isinstance(n.this.expression, exp.Null):
                return ie.NotNull(self.column(n.this.this))
            return ie.Not(self.node(n.this))
        if isinstance(n, exp.Is) and isinstance(n.expression, exp.Null):
            return ie.IsNull(self.column(n.this))
        if isinstance(n, exp.IsNan):
            return ie.IsNaN(self.column(n.this))
        if type(n) in compare:
            if isinstance(n.this, exp.Column):
                return compare[type(n)](self.column(n.this), self.value(n.expression, n.this))
            if isinstance(n.expression, exp.Column):
                return flipped[type(n)](self.column(n.expression), self.value(n.this, n.expression))
        if isinstance(n, exp.In) and not n.args.get("query") and n.expressions:
            return ie.In(self.column(n.this), {self.value(v, n.this) for v in n.expressions})
        if isinstance(n, exp.Between):
            name = self.column(n.this)
            low, high = self.value(n.args["low"], n.this), self.value(n.args["high"], n.this)
            return ie.And(ie.GreaterThanOrEqual(name, low), ie.LessThanOrEqual(name, high))
        if isinstance(n, exp.StartsWith) and isinstance(n.expression, exp.Literal) and n.expression.is_string:
            return ie.StartsWith(self.column(n.this), n.expression.this)
        prefix = _like_pattern(n) if isinstance(n, exp.Like) else None
        if prefix and prefix.endswith("%") and not any(c in prefix[:-1] for c in "%_"):  # LIKE 'abc%'
            made = ie.NotStartsWith if n.args.get("negate") else ie.StartsWith
            return made(self.column(n.this), prefix[:-1])
        raise self.refuse(n)

    def column(self, n: exp.Expr) -> str:
        if not isinstance(n, exp.Column) or n.name not in self.types:
            raise self.refuse(n)
        return n.name

    def value(self, n: exp.Expr, column: exp.Expr) -> Any:
        _text_beside_number(column, n, self.types)
        scalar = self.literal(n, self.type_of(column))
        if scalar is None or not scalar.is_valid:
            raise self.refuse(n)
        value = scalar.as_py()
        return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value
