"""The diff's SQL, written once for every engine: PostgreSQL, DuckDB, a dbt adapter's warehouse.

Standard SQL only (FULL OUTER JOIN, CASE, SUM, COUNT, GROUP BY, UNION ALL); what differs between
engines is behind `Dialect` (identifier quoting, the null-safe "differs" test, LIMIT, the text
type). The relations are given as SQL text that may stand after FROM: a quoted table name, or a
bracketed subquery. Result columns are named `dp_...` so a reader finds them by name in any engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

ExampleKind = Literal["only_left", "only_right", "changed"]
Side = Literal["left", "right"]


def ansi_quote(name: str) -> str:
    """A double-quoted identifier (a `"` doubled): PostgreSQL, DuckDB, Snowflake, standard SQL."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Dialect:
    """The few things engines spell differently; the defaults suit PostgreSQL and DuckDB."""

    quote: Callable[[str], str] = ansi_quote
    text_type: str = "VARCHAR"
    # True: `a IS DISTINCT FROM b` (PostgreSQL, DuckDB, Snowflake, BigQuery...); False: a CASE-free
    # equivalent built from <> and IS NULL for engines without it.
    distinct_from: bool = True

    def limit(self, n: int) -> str:
        return f" LIMIT {int(n)}"

    def differs(self, a: str, b: str) -> str:
        """A condition true when a and b differ, NULL counting as a value (true-or-not-true in CASE)."""
        if self.distinct_from:
            return f"({a} IS DISTINCT FROM {b})"
        return f"({a} <> {b} OR ({a} IS NULL AND {b} IS NOT NULL) OR ({a} IS NOT NULL AND {b} IS NULL))"


POSTGRES = Dialect(text_type="TEXT")
DUCKDB = Dialect()


@dataclass(frozen=True)
class Col:
    """A column compared on both sides (matched by name).

    `numeric`: report the largest absolute difference and apply the tolerance.
    `as_text`: the two sides' types differ in a way `=` cannot bridge: compare the text forms.
    """

    name: str
    numeric: bool = False
    as_text: bool = False


