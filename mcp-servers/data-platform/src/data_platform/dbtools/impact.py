"""`dbt_impact`: what a change to the project does to the data, against a baseline, in one review.

Recce's order (STYLE.md 19): the lineage difference (modified, new, deleted, impacted; statediff.py),
then for each modified or impacted model built in both environments: schema changes, row counts,
and per column how many values changed (keyed by a given key, a `unique` test's column or a
contract's primary key; else rows compared as sets), with examples as refs; optionally a profile
of the changed columns. Data is compared in the warehouse through the diff core that `diff` and
`dbt_compare` use, on the project's own adapter (nothing adapter-specific here), every model in
one adapter session. The baseline's relations are the ones its manifest names (a recorded prod
run names prod's schema); the changed side is this target's.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data_platform import work
from data_platform.dbtools import state as state_mod
from data_platform.dbtools import statediff, warehouse
from data_platform.dbtools.artifacts import load_json
from data_platform.dbtools.column_breaks import Break, breaks
from data_platform.dbtools.compare import EXAMPLES, adapter_sql, node_columns, store_examples
from data_platform.diffing import compare as diff_core
from data_platform.diffing.sql import Dialect
from data_platform.errors import DbtError, InputError
from data_platform.registry import Registry

if TYPE_CHECKING:
    from data_platform.dbtools.service import DbtService

MAX_MODELS = 10  # models whose data is compared by default
COMPARABLE = ("model", "seed", "snapshot")


@dataclass
class ColumnProfile:
    column: str
    side: str  # the baseline's name or this target's
    rows: int
    nulls: int
    distinct: int
    min: Any = None
    max: Any = None
    mean: float | None = None


@dataclass
class ModelData:
    """One model compared between the baseline's relation and this target's."""

    name: str
    why: str  # "modified" | "new" | "impacted" | "selected"
    base_relation: str
    relation: str
    key: list[str] = field(default_factory=list)
    key_from: str = ""  # "given" | "unique test" | "contract" | "" (rows as sets)
    result: diff_core.DiffResult | None = None
    refs: dict[str, str] = field(default_factory=dict)
    profile: list[ColumnProfile] = field(default_factory=list)
    problem: str | None = None  # not compared: why


@dataclass
class ImpactOutcome:
    baseline: state_mod.Baseline
    target: str
    adapter_type: str
    changes: statediff.StateDiff
    models: list[ModelData]
    candidates: int  # models that could be compared (before the cap)
    cap: int
    seconds_state: float = 0.0
    breaks: list[Break] = field(default_factory=list)  # columns gone that children still read
    breaks_problem: str | None = None  # why they could not be checked


def review(
    service: DbtService,
    registry: Registry | None,
    *,
    against: str,
    select: str | None = None,
    key: list[str] | None = None,
    profile: bool = False,
    data: bool = True,
    target: str | None = None,
    cap: int = MAX_MODELS,
) -> ImpactOutcome:
    """The review of this target's project against the baseline `against` (state.py's FORMS)."""
    started = time.perf_counter()
    work.progress(0, 4, f"baseline {against}")
    baseline = state_mod.resolve(service, against, target)
    work.progress(1, 4, "parsing the project")
    validation = service.checked("dbt_impact", target, None)
    current = service.manifest(validation)
    st = baseline.manifest.stat()
    base = _baseline_manifest(str(baseline.manifest), st.st_mtime_ns, st.st_size)
    changes = statediff.compare(current, base)
    here = state_mod.target_name(validation.project, target, service.settings.dbt_target)
    out = ImpactOutcome(baseline, here, "", changes, [], 0, cap, time.perf_counter() - started)
    # A column goes away through the model's SQL or a macro it calls (the check compiles them).
    models = [
        c.unique_id
        for c in changes.modified
        if c.resource_type in ("model", "snapshot") and {"sql", "macros"} & set(c.reasons)
    ]
    if models:
        try:
            analyzer = service.columns.analyzer(validation, current, models)
            out.breaks = breaks(analyzer, models)
        except DbtError as exc:
            out.breaks_problem = str(exc).splitlines()[0]
    if not data:
        return out
    picked = _candidates(service, current, base, changes, select, target, against)
    out.candidates = len(picked)
    picked = out.models = picked[:cap]
    for m in picked:
        if m.base_relation == m.relation:
            m.problem = f"same relation in the baseline ({m.relation}): a git revision parsed for this target"
    if all(m.problem for m in picked):
        return out
    work.progress(2, 4, f"comparing {len(picked)} model(s) in the warehouse")
    project = validation.project

    def run(_result: Any) -> tuple[str, list[ModelData]]:
        adapter = warehouse.current_adapter()
        execute, dialect = adapter_sql(adapter, service.settings.dbt_timeout_s)
        for i, m in enumerate(picked):
            work.check()
            work.progress(i, len(picked), f"comparing {m.name}")
            _compare_one(adapter, execute, dialect, m, current, base, key, profile, baseline.label, here)
        return adapter.type(), picked

    args = service.compile_args(project, target, None, *warehouse.ADAPTER_ONLY)
    inv = service.inproc.invoke(args, after=run, manifest=service.parsed(target))
    if not inv.success or inv.after is None:
        raise DbtError("dbt could not open the target's adapter.", hint="Run dbt_parse to check the profile.")
    out.adapter_type, out.models = inv.after
    if registry is not None:
        names = {"only_left": f"only_in_{baseline.label}", "only_right": f"only_in_{here}"}
        for m in out.models:
            if m.result is not None:
                names_m = {
                    **names,
                    "duplicates_left": f"duplicates_in_{baseline.label}",
                    "duplicates_right": f"duplicates_in_{here}",
                }
                m.refs = store_examples(
                    registry,
                    m.result,
                    m.name,
                    names_m,
                    f"dbt_impact {m.name}",
                    f"({baseline.name} vs {here})",
                )
    return out


@functools.lru_cache(maxsize=2)
def _baseline_manifest(path: str, _mtime_ns: int, _size: int) -> dict[str, Any]:
    """A baseline's manifest, read once per file version (a warm review reads no JSON again)."""
    return load_json(Path(path), "manifest.json")


