"""What the values of a text column look like: numbers or dates stored as text, emails, ids...

Tested on the column's distinct values (from the value counts a profile computes anyway)
and weighted by their counts, so a 5M-row column with 20k distinct values costs 20k regex
tests per pattern. Regexes are RE2 (pyarrow), so a hostile value cannot make them slow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

NUMBER = r"^\s*[-+]?[$€£]?\s*(\d{1,3}(,\d{3})+|\d+)(\.\d+)?\s*%?\s*$"
DATE_FORMATS = {
    "YYYY-MM-DD": r"^\d{4}-\d{1,2}-\d{1,2}([T ]\d{1,2}:\d{2}.*)?$",
    "YYYY/MM/DD": r"^\d{4}/\d{1,2}/\d{1,2}$",
    "NN/NN/YYYY": r"^\d{1,2}/\d{1,2}/\d{2,4}( \d{1,2}:\d{2}.*)?$",
    "DD.MM.YYYY": r"^\d{1,2}\.\d{1,2}\.\d{2,4}$",
    "DD-MM-YYYY": r"^\d{1,2}-\d{1,2}-\d{4}$",
    "D Mon YYYY": r"^\d{1,2}[ -][A-Za-z]{3,9}\.?[ -]\d{2,4}$",
    "Mon D, YYYY": r"^[A-Za-z]{3,9}\.? \d{1,2},? \d{4}$",
}
KINDS = {
    "email": r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$",
    "url": r"^(https?|ftp)://\S+$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "code": r"^[A-Za-z]{1,6}[-_]?\d{2,}$",
}
PLACEHOLDERS = ["", "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL", "None", "none", "-", "?", "#N/A"]
SAMPLE = 100_000  # distinct values tested per column at most
HEAVY = 1_000  # of which the most frequent, tested exactly
MOSTLY = 0.8  # share of the non-placeholder values a pattern must cover to describe the column


@dataclass
class TextFindings:
    """Row counts (weighted by value counts) of each pattern found in one text column."""

    numbers: int = 0
    dates: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    placeholders: int = 0
    padded: int = 0
    examples: dict[str, str] = field(default_factory=dict)
    odd_examples: list[str] = field(default_factory=list)  # values that break the dominant pattern
    sampled: bool = False

    def problems(self, rows: int) -> list[str]:
        """Plain sentences naming what is wrong with the column, most serious first."""
        out: list[str] = []
        real = max(1, rows - self.placeholders)
        odd = f" (not: {', '.join(repr(v) for v in self.odd_examples[:3])})" if self.odd_examples else ""
        if self.numbers and self.numbers >= MOSTLY * real:
            out.append(
                f"numbers stored as text ({_pct(self.numbers, rows)} parse as numbers, "
                f"e.g. {self.examples.get('number', '')!r}){odd}"
            )
        dated = sum(self.dates.values())
        if dated and dated >= MOSTLY * real:
            if len(self.dates) > 1:
                forms = ", ".join(f"{k} {_pct(v, rows)}" for k, v in self.dates.items())
                out.append(f"mixed date formats stored as text: {forms}")
            else:
                out.append(f"dates stored as text ({next(iter(self.dates))}){odd}")
        about = "≈" if self.sampled else ""
        if self.placeholders:
            what = "placeholder values that mean missing ('NA', 'null', '-', '')"
            out.append(f"{about}{self.placeholders:,} {what}")
        if self.padded:
            out.append(f"{about}{self.padded:,} values with leading/trailing spaces")
        return out

    def looks_like(self, rows: int) -> str | None:
        """The kind of value the column mostly holds (email, url, uuid, code), if any."""
        real = max(1, rows - self.placeholders)
        for kind, n in self.kinds.items():
            if n >= MOSTLY * real:
                return kind
        return None


def _pct(n: int, rows: int) -> str:
    share = 100 * n / max(1, rows)
    return f"{share:.0f}%" if share >= 1 or share == 0 else f"{share:.2f}%"


def find_sampled(values: pa.Array, counts: pa.Array) -> TextFindings:
    """`find` on at most SAMPLE distinct values, counts scaled to the whole column.

    A column of 5M distinct strings (ids, emails) would cost 13 regex passes over 5M values.
    The HEAVY most frequent values are tested exactly (a placeholder such as 'NA' is usually
    among them), and an evenly spaced sample of the others stands for the rest, scaled by the
    rows they hold. The sentences then say "≈".
    """
    if len(values) <= SAMPLE:
        return find(values, counts)
    heavy = pc.select_k_unstable(counts, k=HEAVY, sort_keys=[("dummy", "descending")])
    is_heavy = pc.is_in(pa.array(range(len(values))), value_set=heavy)
    rest = pc.indices_nonzero(pc.invert(is_heavy))
    step = -(-len(rest) // (SAMPLE - HEAVY))
    picked = rest.take(pa.array(range(0, len(rest), step)))
    f = find(values.take(heavy), counts.take(heavy), sampled=True)
    g = find(values.take(picked), counts.take(picked))
    scale = (pc.sum(counts.take(rest)).as_py() or 0) / max(1, pc.sum(counts.take(picked)).as_py() or 0)
    f.numbers += round(g.numbers * scale)
    f.placeholders += round(g.placeholders * scale)
    f.padded += round(g.padded * scale)
    for mine, theirs in ((f.dates, g.dates), (f.kinds, g.kinds)):
        for k, n in theirs.items():
            mine[k] = mine.get(k, 0) + round(n * scale)
    f.examples = {**g.examples, **f.examples}
    f.odd_examples = (f.odd_examples + g.odd_examples)[:3]
    return f


def find(values: pa.Array, counts: pa.Array, *, sampled: bool = False) -> TextFindings:
    """Findings for distinct string `values` (no nulls) occurring `counts` times each."""
    f = TextFindings(sampled=sampled)
    if len(values) == 0:
        return f

    def weight(mask: pa.Array) -> int:
        return int(pc.sum(pc.if_else(mask, counts, 0)).as_py() or 0)

    placeholder = pc.is_in(values, value_set=pa.array(PLACEHOLDERS, values.type))
    f.placeholders = weight(placeholder)
    f.padded = weight(pc.and_(pc.invert(placeholder), pc.not_equal(pc.utf8_trim_whitespace(values), values)))
    real = pc.invert(placeholder)
    dominant: pa.Array | None = None
    number = pc.and_(pc.match_substring_regex(values, NUMBER), real)
    f.numbers = weight(number)
    if f.numbers:
        f.examples["number"] = _first(values, number)
        dominant = number
    any_date = None
    for label, rx in DATE_FORMATS.items():
        mask = pc.and_(pc.match_substring_regex(values, rx), real)
        n = weight(mask)
        if n:
            f.dates[label] = n
            f.examples[label] = _first(values, mask)
            any_date = mask if any_date is None else pc.or_(any_date, mask)
    if any_date is not None and sum(f.dates.values()) > f.numbers:
        dominant = any_date
    for kind, rx in KINDS.items():
        n = weight(pc.match_substring_regex(values, rx))
        if n:
            f.kinds[kind] = n
    if dominant is not None:
        odd = values.filter(pc.and_(pc.invert(dominant), real))
        f.odd_examples = [str(v) for v in odd.slice(0, 3).to_pylist()]
    return f


def _first(values: pa.Array, mask: pa.Array) -> str:
    hit = values.filter(mask)
    return str(hit[0].as_py())[:40] if len(hit) else ""
