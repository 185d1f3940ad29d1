"""The filter language: a small SQL-like boolean expression, parsed and re-rendered.

User text never reaches an engine as written. It is tokenized and parsed by
this recursive-descent parser into SQL that contains only: quoted column
identifiers that exist in the ref, escaped literals, whitelisted operators and
functions, and parentheses. Anything else (a `;`, a comment, a subquery, an
unknown function, a table name) is an ExpressionError naming the position.

    expr      := or
    or        := and (OR and)*
    and       := not (AND not)*
    not       := NOT not | predicate
    predicate := sum [cmp sum | IS [NOT] NULL | [NOT] IN (sum, ...)
                      | [NOT] BETWEEN sum AND sum | [NOT] (I)LIKE sum]
    sum       := product ((+ | - | ||) product)*
    product   := unary ((* | / | %) unary)*
    unary     := - unary | atom
    atom      := number | 'string' | TRUE | FALSE | NULL | DATE 'x' | TIMESTAMP 'x'
               | function(expr, ...) | column | "quoted column" | (expr)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from data_platform.errors import ExpressionError, did_you_mean, list_for_message
from data_platform.frames.engine import quote_ident
from data_platform.frames.types import is_numeric

FUNCTIONS: dict[str, tuple[int, int]] = {
    # name: (min args, max args)
    "lower": (1, 1),
    "upper": (1, 1),
    "length": (1, 1),
    "trim": (1, 1),
    "abs": (1, 1),
    "round": (1, 2),
    "floor": (1, 1),
    "ceil": (1, 1),
    "coalesce": (1, 8),
    "year": (1, 1),
    "month": (1, 1),
    "day": (1, 1),
    "hour": (1, 1),
    "contains": (2, 2),
    "starts_with": (2, 2),
    "ends_with": (2, 2),
    "isnan": (1, 1),
}
RESERVED = {"select", "from", "where", "union", "with", "exists", "case", "cast", "group", "order", "join"}
KEYWORDS = {"and", "or", "not", "is", "null", "in", "between", "like", "ilike", "true", "false"}
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--|/\*)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^']|'')*')
  | (?P<qident>"(?:[^"]|"")+"|`[^`]+`)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|<>|!=|==|\|\||[=<>+\-*/%(),])
    """,
    re.VERBOSE,
)
EXPR_HINT = (
    "Write a condition over column names and literals, e.g. amount > 100 AND country = 'FR', "
    "status IS NULL, region IN ('EU', 'US'), name LIKE 'A%', day >= DATE '2025-01-01'."
)


@dataclass
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ExpressionError(
                f"Unexpected character {text[pos]!r} at position {pos + 1} in the expression.", hint=EXPR_HINT
            )
        kind = m.lastgroup or ""
        if kind == "comment":
            raise ExpressionError("Comments are not allowed in an expression.", hint=EXPR_HINT)
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


Mask = Callable[[pa.Table], pa.ChunkedArray]
"""A condition evaluated by Arrow kernels on a table: a boolean column (null where SQL says NULL)."""


@dataclass
class Compiled:
    """The rendered SQL condition, the columns it reads, and, where the condition has a kernel
    twin with exactly SQL's meaning, its AND-ed parts as masks (else DuckDB runs the SQL)."""

    sql: str
    columns: list[str] = field(default_factory=list)
    conjuncts: list[tuple[Mask, frozenset[str]]] = field(default_factory=list)


_NO_VALUE = object()


@dataclass
class Part:
    """One parsed piece: its SQL and, when it is simple enough, what the kernel path needs."""

    sql: str
    mask: Mask | None = None  # a condition with a kernel twin
    column: str | None = None  # a bare column reference
    value: object = _NO_VALUE  # a non-NULL literal's Python value
    cols: frozenset[str] = frozenset()
    conjuncts: list[tuple[Mask, frozenset[str]]] | None = None  # the parts of an AND

    @property
    def literal(self) -> bool:
        return self.value is not _NO_VALUE


def _cols(*parts: Part) -> frozenset[str]:
    return frozenset().union(*(p.cols for p in parts))


class _NoKernel(Exception):
    """This condition needs SQL's own semantics: let DuckDB evaluate it."""


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _column(t: pa.Table, name: str) -> pa.ChunkedArray:
    col = t.column(name)
    if not (is_numeric(col.type) or _is_text(col.type) or pa.types.is_boolean(col.type)):
        raise _NoKernel  # dates, timestamps...: SQL casts a string literal to them
    return col


