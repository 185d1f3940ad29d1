"""`dbt_compare`: a model's relation in one target against another target (or schema), in the warehouse.

Built on the diff core (`data_platform.diffing`): its portable SQL runs through the project's own
adapter (warehouse.py) with the adapter's quoting, so only the summary and capped examples leave
the warehouse, on any adapter. The relations come from dbt itself: each target's manifest names
the model's relation (`relation_name`); a schema instead of a target swaps the schema only.
Both must be readable on one connection of `target` (dev and prod in one warehouse).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from data_platform import work
from data_platform.dbtools import lineage as lineage_mod
from data_platform.dbtools import warehouse
from data_platform.dbtools.state import targets_of
from data_platform.dbtools.target import target_name
from data_platform.diffing import compare as diff_core
from data_platform.diffing.sql import Dialect
from data_platform.errors import DbtError, InputError
from data_platform.registry import Registry, Target, ingest
from data_platform.registry.names import suggest_name

if TYPE_CHECKING:
    from data_platform.dbtools.service import DbtService

EXAMPLES = 20  # rows per kind stored as refs
# Number types by name, beside dbt's Column.is_numeric (which misses `DECIMAL(18,2)` on dbt-duckdb).
NUMBER = re.compile(
    r"^(u?(tiny|small|big|huge)?int(eger)?\d*|numeric|decimal|number|real|float\d*|double( precision)?)$"
)


@dataclass
class CompareOutcome:
    model: str
    here: str  # label of the checked side: its target
    there: str  # label of the other side: a target or a schema
    here_relation: str
    there_relation: str
    result: diff_core.DiffResult
    adapter_type: str
    refs: dict[str, str] = field(default_factory=dict)  # kind -> ref name


def adapter_sql(adapter: Any, timeout_s: float) -> tuple[diff_core.Execute, Dialect]:
    """The diff core's `execute` and `Dialect` on a dbt adapter (its quoting and string type).

    Each statement runs read-only within `timeout_s` where the adapter allows it (warehouse.query):
    callers give the dbt timeout, as one comparison scans whole models (the statement timeout is
    for one query a caller wrote, and stopped the review of 1M-row models).
    """
    quote_char = adapter.quote("")[:1] or '"'
    dialect = Dialect(
        quote=lambda n: adapter.quote(n.replace(quote_char, quote_char * 2)),
        text_type=str((getattr(adapter.Column, "TYPE_LABELS", {}) or {}).get("STRING", "VARCHAR")),
    )

    def execute(sql: str) -> pa.Table:
        with warehouse.query(adapter, sql, read_only_timeout_s=timeout_s) as fetched:
            return pa.Table.from_batches(list(fetched.batches), schema=fetched.schema)

    return execute, dialect


def node_columns(adapter: Any, node: dict[str, Any]) -> list[diff_core.SideColumn]:
    """A node's relation's columns with the warehouse's own types (dbt's get_columns_in_relation:
    portable, and typed even where an empty result set carries no types); [] when not built."""
    relation = _relation(adapter, node)
    with adapter.connection_named(warehouse.CONNECTION_NAME):
        try:
            found = adapter.get_columns_in_relation(relation)
        except Exception:  # a missing schema raises on some adapters, returns [] on others
            return []
    out = []
    for c in found:
        kind = str(c.data_type)
        base = kind.lower().split("(")[0].strip()
        numeric = bool(c.is_numeric() or c.is_integer() or c.is_float() or NUMBER.match(base))
        out.append(
            diff_core.SideColumn(str(c.name), kind, numeric, text_only=kind.lower() in ("json", "xml"))
        )
    return out


def _relation(adapter: Any, node: dict[str, Any]) -> Any:
    return adapter.Relation.create(
        database=node.get("database"),
        schema=node.get("schema"),
        identifier=node.get("alias") or node.get("name"),
    )


def store_examples(
    registry: Registry,
    result: diff_core.DiffResult,
    label: str,
    names: dict[str, str],
    source: str,
    sides: str,
) -> dict[str, str]:
    """Each kind of example rows into a ref `<label>_<kind>` (kinds renamed by `names`)."""
    refs: dict[str, str] = {}
    for kind_name, table in result.examples.items():
        if table.num_rows:
            shown = names.get(kind_name, kind_name)
            dest = Target(registry, None, False, source=f"{source}: {shown} {sides}",
                          default_name=suggest_name(f"{label}_{shown}"))  # fmt: skip
            refs[shown] = ingest(table.to_batches(), table.schema, dest).info.name
    return refs


def _node(service: DbtService, target: str | None, model: str) -> dict[str, Any]:
    validation = service.checked("dbt_compare", target, None)
    manifest = service.manifest(validation)
    uid = lineage_mod.Graph(manifest).resolve(model)
    node = (manifest.get("nodes") or {}).get(uid) or (manifest.get("sources") or {}).get(uid)
    if not node or not node.get("relation_name"):
        raise InputError(f"`{model}` is not a relation dbt builds (ephemeral, or a test).")
    return node


def compare(
    service: DbtService,
    registry: Registry,
    *,
    model: str,
    against: str,
    key: list[str] | None,
    target: str | None,
    tolerance: float | None = None,
) -> CompareOutcome:
    """`model` in `target` (default: the profile's) against `against` (a target or a schema)."""
    project = service.project()
    here = target_name(project, target, service.settings.dbt_target) or "default target"
    work.progress(0, 5, f"reading {model} in {here} and {against}")
    node = _node(service, target, model)
    other = None
    if against in targets_of(project):
        other = _node(service, against, model)
    elif against == target:
        raise InputError("target and against name the same side.")
    label = str(node.get("name") or model)

    def run(_result: Any) -> CompareOutcome:
        adapter = warehouse.current_adapter()
        kind = adapter.type()
        execute, dialect = adapter_sql(adapter, service.settings.dbt_timeout_s)
        there_node = other or {**node, "schema": against}
        there = str(other["relation_name"]) if other else _relation(adapter, there_node).render()
        here_rel = str(node["relation_name"])

        def columns(n: dict[str, Any], rel: str, side: str) -> list[diff_core.SideColumn]:
            found = node_columns(adapter, n)
            if not found:
                raise DbtError(
                    f"Cannot read {label} in {side} ({rel}): no such relation.",
                    hint=f"Build it there first (dbt_run select={label} target=...), or check the name.",
                )
            return found

        # left = the other side (prod, the baseline), right = this side (dev, the change)
        result = diff_core.diff(
            execute,
            there,
            here_rel,
            columns(there_node, there, against),
            columns(node, here_rel, here),
            key,
            tolerance=tolerance,
            dialect=dialect,
            examples=EXAMPLES,
        )
        return CompareOutcome(label, here, against, here_rel, there, result, kind)

    args = service.compile_args(project, target, None, *warehouse.ADAPTER_ONLY)
    inv = service.inproc.invoke(args, after=run, manifest=service.parsed(target))
    if not inv.success or inv.after is None:
        raise DbtError("dbt could not open the target's adapter.", hint="Run dbt_parse to check the profile.")
    out: CompareOutcome = inv.after
    # The diff core's left is `against`, its right this target: name the examples that way.
    names = {
        "only_left": f"only_in_{against}",
        "only_right": f"only_in_{here}",
        "duplicates_left": f"duplicates_in_{against}",
        "duplicates_right": f"duplicates_in_{here}",
    }
    out.refs.update(
        store_examples(registry, out.result, label, names, f"dbt_compare {label}", f"({against} vs {here})")
    )
    return out