@dataclass(frozen=True)
class KeyedDiff:
    """SQL for a keyed comparison of `left` and `right` (relation texts) on `key`.

    `columns` are the non-key columns compared (key columns excluded); `tolerance` is the
    absolute difference under which two numbers count as equal (None: exact).
    """

    left: str
    right: str
    key: Sequence[Col]
    columns: Sequence[Col]
    tolerance: float | None = None
    dialect: Dialect = field(default_factory=Dialect)

    # -- building blocks --------------------------------------------------------------------------
    def _q(self, name: str) -> str:
        return self.dialect.quote(name)

    def _val(self, alias: str, c: Col) -> str:
        ref = f"{alias}.{self._q(c.name)}"
        return f"CAST({ref} AS {self.dialect.text_type})" if c.as_text else ref

    def _side(self, side: Side, exclude_duplicates: bool = False) -> str:
        """The side's key and compared columns plus a presence marker, optionally without duplicated keys."""
        rel = self.left if side == "left" else self.right
        cols = ", ".join(f"_dp_src.{self._q(c.name)}" for c in [*self.key, *self.columns])
        body = f"SELECT {cols}, 1 AS _dp_in FROM {rel} AS _dp_src"
        if not exclude_duplicates:
            return body
        keys = ", ".join(self._q(c.name) for c in self.key)
        on = " AND ".join(f"_dp_src.{self._q(c.name)} = _dp_dup.{self._q(c.name)}" for c in self.key)
        return (
            f"SELECT {cols}, 1 AS _dp_in FROM {rel} AS _dp_src LEFT JOIN "
            f"(SELECT {keys}, 1 AS _dp_d FROM {rel} AS _dp_k GROUP BY {keys} HAVING COUNT(*) > 1) AS _dp_dup "
            f"ON {on} WHERE _dp_dup._dp_d IS NULL"
        )

    def _join(self, exclude: tuple[bool, bool], how: str = "FULL OUTER") -> str:
        on = " AND ".join(f"{self._val('l', c)} = {self._val('r', c)}" for c in self.key)
        return (
            f"({self._side('left', exclude[0])}) AS l {how} JOIN "
            f"({self._side('right', exclude[1])}) AS r ON {on}"
        )

    def column_differs(self, c: Col, a: str | None = None, b: str | None = None) -> str:
        """True when a matched row's values of `c` differ (beyond the tolerance for numbers);
        `a`/`b`: where the values are (default: the join's l and r)."""
        a = self._cast(a, c) if a else self._val("l", c)
        b = self._cast(b, c) if b else self._val("r", c)
        if c.numeric and not c.as_text and self.tolerance:
            return (
                f"(ABS({a} - {b}) > {float(self.tolerance)!r} OR ({a} IS NULL AND {b} IS NOT NULL) "
                f"OR ({a} IS NOT NULL AND {b} IS NULL))"
            )
        return self.dialect.differs(a, b)

    def _cast(self, expr: str, c: Col) -> str:
        return f"CAST({expr} AS {self.dialect.text_type})" if c.as_text else expr

    def _any_differs(self, stored: bool = False) -> str:
        """Any compared column differs: in the join, or (`stored`) in the rows `rows_sql` kept."""
        if not self.columns:
            return "1 = 0"
        if stored:
            return " OR ".join(
                self.column_differs(c, f"dp_l_{i}", f"dp_r_{i}") for i, c in enumerate(self.columns)
            )
        return " OR ".join(self.column_differs(c) for c in self.columns)

    # -- the queries ------------------------------------------------------------------------------
    def duplicates_sql(self, side: Side) -> str:
        """One row: dp_keys (key values present more than once) and dp_rows (the rows holding them)."""
        rel = self.left if side == "left" else self.right
        keys = ", ".join(self._q(c.name) for c in self.key)
        return (
            "SELECT COUNT(*) AS dp_keys, COALESCE(SUM(_dp_n), 0) AS dp_rows FROM "
            f"(SELECT {keys}, COUNT(*) AS _dp_n FROM {rel} AS _dp_src GROUP BY {keys} "
            "HAVING COUNT(*) > 1) AS _dp_d"
        )

    def duplicate_examples_sql(self, side: Side, limit: int) -> str:
        """Duplicated key values with how many rows each has, most repeated first."""
        rel = self.left if side == "left" else self.right
        keys = ", ".join(self._q(c.name) for c in self.key)
        return (
            f"SELECT {keys}, COUNT(*) AS {self._q('rows')} FROM {rel} AS _dp_src GROUP BY {keys} "
            f"HAVING COUNT(*) > 1 ORDER BY COUNT(*) DESC, {keys}{self.dialect.limit(limit)}"
        )

    def summary_sql(self, exclude_duplicates: tuple[bool, bool] = (False, False)) -> str:
        """One row: dp_total, dp_left, dp_right (row counts after the join), dp_changed, and per
        column i dp_changed_i and, for numbers, dp_maxdiff_i. Read it with `read_summary`."""
        return f"SELECT {', '.join(self._summary_parts())} FROM {self._join(exclude_duplicates)}"

    def _summary_parts(self) -> list[str]:
        matched = "l._dp_in IS NOT NULL AND r._dp_in IS NOT NULL"
        parts = [
            "COUNT(*) AS dp_total",
            "COUNT(l._dp_in) AS dp_left",
            "COUNT(r._dp_in) AS dp_right",
            f"SUM(CASE WHEN {matched} AND ({self._any_differs()}) THEN 1 ELSE 0 END) AS dp_changed",
        ]
        for i, c in enumerate(self.columns):
            parts.append(
                f"SUM(CASE WHEN {matched} AND {self.column_differs(c)} THEN 1 ELSE 0 END) AS dp_changed_{i}"
            )
            if c.numeric and not c.as_text:
                parts.append(f"MAX(ABS({self._val('l', c)} - {self._val('r', c)})) AS dp_maxdiff_{i}")
        return parts

    def examples_sql(
        self, kind: ExampleKind, limit: int, exclude_duplicates: tuple[bool, bool] = (False, False)
    ) -> str:
        """Up to `limit` rows of one kind, ordered by key: a side's rows for only_left/only_right;
        for changed, the key then each compared column as `<name>_left`, `<name>_right`."""
        order = ", ".join(self._val("l" if kind != "only_right" else "r", c) for c in self.key)
        if kind == "changed":
            picked = [(f"l.{self._q(c.name)}", c.name) for c in self.key]
            for c in self.columns:
                picked.append((f"l.{self._q(c.name)}", f"{c.name}_left"))
                picked.append((f"r.{self._q(c.name)}", f"{c.name}_right"))
            # Numbered over the whole join, not cut by a LIMIT on it: under a LIMIT, PostgreSQL planned
            # tables without statistics (models just built) as a nested loop, the hours noted below.
            inner = ", ".join(f"{expr} AS dp_c{i}" for i, (expr, _) in enumerate(picked))
            outer = ", ".join(f"dp_c{i} AS {self._q(name)}" for i, (_, name) in enumerate(picked))
            return (
                f"SELECT {outer} FROM (SELECT {inner}, ROW_NUMBER() OVER (ORDER BY {order}) AS dp_rn "
                f"FROM {self._join(exclude_duplicates, 'INNER')} WHERE ({self._any_differs()})) AS _dp_c "
                f"WHERE dp_rn <= {int(limit)} ORDER BY dp_rn"
            )
        # NOT EXISTS, not an outer join filtered on the other side's marker: PostgreSQL does not see
        # `r._dp_in IS NULL` as an anti-join, and on tables not yet analyzed (a model just built)
        # it chose a nested loop under the LIMIT: 1M rows a side ran for hours. An anti-join is hashed.
        sides: tuple[Side, Side] = ("left", "right") if kind == "only_left" else ("right", "left")
        side, other = sides
        alias, other_alias = ("l", "r") if kind == "only_left" else ("r", "l")
        cols = [f"{alias}.{self._q(c.name)}" for c in [*self.key, *self.columns]]
        ex = exclude_duplicates if kind == "only_left" else exclude_duplicates[::-1]
        on = " AND ".join(f"{self._val('l', c)} = {self._val('r', c)}" for c in self.key)
        return (
            f"SELECT {', '.join(cols)} FROM ({self._side(side, ex[0])}) AS {alias} "
            f"WHERE NOT EXISTS (SELECT 1 FROM ({self._side(other, ex[1])}) AS {other_alias} WHERE {on}) "
            f"ORDER BY {order}{self.dialect.limit(limit)}"
        )

    def read_summary(self, row: dict) -> KeyedSummary:
        """The summary row (any mapping of the dp_ names, case-insensitive) as numbers."""
        low = {k.lower(): v for k, v in row.items()}
        total, left, right = (int(low[f"dp_{k}"] or 0) for k in ("total", "left", "right"))
        changed = int(low["dp_changed"] or 0)
        matched = left + right - total
        per: list[ColumnChange] = []
        for i, c in enumerate(self.columns):
            maxdiff = low.get(f"dp_maxdiff_{i}")
            per.append(
                ColumnChange(
                    c.name, int(low[f"dp_changed_{i}"] or 0), None if maxdiff is None else float(maxdiff)
                )
            )
        return KeyedSummary(
            only_left=total - right,
            only_right=total - left,
            changed=changed,
            same=matched - changed,
            columns=per,
        )


