"""dbt's JSON artifacts: run_results.json, manifest.json, catalog.json.

Per-node results come from run_results.json (status, time, rows, failures,
message), never from dbt's terminal output; their names come from the
manifest, as people write them: a test is `not_null_stg_orders_amount` on
`stg_orders.amount`, never the hash suffix of its unique_id.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from data_platform.dbtools.findings import clean_message
from data_platform.errors import DbtError

FAILED = frozenset({"error", "fail", "runtime error"})


def load_json(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise DbtError(f"dbt wrote no {what} ({path} is missing).") from None
    except (OSError, ValueError) as exc:
        raise DbtError(f"Cannot read dbt's {what} at {path}: {exc}.") from None
    if not isinstance(data, dict):
        raise DbtError(f"dbt's {what} at {path} is not a JSON object.")
    return data


@dataclass(frozen=True)
class NodeResult:
    """One node's outcome in a run/test/build."""

    unique_id: str
    name: str
    resource_type: str
    status: str
    seconds: float
    rows_affected: int | None = None
    failures: int | None = None
    message: str | None = None
    model: str | None = None  # what a test checks: a model, seed, snapshot or `source.table`
    column: str | None = None  # the column a generic test checks

    @property
    def failed(self) -> bool:
        return self.status in FAILED

    @property
    def on(self) -> str:
        """What a test checks, as `stg_orders.amount` (empty for other nodes)."""
        return ".".join(p for p in (self.model, self.column) if p)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunResults:
    nodes: list[NodeResult]
    elapsed: float
    path: Path
    counts: dict[str, int] = field(default_factory=dict)
    skipped_after: list[str] = field(default_factory=list)  # the failed nodes upstream of skipped ones


# How a generic test names what it tests, in its `model` argument (source tests have no attached_node).
SOURCE_CALL = re.compile(r"""\bsource\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]""")
REF_CALL = re.compile(r"""\bref\(\s*['"]([^'"]+)['"](?:\s*,\s*['"]([^'"]+)['"])?""")


def _manifest_node(manifest: dict[str, Any], uid: str) -> dict[str, Any] | None:
    for section in ("nodes", "sources", "exposures", "metrics", "semantic_models", "saved_queries"):
        node = (manifest.get(section) or {}).get(uid)
        if isinstance(node, dict):
            return node
    return None


def display_name(uid: str, manifest: dict[str, Any] | None = None) -> str:
    """A node's name as people write it: `stg_orders`, `shop_raw.payments`, `unique_orders_order_id`."""
    node = _manifest_node(manifest, uid) if manifest else None
    if node is not None:
        name = str(node.get("name") or "")
        if node.get("resource_type") == "source" and node.get("source_name"):
            return f"{node['source_name']}.{name}"
        if name:
            version = node.get("version")
            return (
                f"{name}.v{version}" if version is not None and node.get("resource_type") == "model" else name
            )
    parts = uid.split(".")
    if len(parts) < 3:
        return uid
    # test.<package>.<name>.<hash>: the hash is dbt's, the name is the person's.
    return parts[2] if parts[0] == "test" else ".".join(parts[2:])


def subject_of(node: dict[str, Any], manifest: dict[str, Any]) -> tuple[str | None, str | None]:
    """(what a test checks, its column): from attached_node, the test's arguments or its one parent."""
    meta = node.get("test_metadata")
    kwargs = (meta.get("kwargs") or {}) if isinstance(meta, dict) else {}
    column = node.get("column_name") or kwargs.get("column_name") or None
    attached = node.get("attached_node")
    model: str | None = display_name(attached, manifest) if attached else None
    if model is None and isinstance(kwargs.get("model"), str):
        if match := SOURCE_CALL.search(kwargs["model"]):
            model = f"{match.group(1)}.{match.group(2)}"
        elif match := REF_CALL.search(kwargs["model"]):
            model = match.group(2) or match.group(1)
    parents = (node.get("depends_on") or {}).get("nodes") or []
    if model is None and len(parents) == 1:
        model = display_name(parents[0], manifest)
    return model, (str(column) if column else None)


