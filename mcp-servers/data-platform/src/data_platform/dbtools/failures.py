"""The rows a failing or warning data test found, stored as refs after dbt_test/dbt_build.

A data test's compiled SQL (run_results.json's `compiled_code`) selects exactly its failing rows;
dbt only counts them. After the run, that SQL runs once more through the project's adapter
(warehouse.py), capped at the row guard, and each test's rows become a ref named after the test.
A unit test's failure message is dbt's diff of expected and actual rows: cleaned here for reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data_platform.dbtools import warehouse
from data_platform.dbtools.artifacts import load_json
from data_platform.dbtools.findings import strip_ansi
from data_platform.errors import DataPlatformError
from data_platform.registry import Registry, Target, ingest
from data_platform.registry.names import suggest_name

if TYPE_CHECKING:
    from data_platform.dbtools.runs import RunOutcome
    from data_platform.dbtools.service import DbtService

MAX_TESTS = 20  # failing tests whose rows are stored per run
MAX_DIFF_LINES = 15


@dataclass
class FailingRows:
    """One failing/warning data test's rows: a ref, or why there is none."""

    test: str
    status: str
    model: str | None = None
    column: str | None = None
    failures: int | None = None
    data_ref: str | None = None
    rows: int = 0
    problem: str | None = None


def compiled_codes(path: Path) -> dict[str, str]:
    data = load_json(path, "run_results.json")
    return {
        str(r.get("unique_id")): str(r["compiled_code"])
        for r in data.get("results") or []
        if isinstance(r, dict) and r.get("compiled_code")
    }


def store(
    service: DbtService,
    registry: Registry,
    outcome: RunOutcome,
    *,
    max_rows: int,
    target: str | None,
    vars: dict[str, Any] | None,
) -> list[FailingRows]:
    """Each failing/warning data test's rows as a ref (at most MAX_TESTS tests, max_rows rows each)."""
    bad = [n for n in outcome.nodes if n.resource_type == "test" and n.status in ("fail", "warn")]
    if not bad or outcome.run_results_path is None:
        return []
    found = [FailingRows(n.name, n.status, n.model, n.column, n.failures) for n in bad[:MAX_TESTS]]
    try:
        codes = compiled_codes(outcome.run_results_path)
    except DataPlatformError as exc:  # the run's answer stands; only the rows are missing
        for item in found:
            item.problem = str(exc).splitlines()[0][:300]
        return found
    project = outcome.project
    args = service.compile_args(project, target, vars, *warehouse.ADAPTER_ONLY)

    def run(_result: Any) -> None:
        adapter = warehouse.current_adapter()
        kind = adapter.type()
        for node, item in zip(bad, found, strict=False):
            sql = codes.get(node.unique_id)
            if not sql:
                item.problem = "dbt recorded no compiled SQL for it"
                continue
            dest = Target(
                registry,
                None,
                False,
                source=f"failing rows of dbt test {node.name}",
                default_name=suggest_name(node.name),
            )
            try:
                with warehouse.query(adapter, warehouse.wrap(sql, max_rows, kind)) as fetched:
                    stored = ingest(fetched.batches, fetched.schema, dest)
            except DataPlatformError as exc:
                item.problem = str(exc).splitlines()[0][:300]
                continue
            item.data_ref, item.rows = stored.info.name, stored.info.rows

    inv = service.inproc.invoke(args, after=run, manifest=service.parsed(target, vars))
    if not inv.success:
        for item in found:
            item.problem = item.problem or "dbt could not reach the warehouse again to fetch them"
    return found


def unit_test_diff(message: str | None) -> list[str]:
    """A failed unit test's `actual differs from expected` table (dbt prints a daff diff), cleaned:
    `@@` the header, `→` a changed row (`expected→actual` in the changed cells), `+++` a row only
    in actual, `---` a row only in expected."""
    if not message:
        return []
    lines = [line.rstrip() for line in strip_ansi(message).replace("\r", "").splitlines() if line.strip()]
    at = next((i for i, line in enumerate(lines) if "differs from" in line), None)
    table = [" ".join(line.split()) for line in (lines[at + 1 :] if at is not None else lines)]
    cut = table[:MAX_DIFF_LINES]
    if len(table) > len(cut):
        cut.append(f"... {len(table) - len(cut)} more lines")
    return cut
