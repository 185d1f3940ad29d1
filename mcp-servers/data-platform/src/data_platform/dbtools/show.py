"""`dbt_show`: a model or inline SQL compiled by dbt and run read-only on the target's warehouse into a ref.

dbt compiles (refs, sources, macros, the target's schemas) under its in-process lock; the compiled
SQL then runs outside that lock, on the server's own read-only connection to the target's
warehouse (guarded.py: pg_query's guards on PostgreSQL, a locked-down read-only DuckDB), so a slow
query holds up no other dbt tool. Its rows stream into the registry's one ingest path under the
row guard. A model's current code runs, built or not: a preview of an edit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from data_platform import work
from data_platform.config import Settings
from data_platform.dbtools import guarded, warehouse
from data_platform.dbtools.validation import closing_hint, findings_text
from data_platform.errors import DbtError, InputError
from data_platform.registry import Guard, RefInfo, Registry, Target
from data_platform.registry.names import suggest_name

if TYPE_CHECKING:
    from data_platform.dbtools.service import DbtService

DEFAULT_LIMIT = 100  # rows, as dbt's --limit (dbt's own default is 5: too few to chain a ref on)
SHOWABLE = frozenset({"model", "snapshot", "analysis", "sql_operation"})


@dataclass
class ShowOutcome:
    info: RefInfo
    head: pa.Table
    what: str  # `model stg_orders` or `inline SQL`
    compiled_sql: str
    limit: int | None  # None: every row (up to the guard)
    where: guarded.Where  # the target, adapter, database and schema it ran in
    seconds: float
    notes: list[str]


def limit_of(limit: int | None) -> int | None:
    """None: the default; a negative number: every row (dbt's `--limit -1`)."""
    if limit is None:
        return DEFAULT_LIMIT
    return None if limit < 0 else limit


def show(
    service: DbtService,
    registry: Registry,
    settings: Settings,
    *,
    model: str | None,
    sql: str | None,
    limit: int | None,
    name: str | None,
    overwrite: bool,
    target: str | None,
    state: str | None = None,
    defer: bool = True,
) -> ShowOutcome:
    if (model is None) == (sql is None) or not (model or sql or "").strip():
        raise InputError(
            "Give model= (a model name) or sql= (inline SQL, e.g. select * from {{ ref('orders') }}), "
            "one of them."
        )
    rows = limit_of(limit)
    guard = max(settings.max_rows, rows or 0)
    what = f"model {model.strip()}" if model else "inline SQL"
    dest = Target(
        registry,
        name or None,
        overwrite,
        source=f"dbt_show of {what}",
        default_name=suggest_name(model) if model else "dbt_show",
    )
    dest.check()
    project = service.project()
    args = service.compile_args(project, target, None, *service.state_args(state, defer, target))
    # The compiled node comes back in-process: no manifest.json/run_results.json to write (two
    # manifest writes were 70% of a warm call; the validation folder's manifest is dbt_parse's).
    args.append("--no-write-json")
    # No relation cache filled up front (two connections and a catalogue query per schema on
    # PostgreSQL): compiling one node needs none; a macro's adapter.get_relation still asks.
    args.append("--no-populate-cache")
    if sql is not None:
        # Inline SQL is written by the caller: compiled without introspection (dbt's
        # --no-introspect), its Jinja cannot run statements (run_query) while compiling.
        args += [f"--inline={sql}", "--no-introspect"]  # `=`: text starting with `-` is no flag
    else:
        args += [*service.selection(str(model), None), "--indirect-selection", "empty"]

    def compiled_where(result: Any) -> tuple[str, guarded.Where]:
        # Under dbt's lock: only what the query needs, read from the adapter dbt registered.
        code, adapter = _one_node(result, what), warehouse.current_adapter()
        where = guarded.where_of(adapter)
        if where.duckdb_path and not where.problem and not os.path.exists(where.duckdb_path):
            warehouse.open_once(adapter)  # a never-built target's file, made by dbt as a cache fill did
        return code, where

    work.progress(0, 3, f"compiling {what}")
    # A baseline's deferral edits the manifest's nodes: only a plain compile reuses the kept parse.
    parsed = service.parsed(target) if state is None else None
    inv = service.inproc.invoke(args, after=compiled_where, manifest=parsed)
    if not inv.success or inv.after is None:
        errors = inv.errors or inv.findings
        fix = "Fix the Jinja/SQL (dbt_compile shows it), then retry."
        if sql is not None:
            fix = (
                "Inline SQL compiles without introspection (no run_query/statement: dbt_show only "
                "reads); a macro that queries the warehouse works in a model (dbt_show model=...). " + fix
            )
        raise DbtError(
            f"dbt could not compile {what}.\n" + (findings_text(errors) or "dbt gave no message."),
            hint=closing_hint(errors, fix),
        )
    compiled, where = inv.after
    dest.source = f"dbt_show of {what} on {where.label()}"  # the ref remembers where it ran
    work.progress(1, 3, f"running {what} on {where.label()}")
    cap = rows if rows is not None and rows <= guard else guard + 1
    shown = guarded.run(
        where,
        settings,
        registry,
        warehouse.wrap(compiled, cap, where.adapter_type),
        dest,
        Guard(guard, what=f"dbt_show of {what}", exact=False, chunk_size=False,
              narrow="limit=N for the first N rows"),
    )  # fmt: skip
    return ShowOutcome(shown.info, shown.head, what, compiled, rows, where, inv.seconds, shown.notes)


def _one_node(result: Any, what: str) -> str:
    nodes = [
        r.node
        for r in (getattr(result, "results", None) or [])
        if getattr(getattr(r, "node", None), "resource_type", None) in SHOWABLE
    ]
    if not nodes:
        raise DbtError(f"No model matches {what}.", hint="dbt_ls lists the models; or pass sql=.")
    if len(nodes) > 1:
        names = ", ".join(sorted(n.name for n in nodes)[:10])
        raise InputError(f"{what} selects {len(nodes)} nodes ({names}); dbt_show shows one.")
    code = getattr(nodes[0], "compiled_code", None)
    if not code:
        raise DbtError(f"dbt compiled no SQL for {what}.")
    return str(code)