@dataclass(frozen=True)
class ColumnChange:
    name: str
    changed: int
    max_abs_diff: float | None = None


@dataclass(frozen=True)
class KeyedSummary:
    only_left: int
    only_right: int
    changed: int
    same: int
    columns: list[ColumnChange]


@dataclass(frozen=True)
class MultisetDiff:
    """SQL for a keyless comparison: rows as a multiset, counted per distinct row on each side.

    Portable and NULL-safe: both sides go through one UNION ALL and one GROUP BY over every
    column (GROUP BY treats NULLs as equal, which a join on `=` would not).
    """

    left: str
    right: str
    columns: Sequence[Col]
    dialect: Dialect = field(default_factory=Dialect)

    def _grouped(self) -> str:
        q = self.dialect.quote

        def side(rel: str, flags: str) -> str:
            cols = ", ".join(
                f"CAST(_dp_src.{q(c.name)} AS {self.dialect.text_type}) AS {q(c.name)}"
                if c.as_text
                else f"_dp_src.{q(c.name)}"
                for c in self.columns
            )
            return f"SELECT {cols}, {flags} FROM {rel} AS _dp_src"

        names = ", ".join(q(c.name) for c in self.columns)
        return (
            f"SELECT {names}, SUM(_dp_l) AS dp_n_left, SUM(_dp_r) AS dp_n_right FROM "
            f"({side(self.left, '1 AS _dp_l, 0 AS _dp_r')} UNION ALL "
            f"{side(self.right, '0 AS _dp_l, 1 AS _dp_r')}) AS _dp_u "
            f"GROUP BY {names}"
        )

    def summary_sql(self) -> str:
        """One row: dp_only_left / dp_only_right (rows beyond the other side's count of the same row),
        dp_same (rows on both), dp_distinct_left / dp_distinct_right (distinct rows with extras)."""
        more_l, more_r = "dp_n_left > dp_n_right", "dp_n_right > dp_n_left"
        return (
            "SELECT "
            f"COALESCE(SUM(CASE WHEN {more_l} THEN dp_n_left - dp_n_right ELSE 0 END), 0) AS dp_only_left, "
            f"COALESCE(SUM(CASE WHEN {more_r} THEN dp_n_right - dp_n_left ELSE 0 END), 0) AS dp_only_right, "
            "COALESCE(SUM(CASE WHEN dp_n_left < dp_n_right THEN dp_n_left ELSE dp_n_right END), 0) "
            "AS dp_same, "
            f"COUNT(CASE WHEN {more_l} THEN 1 END) AS dp_distinct_left, "
            f"COUNT(CASE WHEN {more_r} THEN 1 END) AS dp_distinct_right "
            f"FROM ({self._grouped()}) AS _dp_g"
        )

    def examples_sql(self, side: Side, limit: int) -> str:
        """Distinct rows with more copies on `side`, with both counts (`left_count`, `right_count`)."""
        q = self.dialect.quote
        names = ", ".join(q(c.name) for c in self.columns)
        cond = "dp_n_left > dp_n_right" if side == "left" else "dp_n_right > dp_n_left"
        return (
            f"SELECT {names}, dp_n_left AS {q('left_count')}, dp_n_right AS {q('right_count')} "
            f"FROM ({self._grouped()}) AS _dp_g WHERE {cond} ORDER BY {names}{self.dialect.limit(limit)}"
        )

    @staticmethod
    def read_summary(row: dict) -> MultisetSummary:
        low = {k.lower(): int(v or 0) for k, v in row.items()}
        return MultisetSummary(
            only_left=low["dp_only_left"],
            only_right=low["dp_only_right"],
            same=low["dp_same"],
            distinct_left=low["dp_distinct_left"],
            distinct_right=low["dp_distinct_right"],
        )


@dataclass(frozen=True)
class MultisetSummary:
    only_left: int
    only_right: int
    same: int
    distinct_left: int
    distinct_right: int