def _candidates(
    service: DbtService,
    current: dict[str, Any],
    base: dict[str, Any],
    changes: statediff.StateDiff,
    select: str | None,
    target: str | None,
    against: str,
) -> list[ModelData]:
    """Models built in both environments: the selection's, else modified then impacted (nearest first)."""
    cur, old = current.get("nodes") or {}, base.get("nodes") or {}
    if select:
        state = against if "state:" in select else None  # `state:modified+` selects against the same baseline
        chosen = [r.unique_id for r in service.ls(select, None, None, target, state)]
        why = {uid: "selected" for uid in chosen}
    else:
        chosen = [c.unique_id for c in changes.modified] + [i.unique_id for i in changes.impacted]
        why = {c.unique_id: "modified" for c in changes.modified}
    out = []
    for uid in chosen:
        node, before = cur.get(uid), old.get(uid)
        if not node or not before or node.get("resource_type") not in COMPARABLE:
            continue
        if not node.get("relation_name") or not before.get("relation_name"):
            continue  # ephemeral: no relation to read
        if (node.get("config") or {}).get("materialized") == "ephemeral":
            continue
        out.append(
            ModelData(
                str(node.get("name")),
                why.get(uid, "impacted"),
                str(before["relation_name"]),
                str(node["relation_name"]),
            )
        )
    return out


def key_of(current: dict[str, Any], name: str, columns: set[str]) -> tuple[list[str], str]:
    """A key for a model: a `unique` (or unique-combination) test's columns, else a contract's primary key."""
    nodes = current.get("nodes") or {}
    uid = next(
        (u for u, n in nodes.items() if n.get("name") == name and n.get("resource_type") in COMPARABLE), None
    )
    if uid is None:
        return [], ""
    lowered = {c.lower(): c for c in columns}
    for n in nodes.values():
        meta = n.get("test_metadata") or {}
        if n.get("resource_type") != "test" or n.get("attached_node") != uid:
            continue
        kwargs = meta.get("kwargs") or {}
        if meta.get("name") == "unique":
            cols = [str(n.get("column_name") or kwargs.get("column_name") or "")]
        elif meta.get("name") == "unique_combination_of_columns":
            cols = [str(c) for c in kwargs.get("combination_of_columns") or []]
        else:
            continue
        if cols and all(c.lower() in lowered for c in cols):
            return [lowered[c.lower()] for c in cols], "unique test"
    node = nodes[uid]
    for con in node.get("constraints") or []:
        if con.get("type") == "primary_key" and con.get("columns"):
            cols = [str(c) for c in con["columns"]]
            if all(c.lower() in lowered for c in cols):
                return [lowered[c.lower()] for c in cols], "contract"
    for cname, col in (node.get("columns") or {}).items():
        if (
            any(c.get("type") == "primary_key" for c in col.get("constraints") or [])
            and cname.lower() in lowered
        ):
            return [lowered[cname.lower()]], "contract"
    return [], ""


