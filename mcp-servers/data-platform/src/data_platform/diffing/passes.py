"""Faster plans for engines that can do more than standard SQL: fewer passes over the data.

`KeyedPasses` is a `KeyedDiff` with two more ways to run (compare.diff picks them):
* rows kept: one join keeps the rows on one side or differing in a temporary table (any engine with
  CREATE TEMP TABLE ... AS; the caller's `materialise`), and the summary and examples read them;
* one pass (DuckDB only): one aggregate over the join gives the summary, the examples
  (`min_by(row, key, n)`) and the proof that no key is duplicated.
"""

from __future__ import annotations

from dataclasses import dataclass

from data_platform.diffing.sql import ColumnChange, ExampleKind, KeyedDiff, KeyedSummary, Side

ONE_SIDED_KEYS = 100_000  # one-sided keys listed by the one pass, to prove them distinct


@dataclass(frozen=True)
class KeyedPasses(KeyedDiff):
    # -- materialised: one join keeps the rows that differ; the rest is read from them ------------
    def rows_sql(self, exclude_duplicates: tuple[bool, bool] = (False, False)) -> str:
        """The joined rows on one side only or differing exactly in a column (NULL-safe), for an
        engine that can keep them in a temporary table (few when little changed): presence
        dp_in_l / dp_in_r, key i as dp_lk_i / dp_rk_i, column i as dp_l_i / dp_r_i."""
        cols = ["l._dp_in AS dp_in_l", "r._dp_in AS dp_in_r"]
        cols += [f"l.{self._q(c.name)} AS dp_lk_{i}" for i, c in enumerate(self.key)]
        cols += [f"r.{self._q(c.name)} AS dp_rk_{i}" for i, c in enumerate(self.key)]
        for i, c in enumerate(self.columns):
            cols += [f"l.{self._q(c.name)} AS dp_l_{i}", f"r.{self._q(c.name)} AS dp_r_{i}"]
        exact = " OR ".join(self.dialect.differs(self._val("l", c), self._val("r", c)) for c in self.columns)
        where = "l._dp_in IS NULL OR r._dp_in IS NULL" + (f" OR {exact}" if exact else "")
        return f"SELECT {', '.join(cols)} FROM {self._join(exclude_duplicates)} WHERE {where}"

    def count_sql(self, side: Side) -> str:
        """One row: dp_n, the side's rows."""
        return f"SELECT COUNT(*) AS dp_n FROM {self.left if side == 'left' else self.right} AS _dp_src"

    def stored_summary_sql(self, rows: str) -> str:
        """The summary read from the table `rows_sql` filled (named `rows`): dp_only_left,
        dp_only_right, dp_changed, dp_changed_i, dp_maxdiff_i. Read it with `read_stored_summary`."""
        both = "dp_in_l IS NOT NULL AND dp_in_r IS NOT NULL"
        parts = [
            "SUM(CASE WHEN dp_in_r IS NULL THEN 1 ELSE 0 END) AS dp_only_left",
            "SUM(CASE WHEN dp_in_l IS NULL THEN 1 ELSE 0 END) AS dp_only_right",
            f"SUM(CASE WHEN {both} AND ({self._any_differs(stored=True)}) THEN 1 ELSE 0 END) AS dp_changed",
        ]
        for i, c in enumerate(self.columns):
            differs = self.column_differs(c, f"dp_l_{i}", f"dp_r_{i}")
            parts.append(f"SUM(CASE WHEN {both} AND {differs} THEN 1 ELSE 0 END) AS dp_changed_{i}")
            if c.numeric and not c.as_text:
                parts.append(f"MAX(ABS(dp_l_{i} - dp_r_{i})) AS dp_maxdiff_{i}")
        return f"SELECT {', '.join(parts)} FROM {rows}"

    def stored_examples_sql(self, rows: str, kind: ExampleKind, limit: int) -> str:
        """`examples_sql`'s rows, read from the table `rows_sql` filled."""
        q = self._q
        side = "r" if kind == "only_right" else "l"
        keys = [f"dp_{side}k_{i} AS {q(c.name)}" for i, c in enumerate(self.key)]
        order = ", ".join(f"dp_{side}k_{i}" for i in range(len(self.key)))
        if kind == "changed":
            cols = keys + [
                f"dp_{s}_{i} AS {q(c.name + suffix)}"
                for i, c in enumerate(self.columns)
                for s, suffix in (("l", "_left"), ("r", "_right"))
            ]
            where = f"dp_in_l IS NOT NULL AND dp_in_r IS NOT NULL AND ({self._any_differs(stored=True)})"
        else:
            cols = keys + [f"dp_{side}_{i} AS {q(c.name)}" for i, c in enumerate(self.columns)]
            where = "dp_in_r IS NULL" if kind == "only_left" else "dp_in_l IS NULL"
        return (
            f"SELECT {', '.join(cols)} FROM {rows} WHERE {where} ORDER BY {order}{self.dialect.limit(limit)}"
        )

    def read_stored_summary(self, row: dict, left_rows: int) -> KeyedSummary:
        """`stored_summary_sql`'s row; `left_rows`: the left side's rows compared (duplicates excluded)."""
        low = {k.lower(): v for k, v in row.items()}
        only_left, only_right, changed = (
            int(low[f"dp_{k}"] or 0) for k in ("only_left", "only_right", "changed")
        )
        per = []
        for i, c in enumerate(self.columns):
            maxdiff = low.get(f"dp_maxdiff_{i}")
            per.append(
                ColumnChange(
                    c.name, int(low[f"dp_changed_{i}"] or 0), None if maxdiff is None else float(maxdiff)
                )
            )
        same = left_rows - only_left - changed
        return KeyedSummary(
            only_left=only_left, only_right=only_right, changed=changed, same=same, columns=per
        )

    # -- one pass (DuckDB): the summary, the examples and the duplicate check in one aggregate ------
    def one_pass_sql(self, limit: int) -> str:
        """DuckDB only (`min_by(x, key, n)`, struct literals, FILTER): `summary_sql`'s columns plus
        dp_keys_l / dp_keys_r (the keys of the one-sided rows, up to ONE_SIDED_KEYS) and the examples
        as lists of structs dp_ex_only_left, dp_ex_only_right, dp_ex_changed. With the sides' row
        counts this proves there is no duplicate key (`one_pass_clean`), so no GROUP BY per side.
        (A COUNT(DISTINCT ...) FILTER here costs DuckDB more than the join itself.)"""

        def struct(fields: list[tuple[str, str]]) -> str:
            return "{" + ", ".join("'" + n.replace("'", "''") + f"': {e}" for n, e in fields) + "}"

        def key_of(alias: str) -> str:
            keys = [self._val(alias, c) for c in self.key]
            return keys[0] if len(keys) == 1 else "(" + ", ".join(keys) + ")"

        q = self._q
        matched = "l._dp_in IS NOT NULL AND r._dp_in IS NOT NULL"
        left = struct([(c.name, f"l.{q(c.name)}") for c in [*self.key, *self.columns]])
        right = struct([(c.name, f"r.{q(c.name)}") for c in [*self.key, *self.columns]])
        changed = struct(
            [(c.name, f"l.{q(c.name)}") for c in self.key]
            + [
                (c.name + suffix, f"{side}.{q(c.name)}")
                for c in self.columns
                for side, suffix in (("l", "_left"), ("r", "_right"))
            ]
        )
        n, cap = int(limit), ONE_SIDED_KEYS
        extra = [
            f"min_by({key_of('l')}, {key_of('l')}, {cap}) FILTER (WHERE r._dp_in IS NULL) AS dp_keys_l",
            f"min_by({key_of('r')}, {key_of('r')}, {cap}) FILTER (WHERE l._dp_in IS NULL) AS dp_keys_r",
            f"min_by({left}, {key_of('l')}, {n}) FILTER (WHERE r._dp_in IS NULL) AS dp_ex_only_left",
            f"min_by({right}, {key_of('r')}, {n}) FILTER (WHERE l._dp_in IS NULL) AS dp_ex_only_right",
            f"min_by({changed}, {key_of('l')}, {n}) "
            f"FILTER (WHERE {matched} AND ({self._any_differs()})) AS dp_ex_changed",
        ]
        return f"SELECT {', '.join(self._summary_parts() + extra)} FROM {self._join((False, False))}"

    @staticmethod
    def one_pass_clean(row: dict, left_rows: int, right_rows: int) -> bool:
        """No key is duplicated on either side: every row joined at most once (the join's counts
        equal the sides'), and the one-sided rows, all of them listed, have distinct keys. Not
        proven (False) with more one-sided rows than ONE_SIDED_KEYS, or NULL keys."""
        total, in_l, in_r = (int(row[k] or 0) for k in ("dp_total", "dp_left", "dp_right"))
        if in_l != left_rows or in_r != right_rows:
            return False
        for keys, count in (
            (row.get("dp_keys_l") or [], total - in_r),
            (row.get("dp_keys_r") or [], total - in_l),
        ):
            if len(keys) != count or None in keys:
                return False
            hashable = [tuple(k.values()) if isinstance(k, dict) else k for k in keys]
            if len(set(hashable)) != count:
                return False
        return True
