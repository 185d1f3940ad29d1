"""The filter language: a small boolean expression, SQL- or pandas.query-style, parsed and re-rendered.

User text never reaches an engine as written. It is tokenized and parsed by
the recursive-descent parser in grammar.py into SQL that contains only: quoted column
identifiers that exist in the ref, escaped literals, whitelisted operators and
functions, and parentheses. Anything else (a `;`, a comment, a subquery, an
unknown function or method, a table name) is an ExpressionError naming the position.

The grammar is in grammar.py; pandas' method calls (`x.isna()`, `name.str.contains("A")`) in
pandas_query.py; their Arrow-kernel twins in masks.py.

pandas.query habits read the way `DataFrame.query` reads them: `&`/`|` bind like AND/OR
(looser than comparisons: `a > 1 & b < 2` is `(a > 1) AND (b < 2)`), `~` is NOT, `==` is
`=`, `a < b < c` chains, `x == [1, 2]` is IN, and a "double-quoted" name no column has is a
string (said in a note; a name that is a column stays the column, as in SQL).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from data_platform.errors import ExpressionError
from data_platform.frames.columns import find_column, resolve_column
from data_platform.frames.grammar import Parser
from data_platform.frames.masks import Conjuncts, NoKernel
from data_platform.frames.tokens import EXPR_HINT

__all__ = ["Compiled", "compile_filter", "evaluate", "find_column", "null_note", "resolve_column"]


@dataclass
class Compiled:
    """The rendered SQL condition, the columns it reads, and, where the condition has a kernel
    twin with exactly SQL's meaning, its AND-ed parts as masks (else DuckDB runs the SQL);
    `notes` say how pandas-style text was read."""

    sql: str
    columns: list[str] = field(default_factory=list)
    conjuncts: Conjuncts = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    null_sensitive: list[str] = field(default_factory=list)  # columns for null_note()


def compile_filter(
    text: str, columns: Sequence[str], ref: str, types: Mapping[str, pa.DataType] | None = None
) -> Compiled:
    """Parse a filter expression against `columns` (and their `types`, which pandas' `isna()`
    and `.str` methods use); returns safe SQL for a WHERE clause, and notes on how it was read."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("The filter expression is empty.", hint=EXPR_HINT)
    if len(text) > 4000:
        raise ExpressionError("The filter expression is too long (over 4,000 characters).")
    if "\x00" in text:
        raise ExpressionError("The filter expression contains a NUL byte.", hint=EXPR_HINT)
    parser = Parser(text, columns, ref, types or {})
    part = parser.parse()
    conjuncts = part.conjuncts or ([(part.mask, part.cols)] if part.mask is not None else [])
    notes = []
    if parser.strings:
        names = ", ".join(f'"{s}"' for s in parser.strings)
        one = len(parser.strings) == 1
        notes.append(
            f"Read {names} as {'a string' if one else 'strings'}: "
            f"no column has {'that name' if one else 'those names'}."
        )
    notes.extend(dict.fromkeys(parser.notes))
    nulls = parser.used if parser.pandas and parser.negates else []
    return Compiled(part.sql, parser.used, conjuncts, notes, nulls)


def null_note(compiled: Compiled, table: pa.Table) -> str | None:
    """pandas keeps null rows under !=, ~ and not in (NaN != "FR" is True); SQL's rule, ours,
    drops them. Said when a pandas-style negation reads a column that has nulls."""
    names = [c for c in compiled.null_sensitive if table.column(c).null_count]
    if not names:
        return None
    keep = " | ".join(f"{c if c.isidentifier() else f'`{c}`'}.isna()" for c in names[:3])
    return (
        f"Rows where {', '.join(names)} is null never match here (SQL's rule; pandas keeps them "
        f"under != and ~): add | {keep} to keep them."
    )


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
    except (NoKernel, pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError):
        return None  # types the kernels will not compare as SQL would (a date with a string...)
    return table