# col OP literal. NaN: SQL orders it above every number, IEEE says every comparison is false;
# `x > v` as NOT (x <= v) (and >= as NOT <) gives SQL's answer for NaN and NULL alike.
_CMP: dict[str, Callable[[pa.ChunkedArray, object], pa.ChunkedArray]] = {
    "=": pc.equal,
    "<>": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": lambda c, v: pc.invert(pc.less_equal(c, v)),
    ">=": lambda c, v: pc.invert(pc.less(c, v)),
}
_SWAP = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _compare(left: Part, op: str, right: Part) -> Mask | None:
    if left.literal and right.column:
        left, right, op = right, left, _SWAP[op]
    if not (left.column and right.literal):
        return None  # column-to-column or expressions: NaN = NaN is true in SQL only
    name, value = left.column, right.value
    return lambda t: _CMP[op](_column(t, name), value)


def _all_masks(parts: list[Part]) -> bool:
    return all(p.mask is not None for p in parts)


class _Parser:
    def __init__(self, text: str, columns: Sequence[str], ref: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.columns = list(columns)
        self.ref = ref
        self.used: list[str] = []

    # -- token helpers ---------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def word(self, *words: str) -> bool:
        t = self.tok
        return t.kind == "ident" and t.text.lower() in words

    def take(self) -> Token:
        t = self.tok
        self.i += 1
        return t

    def expect(self, text: str) -> None:
        if self.tok.text.lower() != text:
            self.fail(f"expected {text.upper() if text.isalpha() else repr(text)}")
        self.take()

    def fail(self, what: str) -> None:
        t = self.tok
        found = "the end of the expression" if t.kind == "end" else repr(t.text)
        raise ExpressionError(
            f"Bad expression: {what} at position {t.pos + 1}, found {found}.", hint=EXPR_HINT
        )

    # -- grammar: each rule returns its SQL, and a kernel twin where the meaning is identical --
    def parse(self) -> Part:
        if self.tok.kind == "end":
            raise ExpressionError("The expression is empty.", hint=EXPR_HINT)
        part = self.or_()
        if self.tok.kind != "end":
            self.fail("unexpected text (missing AND/OR?)")
        return part

    def or_(self) -> Part:
        parts = [self.and_()]
        while self.word("or"):
            self.take()
            parts.append(self.and_())
        if len(parts) == 1:
            return parts[0]
        sql = "(" + " OR ".join(p.sql for p in parts) + ")"
        if not _all_masks(parts):
            return Part(sql, cols=_cols(*parts))
        masks = [p.mask for p in parts]
        return Part(sql, lambda t: functools.reduce(pc.or_kleene, [m(t) for m in masks]), cols=_cols(*parts))

    def and_(self) -> Part:
        parts = [self.not_()]
        while self.word("and"):
            self.take()
            parts.append(self.not_())
        if len(parts) == 1:
            return parts[0]
        sql = "(" + " AND ".join(p.sql for p in parts) + ")"
        if not _all_masks(parts):
            return Part(sql, cols=_cols(*parts))
        masks = [p.mask for p in parts]
        conjuncts = [c for p in parts for c in (p.conjuncts or [(p.mask, p.cols)])]
        return Part(
            sql,
            lambda t: functools.reduce(pc.and_kleene, [m(t) for m in masks]),
            cols=_cols(*parts),
            conjuncts=conjuncts,
        )

    def not_(self) -> Part:
        if self.word("not"):
            self.take()
            inner = self.not_()
            mask = inner.mask
            return Part(
                f"(NOT {inner.sql})", (lambda t: pc.invert(mask(t))) if mask else None, cols=inner.cols
            )
        part = self.predicate()
        if part.column and part.mask is None:  # a bare column as the condition: it must be boolean
            name = part.column
            part.mask = lambda t: _boolean(t, name)
        return part

    def predicate(self) -> Part:
        left = self.sum_()
        t = self.tok
        if t.kind == "op" and t.text in ("=", "==", "!=", "<>", "<", "<=", ">", ">="):
            self.take()
            op = {"==": "=", "!=": "<>"}.get(t.text, t.text)
            right = self.sum_()
            return Part(f"({left.sql} {op} {right.sql})", _compare(left, op, right), cols=_cols(left, right))
        if self.word("is"):
            self.take()
            negate = self.word("not")
            if negate:
                self.take()
            self.expect("null")
            mask: Mask | None = None
            if (name := left.column) is not None:
                test = pc.is_valid if negate else pc.is_null
                mask = lambda t: test(t.column(name))  # noqa: E731
            return Part(f"({left.sql} IS {'NOT ' if negate else ''}NULL)", mask, cols=left.cols)
        negate = False
        if self.word("not"):
            self.take()
            negate = True
            if not self.word("in", "between", "like", "ilike"):
                self.fail("expected IN, BETWEEN, LIKE or ILIKE after NOT")
        n = "NOT " if negate else ""
        if self.word("in"):
            self.take()
            self.expect("(")
            items = [self.sum_()]
            while self.tok.text == ",":
                self.take()
                items.append(self.sum_())
            self.expect(")")
            sql = f"({left.sql} {n}IN ({', '.join(i.sql for i in items)}))"
            if left.column is None or not all(i.literal for i in items):
                return Part(sql, cols=_cols(left, *items))
            return Part(sql, _in(left.column, [i.value for i in items], negate), cols=left.cols)
        if self.word("between"):
            self.take()
            low = self.sum_()
            self.expect("and")
            high = self.sum_()
            sql = f"({left.sql} {n}BETWEEN {low.sql} AND {high.sql})"
            lo, hi = _compare(left, ">=", low), _compare(left, "<=", high)
            if lo is None or hi is None:
                return Part(sql, cols=_cols(left, low, high))

            def between(t: pa.Table) -> pa.ChunkedArray:
                inside = pc.and_kleene(lo(t), hi(t))
                return pc.invert(inside) if negate else inside

            return Part(sql, between, cols=left.cols)
        if self.word("like", "ilike"):
            op = self.take().text.upper()
            right = self.sum_()
            return Part(f"({left.sql} {n}{op} {right.sql})", cols=_cols(left, right))
        return left

    def sum_(self) -> Part:
        out = self.product()
        while self.tok.kind == "op" and self.tok.text in ("+", "-", "||"):
            op = self.take().text
            right = self.product()  # arithmetic keeps DuckDB's semantics (integer / is not div)
            out = Part(f"({out.sql} {op} {right.sql})", cols=_cols(out, right))
        return out

    def product(self) -> Part:
        out = self.unary()
        while self.tok.kind == "op" and self.tok.text in ("*", "/", "%"):
            op = self.take().text
            right = self.unary()
            out = Part(f"({out.sql} {op} {right.sql})", cols=_cols(out, right))
        return out

    def unary(self) -> Part:
        if self.tok.text == "-":
            self.take()
            inner = self.unary()
            if isinstance(inner.value, int | float) and not isinstance(inner.value, bool):
                return Part(f"(-{inner.sql})", value=-inner.value)
            return Part(f"(-{inner.sql})", cols=inner.cols)
        return self.atom()

    def atom(self) -> Part:
        t = self.tok
        if t.kind == "number":
            self.take()
            number = float(t.text) if any(c in t.text for c in ".eE") else int(t.text)
            return Part(t.text, value=number) if abs(number) < 2**63 else Part(t.text)
        if t.kind == "string":
            self.take()
            return Part(t.text, value=t.text[1:-1].replace("''", "'"))  # t.text: already a SQL literal
        if t.text == "(":
            self.take()
            inner = self.or_()
            self.expect(")")
            return inner
        if t.kind == "qident":
            self.take()
            name = t.text[1:-1].replace('""', '"') if t.text[0] == '"' else t.text[1:-1]
            return self.column(name, t.pos)
        if t.kind == "ident":
            low = t.text.lower()
            nxt = self.tokens[self.i + 1]
            if low in ("date", "timestamp") and nxt.kind == "string":
                self.take()
                self.take()
                return Part(f"{low.upper()} {nxt.text}")
            if low in ("true", "false"):
                self.take()
                return Part(low.upper(), value=low == "true")
            if low == "null":
                self.take()
                return Part("NULL")
            if nxt.text == "(":
                return Part(self.function())
            if low in RESERVED:
                raise ExpressionError(
                    f"{t.text.upper()} is not allowed in a filter (a condition only, no subqueries).",
                    hint='Use the sql tool for queries; quote a column with that name: "select".',
                )
            if low in KEYWORDS:
                self.fail("expected a column or a value")
            self.take()
            return self.column(t.text, t.pos)
        self.fail("expected a column or a value")
        return Part("")  # pragma: no cover

    def function(self) -> str:
        t = self.take()
        name = t.text.lower()
        if name not in FUNCTIONS:
            raise ExpressionError(
                f"Function {t.text}() is not allowed in a filter.",
                hint=f"Allowed functions: {', '.join(sorted(FUNCTIONS))}. For anything else, use sql.",
            )
        self.expect("(")
        args: list[str] = []
        if self.tok.text != ")":
            args.append(self.or_().sql)
            while self.tok.text == ",":
                self.take()
                args.append(self.or_().sql)
        self.expect(")")
        low, high = FUNCTIONS[name]
        if not low <= len(args) <= high:
            raise ExpressionError(f"{name}() takes {low}..{high} arguments, got {len(args)}.", hint=EXPR_HINT)
        return f"{name}({', '.join(args)})"

    def column(self, name: str, pos: int) -> Part:
        actual = resolve_column(name, self.columns, self.ref)
        if actual not in self.used:
            self.used.append(actual)
        return Part(quote_ident(actual), column=actual, cols=frozenset([actual]))


def resolve_column(name: str, columns: Sequence[str], ref: str) -> str:
    """The column `name` (exact, else the one case-insensitive match), or a did-you-mean error."""
    if name in columns:
        return name
    folded = [c for c in columns if c.lower() == name.lower()]
    if len(folded) == 1:
        return folded[0]
    raise ExpressionError(
        f'column "{name}" not found in `{ref}`.{did_you_mean(name, columns)} '
        f"Columns: {list_for_message(columns, 30)}"
    )


def compile_filter(text: str, columns: Sequence[str], ref: str) -> Compiled:
    """Parse a filter expression against `columns`; returns safe SQL for a WHERE clause."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("The filter expression is empty.", hint=EXPR_HINT)
    if len(text) > 4000:
        raise ExpressionError("The filter expression is too long (over 4,000 characters).")
    parser = _Parser(text, columns, ref)
    part = parser.parse()
    conjuncts = part.conjuncts or ([(part.mask, part.cols)] if part.mask is not None else [])
    return Compiled(part.sql, parser.used, conjuncts)


def _boolean(t: pa.Table, name: str) -> pa.ChunkedArray:
    col = t.column(name)
    if not pa.types.is_boolean(col.type):
        raise _NoKernel  # SQL decides what a non-boolean condition means (an error, here)
    return col


def _same_kind(t: pa.DataType, value: object) -> bool:
    if isinstance(value, bool):
        return pa.types.is_boolean(t)
    if isinstance(value, int | float):
        return is_numeric(t)
    return isinstance(value, str) and _is_text(t)


def _in(name: str, values: list[object], negate: bool) -> Mask:
    """col [NOT] IN (literals). is_in() says false for a NULL where SQL says NULL: put it back,
    so NOT (col IN ...) drops NULL rows as SQL does."""

    def mask(t: pa.Table) -> pa.ChunkedArray:
        col = _column(t, name)
        if not all(_same_kind(col.type, v) for v in values):
            raise _NoKernel  # e.g. text IN (1, 2): SQL would cast the column, not the numbers
        try:
            found = pc.is_in(col, value_set=pa.array(values).cast(col.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            raise _NoKernel from None
        found = pc.if_else(pc.is_valid(col), found, pa.scalar(None, pa.bool_()))
        return pc.invert(found) if negate else found

    return mask


def evaluate(table: pa.Table, compiled: Compiled) -> pa.Table | None:
    """The rows where the condition holds by Arrow kernels, or None where DuckDB must decide.

    An AND is applied one part at a time, number columns before text, each on the rows the
    previous parts kept: a selective first test spares the others most of their work.
    """
    if not compiled.conjuncts:
        return None

    def cost(cols: frozenset[str]) -> int:
        types = [table.schema.field(c).type for c in cols]
        return max((1 if pa.types.is_integer(t) or pa.types.is_floating(t) else 3 for t in types), default=0)

    try:
        for mask, _ in sorted(compiled.conjuncts, key=lambda c: cost(c[1])):
            table = table.filter(mask(table))
    except (_NoKernel, pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError):
        return None  # types the kernels will not compare as SQL would (a date with a string...)
    return table
