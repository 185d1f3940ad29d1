"""pandas' Series methods in a filter (`x.isna()`, `name.str.contains("A")`, `x.between(1, 5)`...).

Agents write filters from `DataFrame.query` habit. The parser in grammar.py hands a column
followed by `.` here, where the method and its arguments are read and each allowed method
becomes fixed SQL (with a kernel twin where the meaning is identical): nothing is looked up
by name beyond this table, and patterns must be literals. Meanings follow pandas: `isna()` is
also true for NaN in a float column, `between` is inclusive unless `inclusive=` says otherwise,
`str.contains` takes a regular expression unless `regex=False` (plain text is matched as text
either way).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc

from data_platform.errors import ExpressionError
from data_platform.frames.masks import Mask, Part, conjoin, is_text, sql_string, text_column
from data_platform.frames.tokens import Token


class Builder(Protocol):
    """What a method needs from the parser: its tokens (to read the arguments), the column
    types, the notes, and the builders it shares with the SQL forms (so `x.isin([...])` and
    `x IN (...)` are one thing)."""

    types: Mapping[str, pa.DataType]
    notes: list[str]
    tokens: list[Token]
    i: int
    pandas: bool

    @property
    def tok(self) -> Token: ...
    def op(self, *ops: str) -> bool: ...
    def take(self) -> Token: ...
    def expect(self, text: str) -> None: ...
    def fail(self, what: str) -> None: ...
    def sum_(self) -> Part: ...
    def list_(self) -> list[Part]: ...

    def compare(self, left: Part, op: str, right: Part) -> Part: ...
    def in_list(self, left: Part, items: list[Part], negated: bool) -> Part: ...
    def between(self, left: Part, low: Part, high: Part, negated: bool) -> Part: ...
    def need_column(self, part: Part) -> None: ...


@dataclass(frozen=True)
class Method:
    args: tuple[str, ...] = ()  # each positional argument: "literal", "value" or "list"
    kwargs: tuple[str, ...] = ()
    call: bool = True  # False: a property, written without parentheses (.dt.year)


METHODS: dict[tuple[str, str], Method] = {
    ("", "isna"): Method(),
    ("", "isnull"): Method(),
    ("", "notna"): Method(),
    ("", "notnull"): Method(),
    ("", "between"): Method(("value", "value"), ("inclusive",)),
    ("", "isin"): Method(("list",)),
    ("str", "contains"): Method(("literal",), ("case", "regex", "na")),
    ("str", "startswith"): Method(("literal",), ("na",)),
    ("str", "endswith"): Method(("literal",), ("na",)),
    ("str", "lower"): Method(),
    ("str", "upper"): Method(),
    ("str", "strip"): Method(),
    ("str", "len"): Method(),
    ("dt", "year"): Method(call=False),
    ("dt", "month"): Method(call=False),
    ("dt", "day"): Method(call=False),
    ("dt", "hour"): Method(call=False),
}
_SQL_FUNC = {"lower": "lower", "upper": "upper", "strip": "trim", "len": "length"}
_REGEX_CHARS = re.compile(r"[.^$*+?{}\[\]\\|()]")


def lookup(accessor: str, name: str) -> Method:
    method = METHODS.get((accessor, name))
    if method is None:
        shown = ", ".join(
            f".{a + '.' if a else ''}{n}{'()' if m.call else ''}" for (a, n), m in METHODS.items()
        )
        written = f".{accessor + '.' if accessor else ''}{name}"
        raise ExpressionError(f"{written} is not allowed in a filter.", hint=f"Allowed: {shown}.")
    return method


def methods(b: Builder, part: Part) -> Part:
    """`part` followed by any `.method(...)`, `.str.method(...)`, `.dt.year`: read and built."""
    while b.op("."):
        b.take()
        accessor, name = "", _method_name(b)
        if name in ("str", "dt") and b.op("."):
            b.take()
            accessor, name = name, _method_name(b)
        method = lookup(accessor, name)
        args: list[object] = []
        kwargs: dict[str, object] = {}
        if method.call:
            args, kwargs = _method_args(b, name, method)
        part = build(b, accessor, name, part, args, kwargs)
        b.pandas = True
    return part


def _method_name(b: Builder) -> str:
    if b.tok.kind != "ident":
        b.fail("expected a method name after '.'")
    return b.take().text


def _method_args(b: Builder, name: str, method: Method) -> tuple[list, dict]:
    b.expect("(")
    args: list[object] = []
    kwargs: dict[str, object] = {}
    while not b.op(")"):
        if args or kwargs:
            b.expect(",")
            if b.op(")"):
                break
        if b.tok.kind == "ident" and b.tokens[b.i + 1].text == "=":
            key = b.take().text
            b.take()
            if key not in method.kwargs:
                allowed = ", ".join(method.kwargs) or "none"
                raise ExpressionError(
                    f"{name}() takes no argument {key}= here (keyword arguments: {allowed})."
                )
            kwargs[key] = _literal_arg(b).value
            continue
        if kwargs or len(args) >= len(method.args):
            b.fail(f"{name}() takes {len(method.args)} argument(s)")
        kind = method.args[len(args)]
        args.append(b.list_() if kind == "list" else _literal_arg(b) if kind == "literal" else b.sum_())
    b.take()
    if len(args) != len(method.args):
        b.fail(f"{name}() takes {len(method.args)} argument(s), got {len(args)}")
    return args, kwargs


def _literal_arg(b: Builder) -> Part:
    """A pattern or option: a literal; a "double-quoted" text is a string here whatever columns exist."""
    t = b.tok
    if t.kind == "qident" and t.text[0] == '"':
        b.take()
        value = t.text[1:-1].replace('""', '"')
        return Part(sql_string(value), value=value)
    part = b.sum_()
    if not part.literal:
        raise ExpressionError(
            f"Expected a literal (a pattern or an option) at position {t.pos + 1}, found {t.text!r}.",
            hint='e.g. name.str.contains("A", case=False), x.between(1, 5, inclusive="left").',
        )
    return part


def build(
    b: Builder, accessor: str, name: str, receiver: Part, args: list, kwargs: dict[str, object]
) -> Part:
    """The Part for `receiver.<accessor>.<name>(args, **kwargs)`; args already parsed by kind."""
    b.need_column(receiver)
    if name in ("isna", "isnull", "notna", "notnull"):
        return _isna(b, receiver, negated=name.startswith("not"))
    if name == "between":
        return _between(b, receiver, args[0], args[1], kwargs.get("inclusive", "both"))
    if name == "isin":
        return b.in_list(receiver, args[0], False)
    if accessor == "dt":
        return Part(f"{name}({receiver.sql})", cols=receiver.cols)
    _need_text(b, receiver, name)
    if name in _SQL_FUNC:
        return Part(f"{_SQL_FUNC[name]}({receiver.sql})", cols=receiver.cols)
    pattern = args[0].value
    if not isinstance(pattern, str):
        raise ExpressionError(f'.str.{name}() needs a text pattern, e.g. .str.{name}("A").')
    na = kwargs.get("na")
    if na is not None and not isinstance(na, bool):
        raise ExpressionError("na= takes True or False.")
    if name == "contains":
        part = _contains(b, receiver, pattern, kwargs.get("case", True), kwargs.get("regex", True))
    else:
        sql_func, kernel = (
            ("starts_with", pc.starts_with) if name == "startswith" else ("ends_with", pc.ends_with)
        )
        mask = _text_mask(receiver, lambda c: kernel(c, pattern=pattern))
        part = Part(f"{sql_func}({receiver.sql}, {sql_string(pattern)})", mask, cols=receiver.cols)
    return _fill(part, na) if na is not None else part


def _isna(b: Builder, receiver: Part, negated: bool) -> Part:
    """pandas' missing: null, and NaN in a float column (known from the ref's types)."""
    x, name = receiver.sql, receiver.column
    nan = name is not None and pa.types.is_floating(b.types.get(name, pa.null()))
    if negated:
        sql = f"({x} IS NOT NULL AND NOT isnan({x}))" if nan else f"({x} IS NOT NULL)"
    else:
        sql = f"({x} IS NULL OR isnan({x}))" if nan else f"({x} IS NULL)"
    mask: Mask | None = None
    if name is not None:

        def mask(t: pa.Table) -> pa.ChunkedArray:
            missing = pc.is_null(t.column(name), nan_is_null=nan)  # as the SQL says
            return pc.invert(missing) if negated else missing

    return Part(sql, mask, cols=receiver.cols)


def _between(b: Builder, receiver: Part, low: Part, high: Part, inclusive: object) -> Part:
    named: dict[object, str] = {True: "both", False: "neither"}
    inclusive = named.get(inclusive, inclusive)
    if inclusive == "both":
        return b.between(receiver, low, high, False)
    if inclusive not in ("neither", "left", "right"):
        raise ExpressionError('between(a, b, inclusive=...) takes "both", "neither", "left" or "right".')
    lo = b.compare(receiver, ">=" if inclusive == "left" else ">", low)
    hi = b.compare(receiver, "<=" if inclusive == "right" else "<", high)
    return conjoin([lo, hi])


def _contains(b: Builder, receiver: Part, pattern: str, case: object, regex: object) -> Part:
    if not isinstance(case, bool) or not isinstance(regex, bool):
        raise ExpressionError("case= and regex= take True or False.")
    x = receiver.sql
    if regex and _REGEX_CHARS.search(pattern):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ExpressionError(
                f"Bad regular expression {sql_string(pattern)}: {exc}.",
                hint='For plain text pass regex=False, e.g. name.str.contains("(a)", regex=False).',
            ) from None
        b.notes.append(
            f"Read {sql_string(pattern)} as a regular expression (pandas' default; regex=False for text)."
        )
        flags = "" if case else ", 'i'"
        mask = _text_mask(receiver, lambda c: pc.match_substring_regex(c, pattern, ignore_case=not case))
        return Part(f"regexp_matches({x}, {sql_string(pattern)}{flags})", mask, cols=receiver.cols)
    mask = _text_mask(receiver, lambda c: pc.match_substring(c, pattern, ignore_case=not case))
    if case:
        return Part(f"contains({x}, {sql_string(pattern)})", mask, cols=receiver.cols)
    # The same case folding on both paths: RE2's, on a pattern escaped to plain text.
    escaped = re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", pattern)
    return Part(f"regexp_matches({x}, {sql_string(escaped)}, 'i')", mask, cols=receiver.cols)


def _text_mask(receiver: Part, kernel: Callable[[pa.ChunkedArray], pa.ChunkedArray]) -> Mask | None:
    name = receiver.column
    if name is None:
        return None
    return lambda t: kernel(text_column(t, name))


def _fill(part: Part, na: bool) -> Part:
    mask = part.mask
    return Part(
        f"coalesce({part.sql}, {'true' if na else 'false'})",
        (lambda t: pc.fill_null(mask(t), na)) if mask else None,
        cols=part.cols,
    )


def _need_text(b: Builder, receiver: Part, name: str) -> None:
    t = b.types.get(receiver.column) if receiver.column else None
    if t is not None and not _texty(t):
        raise ExpressionError(
            f'.str.{name}() needs a text column; "{receiver.column}" is {t}.',
            hint="Compare numbers and dates with ==, <, .between(a, b); or cast with the sql tool.",
        )


def _texty(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _texty(t.value_type)
    return is_text(t) or pa.types.is_string_view(t)
