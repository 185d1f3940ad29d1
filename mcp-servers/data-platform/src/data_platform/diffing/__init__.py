"""`diff`: what changed between two tables, computed where the data lives.

The API, small and stable (dbt's model compare builds on it):

* `sql.Dialect(quote=..., text_type=..., distinct_from=...)`: what engines spell differently;
  `sql.POSTGRES` and `sql.DUCKDB` are ready-made. Any engine with FULL OUTER JOIN works.
* `sql.Col(name, numeric=False, as_text=False)`: a column compared on both sides.
* `sql.KeyedDiff(left, right, key, columns, tolerance, dialect)`: SQL text for a keyed diff of two
  relations (a quoted table name or a bracketed subquery): `duplicates_sql(side)`,
  `summary_sql(exclude_duplicates)` (one row, read with `read_summary` into a `KeyedSummary`:
  only_left / only_right / changed / same and per column the changed count and the largest
  absolute difference), `examples_sql(kind, limit)`, `duplicate_examples_sql(side, limit)`.
* `sql.MultisetDiff(left, right, columns, dialect)`: the keyless comparison (rows counted per
  distinct row on each side, NULL-safe): `summary_sql()` / `read_summary`, `examples_sql(side, n)`.
* `compare.diff(execute, left, right, left_columns, right_columns, key, tolerance=, dialect=,
  examples=)`: runs the whole diff through `execute(sql) -> pyarrow.Table` in one engine and returns
  a `DiffResult` (schema differences, counts, duplicate keys, capped example tables). Columns are
  matched by name; `compare.arrow_columns(schema)` describes an Arrow side, `SideColumn` any other.
* `text.headline(result, left, right)`: the one-line summary a person reads in five seconds.

Semantics: rows whose key is duplicated on a side are left out of the keyed comparison and
reported (with examples) instead of being joined many-to-many; NULL keys never match (SQL `=`),
so such rows count as only on their side; columns on one side only are reported and not compared;
two numbers differ when |a - b| > tolerance (exact when None); NULL equals NULL.
"""