def parse_run_results(path: Path, manifest: dict[str, Any] | None = None) -> RunResults:
    """Per-node results; names (and, for tests, the model and column) from `manifest` when given."""
    data = load_json(path, "run_results.json")
    nodes: list[NodeResult] = []
    for item in data.get("results") or []:
        uid = str(item.get("unique_id", "?"))
        kind = uid.split(".", 1)[0]
        adapter = item.get("adapter_response") or {}
        rows = adapter.get("rows_affected")
        message = item.get("message")
        status = str(item.get("status", "unknown"))
        node = _manifest_node(manifest, uid) if manifest else None
        model, column = (
            subject_of(node, manifest or {}) if node is not None and kind == "test" else (None, None)
        )
        nodes.append(
            NodeResult(
                unique_id=uid,
                name=display_name(uid, manifest),
                resource_type=kind,
                status=status,
                seconds=round(float(item.get("execution_time") or 0.0), 3),
                # A test's "rows affected" is the one row its count query returns: not a fact about data.
                rows_affected=int(rows) if isinstance(rows, int) and rows >= 0 and kind != "test" else None,
                failures=item.get("failures") if isinstance(item.get("failures"), int) else None,
                message=clean_message(str(message), wrapped=False)[:2000] if message else None,
                model=model,
                column=column,
            )
        )
    counts: dict[str, int] = {}
    for n in nodes:
        counts[n.status] = counts.get(n.status, 0) + 1
    skipped_after = _skip_causes(nodes, manifest) if manifest else []
    return RunResults(nodes, float(data.get("elapsed_time") or 0.0), path, counts, skipped_after)


def _skip_causes(nodes: list[NodeResult], manifest: dict[str, Any]) -> list[str]:
    """Why dbt skipped nodes (it says nothing): the failed nodes of the run that are ancestors of a
    skipped node, or tests of its ancestors (`dbt build` skips what is downstream of a failed test)."""
    parents: dict[str, list[str]] = manifest.get("parent_map") or {}
    failed = [n for n in nodes if n.failed]
    causes: dict[str, None] = {}
    for n in nodes:
        if n.status != "skipped" or not failed:
            continue
        above: set[str] = set()
        todo = list(parents.get(n.unique_id, []))
        while todo:
            uid = todo.pop()
            if uid not in above:
                above.add(uid)
                todo.extend(parents.get(uid, []))
        for f in failed:
            if f.unique_id in above or (
                f.resource_type == "test" and above & set(parents.get(f.unique_id, []))
            ):
                causes[f.name] = None
    return list(causes)


@dataclass(frozen=True)
class Resource:
    """One resource as dbt_ls lists it."""

    unique_id: str
    name: str
    resource_type: str
    path: str | None
    materialized: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resource_from_ls_line(line: str) -> Resource | None:
    """One line of `dbt ls --output json` (each line a JSON object)."""
    try:
        item = json.loads(line)
    except ValueError:
        return None
    if not isinstance(item, dict):
        return None
    config = item.get("config") or {}
    return Resource(
        unique_id=str(item.get("unique_id", "")),
        name=str(item.get("name", "")),
        resource_type=str(item.get("resource_type", "")),
        path=item.get("original_file_path"),
        materialized=config.get("materialized") if isinstance(config, dict) else None,
    )


@dataclass
class DocsReport:
    """What docs generation documented, and what YAML claims that the database does not have."""

    catalog_path: Path
    index_path: Path
    nodes_in_catalog: int
    described: int
    undescribed: list[str]
    missing_columns: list[str]  # documented in YAML, not in the table: "model.column"
    undocumented_columns: int
    catalog_errors: list[str]


def docs_report(target_path: Path) -> DocsReport:
    manifest = load_json(target_path / "manifest.json", "manifest.json")
    catalog = load_json(target_path / "catalog.json", "catalog.json")
    cat_nodes = {**(catalog.get("nodes") or {}), **(catalog.get("sources") or {})}
    nodes = {**(manifest.get("nodes") or {}), **(manifest.get("sources") or {})}
    described = 0
    undescribed: list[str] = []
    missing: list[str] = []
    undocumented = 0
    for uid, node in sorted(nodes.items()):
        if node.get("resource_type") not in ("model", "seed", "snapshot", "source"):
            continue
        name = uid.split(".", 2)[-1] if node.get("resource_type") == "source" else node.get("name", uid)
        if (node.get("description") or "").strip():
            described += 1
        else:
            undescribed.append(name)
        table = cat_nodes.get(uid)
        if table is None:
            continue
        actual = {c.lower() for c in (table.get("columns") or {})}
        documented = {c.lower() for c in (node.get("columns") or {})}
        missing.extend(f"{name}.{c}" for c in sorted(documented - actual))
        undocumented += len(actual - documented)
    errors = [clean_message(str(e), wrapped=False) for e in (catalog.get("errors") or [])]
    return DocsReport(
        catalog_path=target_path / "catalog.json",
        index_path=target_path / "index.html",
        nodes_in_catalog=len(cat_nodes),
        described=described,
        undescribed=undescribed,
        missing_columns=missing,
        undocumented_columns=undocumented,
        catalog_errors=errors,
    )
