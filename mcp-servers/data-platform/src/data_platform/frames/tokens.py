"""The filter language's tokens: what may appear in a filter at all, before any grammar.

A character outside these tokens (`;`, `@`, `$`...) and any comment stops the expression here,
with its position; the parser in grammar.py then decides what the tokens may mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from data_platform.errors import ExpressionError

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--|/\*)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^']|'')*')
  | (?P<qident>"(?:[^"]|"")*"|`[^`]+`)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|<>|!=|==|\|\||[=<>+\-*/%(),&|~\[\].])
    """,
    re.VERBOSE,
)
EXPR_HINT = (
    "Write a condition over column names and literals, e.g. amount > 100 AND country = 'FR', "
    "status IS NULL, region IN ('EU', 'US'), name LIKE 'A%', day >= DATE '2025-01-01'; "
    'or pandas.query style: country == "FR" & amount > 100, name.str.contains("A"), x.notna().'
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
        if not m and text[pos] == "@":
            raise ExpressionError(
                f"@ at position {pos + 1}: a filter cannot see Python variables; write the value itself.",
                hint=EXPR_HINT,
            )
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
