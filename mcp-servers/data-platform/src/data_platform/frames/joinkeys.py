"""What a join does to rows: rows in and out, keys repeated on either side, and pandas' `validate`.

A key that appears on several rows of one side repeats every matching row of the other: a
join on an ISO code where two countries share `KOR` silently gives one of them the other's
row. The answer says so, and `validate="one_to_one"` (pandas' names and `1:1` forms) refuses
the join before anything is stored, naming the repeated keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from data_platform.errors import InputError
from data_platform.render import format_cell

VALIDATE = ("one_to_one", "one_to_many", "many_to_one", "many_to_many")
_SHORT = {"1:1": "one_to_one", "1:m": "one_to_many", "m:1": "many_to_one", "m:m": "many_to_many"}


@dataclass
class Repeats:
    """Keys found on more than one row of one side (null keys never match, so never count)."""

    keys: int  # distinct keys on 2+ rows
    rows: int  # rows holding such keys
    example: dict[str, Any] | None  # the most repeated key
    example_rows: int
    unmatched: int | None = None  # rows whose key is on no row of the other side (when asked)

    def said(self, ref: str) -> str:
        if not self.keys:
            return f"`{ref}`: keys unique"
        key = ", ".join(f"{k}={format_cell(v, 30)}" for k, v in (self.example or {}).items())
        noun = "key" if self.keys == 1 else "keys"
        many = f"{self.keys:,} {noun} on 2+ rows ({self.rows:,} rows"
        return f"`{ref}`: {many}; e.g. {key} on {self.example_rows:,})"


def repeats(
    table: pa.Table, keys: list[str], threads: bool = True, against: tuple[pa.Table, list[str]] | None = None
) -> Repeats:
    """Keys of `table` on more than one row, counted in one hash aggregation (on the calling
    thread without `threads`: beside a join, which has Arrow's thread pool). With `against` (the
    other side and its keys): also the rows whose key matches none of its rows, from the distinct
    keys just counted (an anti join of those, not of every row; null keys never match)."""
    part = table.select(keys).drop_null()
    nulls = table.num_rows - part.num_rows
    if part.num_rows == 0:
        return Repeats(0, 0, None, 0, nulls if against is not None else None)
    counts = part.group_by(keys, use_threads=threads).aggregate([([], "count_all")])
    missed = _unmatched(counts, keys, against, threads) if against is not None else None
    unmatched = None if missed is None else nulls + missed
    dup = counts.filter(pc.greater(counts["count_all"], 1))
    if dup.num_rows == 0:
        return Repeats(0, 0, None, 0, unmatched)
    top = dup.take([pc.index(dup["count_all"], pc.max(dup["count_all"])).as_py()]).to_pylist()[0]
    n = top.pop("count_all")
    return Repeats(dup.num_rows, pc.sum(dup["count_all"]).as_py(), top, n, unmatched)


def _unmatched(
    counts: pa.Table, keys: list[str], against: tuple[pa.Table, list[str]], threads: bool
) -> int | None:
    """Rows (summed counts) of the distinct keys in `counts` that no row of `against` holds; None
    when Arrow cannot compare the two sides' key types."""
    other, other_keys = against
    try:
        anti = counts.join(
            other.select(other_keys),
            keys=keys,
            right_keys=other_keys,
            join_type="left anti",
            use_threads=threads,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    return int(pc.sum(anti["count_all"]).as_py() or 0)


def validate_name(validate: str | None) -> str | None:
    if validate is None:
        return None
    name = _SHORT.get(validate.strip().lower(), validate.strip().lower())
    if name not in VALIDATE:
        hint = "Use one_to_one (1:1), one_to_many (1:m), many_to_one (m:1) or many_to_many (m:m), as pandas."
        raise InputError(f"validate={validate!r} is not a join check.", hint=hint)
    return name


def check(validate: str | None, left: str, right: str, lrep: Repeats, rrep: Repeats) -> None:
    """Refuse a join whose keys break `validate` (pandas' merge(validate=...)), naming the keys."""
    name = validate_name(validate)
    broken = []
    if name in ("one_to_one", "one_to_many") and lrep.keys:
        broken.append(lrep.said(left))
    if name in ("one_to_one", "many_to_one") and rrep.keys:
        broken.append(rrep.said(right))
    if broken:
        raise InputError(
            f"join refused: validate={name!r} but keys repeat in "
            + "; ".join(broken)
            + ". Nothing was stored.",
            hint="Deduplicate that side first (groupby, or sql with DISTINCT ON), fix the keys, "
            "or pass the validate that matches the data.",
        )


def summary(how: str, pairs: str, left: str, right: str, lrows: int, rrows: int, out: int,
            lrep: Repeats, rrep: Repeats) -> str:  # fmt: skip
    """`inner join on iso: 150 + 200 rows in → 151 rows out; ...` with what repeated."""
    text = f"{how} join on {pairs}: {lrows:,} rows in `{left}`, {rrows:,} in `{right}` → {out:,} rows out."
    kept = rrep if how == "right" else lrep
    text += _unmatched_said(how, left, right, lrows, rrows, kept.unmatched)
    if not lrep.keys and not rrep.keys:
        return text + " Keys unique on both sides (one_to_one)."
    kind = {(True, True): "many_to_many", (True, False): "many_to_one", (False, True): "one_to_many"}
    text += (
        f" Keys repeat ({kind[(bool(lrep.keys), bool(rrep.keys))]}): {lrep.said(left)}; {rrep.said(right)}."
    )
    if rrep.keys and how not in ("semi", "anti"):
        text += f" Each `{left}` row matching a repeated key is repeated once per match;"
        text += " validate='many_to_one' refuses such a join."
    return text


def _unmatched_said(how: str, left: str, right: str, lrows: int, rrows: int, missed: int | None) -> str:
    """How many rows of the side every row of which is kept found no match: a left join's output
    has as many rows either way, so only this count shows keys that do not line up."""
    if missed is None or how in ("semi", "anti"):
        return ""
    kept, other, rows = (right, left, rrows) if how == "right" else (left, right, lrows)
    if not missed:
        return f" Every `{kept}` row found a match."
    share = f"{missed:,} of {rows:,} `{kept}` rows"
    if how == "inner":
        return f" {share} matched nothing in `{other}` and are not in the result."
    return f" {share} matched nothing in `{other}`: its columns are null there."
