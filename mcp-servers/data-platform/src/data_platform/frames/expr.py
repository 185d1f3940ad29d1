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

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from data_platform.errors import ExpressionError, did_you_mean, list_for_message
from data_platform.frames.engine import quote_ident

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


@dataclass
class Compiled:
    """The rendered SQL condition and the columns it reads."""

    sql: str
    columns: list[str] = field(default_factory=list)


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

    # -- grammar -----------------------------------------------------------
    def parse(self) -> str:
        if self.tok.kind == "end":
            raise ExpressionError("The expression is empty.", hint=EXPR_HINT)
        sql = self.or_()
        if self.tok.kind != "end":
            self.fail("unexpected text (missing AND/OR?)")
        return sql

    def or_(self) -> str:
        parts = [self.and_()]
        while self.word("or"):
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def and_(self) -> str:
        parts = [self.not_()]
        while self.word("and"):
            self.take()
            parts.append(self.not_())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def not_(self) -> str:
        if self.word("not"):
            self.take()
            return f"(NOT {self.not_()})"
        return self.predicate()

    def predicate(self) -> str:
        left = self.sum_()
        t = self.tok
        if t.kind == "op" and t.text in ("=", "==", "!=", "<>", "<", "<=", ">", ">="):
            self.take()
            op = {"==": "=", "!=": "<>"}.get(t.text, t.text)
            return f"({left} {op} {self.sum_()})"
        if self.word("is"):
            self.take()
            negate = self.word("not")
            if negate:
                self.take()
            self.expect("null")
            return f"({left} IS {'NOT ' if negate else ''}NULL)"
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
            return f"({left} {n}IN ({', '.join(items)}))"
        if self.word("between"):
            self.take()
            low = self.sum_()
            self.expect("and")
            return f"({left} {n}BETWEEN {low} AND {self.sum_()})"
        if self.word("like", "ilike"):
            op = self.take().text.upper()
            return f"({left} {n}{op} {self.sum_()})"
        return left

    def sum_(self) -> str:
        out = self.product()
        while self.tok.kind == "op" and self.tok.text in ("+", "-", "||"):
            op = self.take().text
            out = f"({out} {op} {self.product()})"
        return out

    def product(self) -> str:
        out = self.unary()
        while self.tok.kind == "op" and self.tok.text in ("*", "/", "%"):
            op = self.take().text
            out = f"({out} {op} {self.unary()})"
        return out

    def unary(self) -> str:
        if self.tok.text == "-":
            self.take()
            return f"(-{self.unary()})"
        return self.atom()

    def atom(self) -> str:
        t = self.tok
        if t.kind == "number":
            self.take()
            return t.text
        if t.kind == "string":
            self.take()
            return t.text  # already a SQL literal: quotes doubled inside, nothing else special
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
                return f"{low.upper()} {nxt.text}"
            if low in ("true", "false", "null"):
                self.take()
                return low.upper()
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
        return ""  # pragma: no cover

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
            args.append(self.or_())
            while self.tok.text == ",":
                self.take()
                args.append(self.or_())
        self.expect(")")
        low, high = FUNCTIONS[name]
        if not low <= len(args) <= high:
            raise ExpressionError(f"{name}() takes {low}..{high} arguments, got {len(args)}.", hint=EXPR_HINT)
        return f"{name}({', '.join(args)})"

    def column(self, name: str, pos: int) -> str:
        actual = resolve_column(name, self.columns, self.ref)
        if actual not in self.used:
            self.used.append(actual)
        return quote_ident(actual)


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
    return Compiled(parser.parse(), parser.used)
