"""dbt support for data-platform: find a project, validate it, run it, read its artifacts.

No MCP imports here; `data_platform.server.dbt_tools` adapts this to tools
(its answers in `data_platform.server.dbt_results`).
The package is `data_platform.dbtools` on purpose: dbt's plugin discovery
imports every top-level module named `dbt_*` on `sys.path`.

    project.py    where the project and profiles are; a fingerprint of its files
    findings.py   deprecations/errors from dbt's structured events, with what to change
    runner.py     in-process dbtRunner (serialised) and the killable `dbt` subprocess
    artifacts.py  run_results.json / manifest.json / catalog.json
    lineage.py    upstream/downstream from the manifest, Mermaid + text
    columns.py    column-level lineage from compiled SQL (sqlglot), edge kinds, Mermaid
    warehouse.py  compiled SQL run on the profile's own adapter, rows as Arrow
    show.py       dbt_show: a model or inline SQL into a ref
    failures.py   the rows a failing data test found, as refs; unit-test diffs
    validation.py what a parse found, saved with a stamp of what it read; findings told in an error
    early.py      a never-parsed project's first parse, in its own process from the server's start
    runs.py       run/test/build/seed and docs generate as subprocesses, one at a time
    service.py    the operations the tools call (validate, ls, compile, lineage here)
"""
