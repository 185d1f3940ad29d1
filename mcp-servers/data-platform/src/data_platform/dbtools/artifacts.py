"""dbt's JSON artifacts: run_results.json, manifest.json, catalog.json.

Per-node results come from run_results.json (status, time, rows, failures,
message), never from dbt's terminal output.
"""

from __future__ import annotations

import json
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

    @property
    def failed(self) -> bool:
        return self.status in FAILED

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunResults:
    nodes: list[NodeResult]
    elapsed: float
    path: Path
    counts: dict[str, int] = field(default_factory=dict)


def parse_run_results(path: Path) -> RunResults:
    data = load_json(path, "run_results.json")
    nodes: list[NodeResult] = []
    for item in data.get("results") or []:
        uid = str(item.get("unique_id", "?"))
        parts = uid.split(".")
        adapter = item.get("adapter_response") or {}
        rows = adapter.get("rows_affected")
        message = item.get("message")
        status = str(item.get("status", "unknown"))
        nodes.append(
            NodeResult(
                unique_id=uid,
                name=parts[-1] if parts else uid,
                resource_type=parts[0] if parts else "?",
                status=status,
                seconds=round(float(item.get("execution_time") or 0.0), 3),
                rows_affected=int(rows) if isinstance(rows, int) and rows >= 0 else None,
                failures=item.get("failures") if isinstance(item.get("failures"), int) else None,
                message=clean_message(str(message), wrapped=False)[:2000] if message else None,
            )
        )
    counts: dict[str, int] = {}
    for n in nodes:
        counts[n.status] = counts.get(n.status, 0) + 1
    return RunResults(nodes=nodes, elapsed=float(data.get("elapsed_time") or 0.0), path=path, counts=counts)


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
