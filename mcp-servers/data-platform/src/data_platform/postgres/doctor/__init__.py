"""The PostgreSQL doctor: what is slow, which index would help (checked first), what is unhealthy.

Everything here reads the catalogue and the statistics views only (`pg_stat_statements`,
`pg_stat_*`, `pg_index`, `pg_sequences`...) in the read-only sessions of
`postgres.connection`, within the connection's statement timeout, so it is safe on
production and on a connection declared `read_only`:

- `top`: the statements that cost the most, from `pg_stat_statements`, into a ref;
- `plans` + `advice`: candidate indexes from the plans' sequential scans (their filters,
  join keys and sort keys), each tried as a hypothetical index with hypopg and kept only
  when the planner's cost drops by the stated factor; nothing is ever created here;
- `health` with the small calculators in `checks_*`: one call, a verdict first, each
  finding with its fix; a check the role may not see says so instead of failing.

Building an advised index is the user's act: `pg_execute` on a writable connection, whose
`measure` option times a query before and after (`postgres.load.execute`).
"""
