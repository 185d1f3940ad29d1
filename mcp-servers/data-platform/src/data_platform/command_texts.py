"""The six commands' instructions, as Claude Code and MCP clients receive them ($ARGUMENTS once).

Part of the one source in `data_platform.commands`: edit here, then run
`data-platform prompts --write-plugin` to rewrite the plugin's command files.
"""

INGEST = """\
Ingest this into the data-platform registry and profile it: $ARGUMENTS

Work with the data-platform MCP tools; rows stay in the registry, so never paste data into
the conversation or read the file with other tools.

1. Decide the source from the arguments:
   - a file path: `.csv`, `.tsv`, `.txt` (also `.gz`/`.zip`) → `read_csv`; `.parquet`/`.pq` →
     `read_parquet`; `.json`, `.jsonl`, `.ndjson` → `read_json`. If the path does not exist,
     look for close matches with Glob and ask before guessing.
   - a `SELECT`/`WITH` query → `pg_query`; a bare `schema.table` or `table` → `pg_query` with
     `SELECT * FROM "schema"."table"` (quote identifiers).
   - "as <name>" gives the data_ref name; otherwise let the tool choose one.
2. Load it. If the row guard stops the load, tell the user how many rows the source has and
   offer the two ways on the tool names (`chunk_size` to stream it into one ref, or a higher
   `max_rows`); do not pick one silently for a large file. If a CSV comes out wrong (one column,
   mangled accents, `NA` as text), reload with the right `sep`, `encoding` or `na_values`.
3. Profile the new ref with `describe` (and `head` if the user has not seen any rows yet).
4. Answer briefly: the data_ref name, rows x columns, the column types, and anything that
   needs attention: columns that are mostly null, text columns that look like numbers or
   dates, constant columns, likely keys and whether they are unique, suspicious ranges.
   End with two or three concrete next steps (e.g. `/data-platform:profile <ref>`, a filter
   or groupby worth running, `to_parquet` to keep a clean copy).
"""

PROFILE = """\
Profile this data_ref from the data-platform registry: $ARGUMENTS

1. If no data_ref was given, or the name is not found, call `list_data` and show the refs
   (or suggest the closest name); stop there if nothing matches.
2. Call `profile` on the ref. It names the problems it found (nulls, numbers or dates stored
   as text, mixed date formats, outliers, duplicate rows, columns that repeat each other),
   candidate keys and correlations, returns an overview picture and writes an HTML report.
   If columns were named, focus the answer on them (`describe` with `columns=[...]` gives
   their exact statistics).
3. Look at a few real rows with `sample` (or `head` for small refs), especially rows behind a
   problem: `filter` the nulls, the outliers or the values that break a date format.
4. Where one picture says more than the numbers, draw it with `chart`: `histogram` of a
   skewed numeric column, `bar` of a categorical column's counts, `scatter` of a strong
   correlation, `map` of a geometry column. Use `sql` for checks `profile` does not answer
   (rows that break an obvious rule such as end date before start date).
5. Report, compactly: shape, the problems with their counts and what to do about each, the
   keys, and the path of the HTML report for the user to open. Do not repeat whole tool
   outputs; the user has seen them.
"""

SCHEMA = """\
Show the database structure for: $ARGUMENTS

1. If a Postgres tool fails to connect, call `pg_connect` and report what it says to fix
   (host, credentials, database name or missing configuration); stop there.
2. No argument: `pg_schemas`, then `pg_tables` for the user schemas, and `st_tables` to list
   the spatial columns. Summarise: schemas, the largest tables (estimated rows, size), views.
3. A schema name: `pg_tables` for that schema, plus `st_tables` filtered to it.
4. A table (`table` or `schema.table`): `pg_columns` (types, nullability, defaults, primary
   key, comments). If it has geometry or geography columns (`st_tables`), add
   `st_geometry_type` (the geometry types actually present), `st_srid` and `st_extent` for
   each of them.
5. Present it as short tables. For spatial columns, say the SRID and what it means when known
   (4326 is longitude/latitude in degrees), flag SRID 0 (unknown) and mixed geometry types.
   Suggest a next step, e.g. `/data-platform:ingest schema.table` or an example query.
"""

EXPLAIN = """\
Explain the query plan of: $ARGUMENTS

1. Call `pg_explain` with the query. Use ANALYZE only when the user wrote "analyze": it runs
   the query (inside a transaction that is rolled back), which can take as long as the query.
2. Show the plan as the tool returned it (trimmed to the interesting part if it is long).
3. Explain it in plain words, from the most expensive node down: sequential scans on large
   tables, nested loops over many rows, sorts or hashes spilling to disk, and (with ANALYZE)
   estimates far from the actual rows, which point at stale statistics (`ANALYZE table`).
4. For an index, call `pg_index_advice` with the query: its advice is checked by the planner
   with hypothetical indexes (cost before/after). If it says UNVERIFIED (no hypopg), check the
   table's columns with `pg_columns` and its size with `pg_tables` yourself. Give the exact
   `CREATE INDEX CONCURRENTLY` statement or query rewrite, and say what it should change in the
   plan. Do not run DDL yourself; the user decides (`pg_execute` with `measure=` the query times
   it before and after).
"""

LINEAGE = """\
Show the dbt lineage of: $ARGUMENTS

1. Call `dbt_lineage` for the node (both directions unless the user asked for one; pass a
   depth if given). If the node is unknown, use `dbt_ls` to find the closest names and ask.
   If the project does not parse, run `dbt_parse` and report its errors instead.
2. Show the Mermaid diagram from the result in a ```mermaid code block, unchanged, so the
   user can render it.
3. Under it, list upstream (sources and seeds first) and downstream nodes (models, tests,
   exposures) by type, and point out what matters for a change to this node: how many models
   and tests depend on it, and which exposures would be affected.
"""

RUN = """\
Run dbt for: $ARGUMENTS

1. Validate first with `dbt_parse`, always, even if the run tools validate too: the user
   must see the findings before anything runs.
   - Errors: do not run. Show each error (file, line, message) and what to change; stop.
   - Deprecations: list each one prominently (event name and code, file, what to change)
     before running. dbt only warns about them, so they are easy to miss, and later dbt
     versions turn many of them into errors. If the run tool refuses because strict mode is
     on (`DATA_PLATFORM_DBT_STRICT`), say so and stop.
2. Choose the tool: `dbt_build` if the arguments say "build", `dbt_test` for "test", else
   `dbt_run`. Pass the selection (e.g. `stg_orders+`, `tag:daily`) as `select`, and `exclude`,
   `vars`, `target` or `full_refresh` only when the arguments ask for them. Unsure what a
   selection matches? Check with `dbt_ls` first. A long run reports progress; other tools
   keep answering meanwhile.
3. Report the per-node results as a short table (node, status, time, rows affected) with the
   error of every failed node, and `dbt_compile` a failed model when its SQL would explain the
   error. End with the totals, the deprecations again in one line if there were any, and the
   next step (fix, `dbt_test`, or `/data-platform:lineage <model>`).
"""
