"""The filter grammar: a recursive-descent parser from tokens to SQL (and kernel twins).

    expr      := or
    or        := and ((OR | '|') and)*
    and       := not ((AND | '&') not)*
    not       := (NOT | '~') not | predicate
    predicate := sum [cmp sum (cmp sum)* | cmp list | IS [NOT] NULL | [NOT] IN list
                      | [NOT] BETWEEN sum AND sum | [NOT] (I)LIKE sum]
    list      := '(' sum, ... ')' | '[' sum, ... ']'
    sum       := product ((+ | - | ||) product)*
    product   := unary ((* | / | %) unary)*
    unary     := - unary | atom
    atom      := primary ('.' [str. | dt.] method [(args)])*      (pandas_query.py)
    primary   := number | 'string' | TRUE | FALSE | NULL | DATE 'x' | TIMESTAMP 'x'
               | function(expr, ...) | column | "quoted column" | `quoted column` | (expr)

Each rule returns a `Part`: its SQL, and where the meaning is identical, an Arrow-kernel mask
(masks.py). The entry point and what the language allows are in expr.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NoReturn

import pyarrow as pa
import pyarrow.compute as pc

from data_platform.errors import ExpressionError
from data_platform.frames import pandas_query
from data_platform.frames.columns import find_column, resolve_column
from data_platform.frames.engine import quote_ident
from data_platform.frames.masks import (
    Mask,
    Part,
    boolean_column,
    cols,
    compare_mask,
    conjoin,
    disjoin,
    in_mask,
    negate,
    sql_string,
)
from data_platform.frames.tokens import EXPR_HINT, Token, tokenize

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
_CMP_OPS = ("=", "==", "!=", "<>", "<", "<=", ">", ">=")


class Parser:
    """One expression's parse: its tokens, the columns it used, and how pandas-style text was read."""

    def __init__(self, text: str, columns: Sequence[str], ref: str, types: Mapping[str, pa.DataType]):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.columns = list(columns)
        self.ref = ref
        self.types = types
        self.used: list[str] = []
        self.notes: list[str] = []
        self.strings: list[str] = []  # "double-quoted" names read as strings
        self.pandas = False  # written with a habit only pandas.query has (==, &, ~, .isna(), "text"...)
        self.negates = False  # !=, NOT, ~, NOT IN: where pandas keeps null rows and SQL does not

    # -- token helpers ---------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def word(self, *words: str) -> bool:
        t = self.tok
        return t.kind == "ident" and t.text.lower() in words

    def op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def take(self) -> Token:
        t = self.tok
        self.i += 1
        return t

    def expect(self, text: str) -> None:
        if self.tok.text.lower() != text:
            self.fail(f"expected {text.upper() if text.isalpha() else repr(text)}")
        self.take()

    def fail(self, what: str) -> NoReturn:
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
        while self.word("or") or self.op("|"):
            self.pandas |= self.take().text == "|"
            parts.append(self.and_())
        return disjoin(parts)

    def and_(self) -> Part:
        parts = [self.not_()]
        while self.word("and") or self.op("&"):
            self.pandas |= self.take().text == "&"
            parts.append(self.not_())
        return conjoin(parts)

    def not_(self) -> Part:
        if self.word("not") or self.op("~"):
            self.pandas |= self.take().text == "~"
            self.negates = True
            return negate(self.not_())
        part = self.predicate()
        self.need_column(part)  # a "name" alone as the condition: a column, never a string
        if part.column and part.mask is None:  # a bare column as the condition: it must be boolean
            name = part.column
            part.mask = lambda t: boolean_column(t, name)
        return part

    def predicate(self) -> Part:
        left = self.sum_()
        if self.op(*_CMP_OPS):
            parts: list[Part] = []
            while self.op(*_CMP_OPS):  # a < b < c is (a < b) AND (b < c), as in Python
                written = self.take().text
                op = {"==": "=", "!=": "<>"}.get(written, written)
                self.pandas |= written == "=="
                self.negates |= op == "<>"
                if op in ("=", "<>") and self.op("["):  # pandas: x == [a, b] is x in [a, b]
                    self.pandas = True
                    self.notes.append(f"Read {written} [...] as {'NOT ' * (op == '<>')}IN (pandas.query).")
                    parts.append(self.in_list(left, self.list_(), op == "<>"))
                    break
                right = self.sum_()
                parts.append(self.compare(left, op, right))
                left = right
            return conjoin(parts)
        if self.word("is"):
            self.take()
            negated = self.word("not")
            if negated:
                self.take()
            if not self.word("null", "none"):  # None: Python's `x is None`
                self.fail("expected NULL")
            self.take()
            self.need_column(left)
            mask: Mask | None = None
            if (name := left.column) is not None:
                test = pc.is_valid if negated else pc.is_null
                mask = lambda t: test(t.column(name))  # noqa: E731
            return Part(f"({left.sql} IS {'NOT ' if negated else ''}NULL)", mask, cols=left.cols)
        negated = False
        if self.word("not"):
            self.take()
            negated = self.negates = True
            if not self.word("in", "between", "like", "ilike"):
                self.fail("expected IN, BETWEEN, LIKE or ILIKE after NOT")
        if self.word("in"):
            self.take()
            return self.in_list(left, self.list_(), negated)
        if self.word("between"):
            self.take()
            low = self.sum_()
            self.expect("and")
            return self.between(left, low, self.sum_(), negated)
        if self.word("like", "ilike"):
            op = self.take().text.upper()
            self.need_column(left)
            right = self.sum_()
            return Part(f"({left.sql} {'NOT ' * negated}{op} {right.sql})", cols=cols(left, right))
        return left

    def list_(self) -> list[Part]:
        close = {"(": ")", "[": "]"}.get(self.tok.text) if self.tok.kind == "op" else None
        if close is None:
            self.fail("expected a list, ( ... ) or [ ... ]")
        self.take()
        items = [self.sum_()]
        while self.op(","):
            self.take()
            if self.op(close):  # a trailing comma, as Python allows
                break
            items.append(self.sum_())
        self.expect(str(close))
        return items

    def sum_(self) -> Part:
        out = self.product()
        while self.op("+", "-", "||"):
            op = self.take().text
            right = self.product()  # arithmetic keeps DuckDB's semantics (integer / is not div)
            out = Part(f"({out.sql} {op} {right.sql})", cols=cols(out, right))
        return out

    def product(self) -> Part:
        out = self.unary()
        while self.op("*", "/", "%"):
            op = self.take().text
            right = self.unary()
            out = Part(f"({out.sql} {op} {right.sql})", cols=cols(out, right))
        return out

    def unary(self) -> Part:
        if self.op("-"):
            self.take()
            inner = self.unary()
            if isinstance(inner.value, int | float) and not isinstance(inner.value, bool):
                return Part(f"(-{inner.sql})", value=-inner.value)
            return Part(f"(-{inner.sql})", cols=inner.cols)
        return self.atom()

    def atom(self) -> Part:
        return pandas_query.methods(self, self.primary())  # column.method(...), column.str.method(...)

    def primary(self) -> Part:
        t = self.tok
        if t.kind == "number":
            self.take()
            number = float(t.text) if any(c in t.text for c in ".eE") else int(t.text)
            return Part(t.text, value=number) if abs(number) < 2**63 else Part(t.text)
        if t.kind == "string":
            self.take()
            return Part(t.text, value=t.text[1:-1].replace("''", "'"))  # t.text: already a SQL literal
        if t.text == "(" and t.kind == "op":
            self.take()
            inner = self.or_()
            self.expect(")")
            return inner
        if t.kind == "qident":
            self.take()
            if t.text[0] == "`":
                return self.column(t.text[1:-1], t.pos)
            name = t.text[1:-1].replace('""', '"')
            if find_column(name, self.columns) is not None:
                part = self.column(name, t.pos)
                part.quoted_column = True
                return part
            # pandas.query: "FR" is a string. No column has that name, so SQL could not mean it.
            if name not in self.strings:
                self.strings.append(name)
            self.pandas = True
            return Part(sql_string(name), value=name, quoted=name)
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
                return self.function()
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

    def function(self) -> Part:
        t = self.take()
        name = t.text.lower()
        if name not in FUNCTIONS:
            raise ExpressionError(
                f"Function {t.text}() is not allowed in a filter.",
                hint=f"Allowed functions: {', '.join(sorted(FUNCTIONS))}. For anything else, use sql.",
            )
        self.expect("(")
        args: list[Part] = []
        if self.tok.text != ")":
            args.append(self.or_())
            while self.tok.text == ",":
                self.take()
                args.append(self.or_())
        self.expect(")")
        low, high = FUNCTIONS[name]
        if not low <= len(args) <= high:
            raise ExpressionError(f"{name}() takes {low}..{high} arguments, got {len(args)}.", hint=EXPR_HINT)
        return Part(f"{name}({', '.join(a.sql for a in args)})", cols=cols(*args))

    def column(self, name: str, pos: int) -> Part:
        actual = resolve_column(name, self.columns, self.ref)
        if actual not in self.used:
            self.used.append(actual)
        return Part(quote_ident(actual), column=actual, cols=frozenset([actual]))

    # -- builders shared by the SQL forms and pandas' methods ----------------------------
    def need_column(self, part: Part) -> None:
        """Where only a column makes sense, a "quoted" name no column has is the column-not-found error."""
        if part.quoted is not None:
            resolve_column(part.quoted, self.columns, self.ref)

    def compare(self, left: Part, op: str, right: Part) -> Part:
        if left.literal and right.literal:  # "order date" > '2024-01-01': a column was meant
            self.need_column(left)
            self.need_column(right)
        for a, b in ((left, right), (right, left)):
            if b.column and a.column != b.column:  # country == "FR" where FR is a column too
                self.said_column(a)
        return Part(f"({left.sql} {op} {right.sql})", compare_mask(left, op, right), cols=cols(left, right))

    def said_column(self, part: Part) -> None:
        """A "double-quoted" column where pandas would have read text: say which reading won."""
        if part.quoted_column and part.column:
            self.notes.append(
                f'Read "{part.column}" as the column {part.column} (a column has that name); '
                f"for the text write {sql_string(part.column)}."
            )

    def in_list(self, left: Part, items: list[Part], negated: bool) -> Part:
        self.need_column(left)
        for item in items:
            self.said_column(item)
        sql = f"({left.sql} {'NOT ' * negated}IN ({', '.join(i.sql for i in items)}))"
        if left.column is None or not all(i.literal for i in items):
            return Part(sql, cols=cols(left, *items))
        return Part(sql, in_mask(left.column, [i.value for i in items], negated), cols=left.cols)

    def between(self, left: Part, low: Part, high: Part, negated: bool) -> Part:
        self.need_column(left)
        sql = f"({left.sql} {'NOT ' * negated}BETWEEN {low.sql} AND {high.sql})"
        lo, hi = compare_mask(left, ">=", low), compare_mask(left, "<=", high)
        if lo is None or hi is None:
            return Part(sql, cols=cols(left, low, high))

        def between(t: pa.Table) -> pa.ChunkedArray:
            inside = pc.and_kleene(lo(t), hi(t))
            return pc.invert(inside) if negated else inside

        return Part(sql, between, cols=left.cols)