def _compare_one(
    adapter: Any,
    execute: diff_core.Execute,
    dialect: Dialect,
    m: ModelData,
    current: dict[str, Any],
    base: dict[str, Any],
    key: list[str] | None,
    profile: bool,
    there: str,
    here: str,
) -> None:
    if m.problem:
        return
    node = next(n for n in (current.get("nodes") or {}).values() if n.get("relation_name") == m.relation)
    base_node = next(
        n for n in (base.get("nodes") or {}).values() if n.get("relation_name") == m.base_relation
    )
    left = node_columns(adapter, base_node)
    right = node_columns(adapter, node)
    for cols, side, rel in ((left, there, m.base_relation), (right, here, m.relation)):
        if not cols:
            m.problem = f"not built in {side} ({rel}): dbt_build select={m.name} there first"
            return
    common = {c.name for c in left} & {c.name for c in right}
    if key and all(k in common for k in key):
        m.key, m.key_from = list(key), "given"
    else:
        m.key, m.key_from = key_of(current, m.name, common)
    try:
        m.result = diff_core.diff(
            execute,
            m.base_relation,
            m.relation,
            left,
            right,
            m.key or None,
            dialect=dialect,
            examples=EXAMPLES,
        )
    except (DbtError, InputError) as exc:
        m.problem = str(exc).splitlines()[0]
        return
    if profile:
        m.profile = _profile(execute, dialect, m, left, right, there, here)


def changed_columns(m: ModelData) -> list[str]:
    """Columns whose values or type changed, or that are on one side only."""
    r = m.result
    if r is None:
        return []
    out = [n for n, _a, _b in r.schema.type_changed]
    if r.keyed is not None:
        out += [c.name for c in r.keyed.columns if c.changed and c.name not in out]
    return out + r.schema.only_left + r.schema.only_right


def _profile(
    execute: diff_core.Execute,
    dialect: Dialect,
    m: ModelData,
    left: list[diff_core.SideColumn],
    right: list[diff_core.SideColumn],
    base_name: str,
    here: str,
) -> list[ColumnProfile]:
    """Null count, distinct count, min/max/mean of the changed columns, one query per side."""
    cols = changed_columns(m)[:20]
    out: list[ColumnProfile] = []
    for side, rel, described in ((base_name, m.base_relation, left), (here, m.relation, right)):
        info = {c.name: c for c in described if c.name in cols}
        if not info:
            continue
        parts = ["count(*) as dp_rows"]
        for i, c in enumerate(info.values()):
            q = dialect.quote(c.name)
            parts += [f"count({q}) as dp_n{i}", f"count(distinct {q}) as dp_d{i}"]
            if c.numeric:
                parts += [f"min({q}) as dp_min{i}", f"max({q}) as dp_max{i}", f"avg({q}) as dp_avg{i}"]
        row = execute(f"select {', '.join(parts)} from {rel}").to_pylist()[0]
        rows = int(row["dp_rows"] or 0)
        for i, c in enumerate(info.values()):
            mean = row.get(f"dp_avg{i}")
            out.append(
                ColumnProfile(
                    c.name,
                    side,
                    rows,
                    rows - int(row[f"dp_n{i}"] or 0),
                    int(row[f"dp_d{i}"] or 0),
                    row.get(f"dp_min{i}"),
                    row.get(f"dp_max{i}"),
                    None if mean is None else float(mean),
                )
            )
    return out
