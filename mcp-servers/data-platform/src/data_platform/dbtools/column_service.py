"""Column lineage for the dbt service: which columns a node's columns come from and feed, read from
the compiled SQL of the node's `@` closure (one dbt compile, kept per file state), and the
analyzer `dbt_impact` reuses for the columns a change removes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from data_platform.dbtools import columns as columns_mod
from data_platform.dbtools import lineage as lineage_mod
from data_platform.dbtools import warehouse
from data_platform.dbtools.artifacts import load_json
from data_platform.dbtools.column_breaks import breaks
from data_platform.dbtools.column_lineage import ColumnLineage, labelled
from data_platform.dbtools.project import fingerprint
from data_platform.dbtools.runs import parsed_by
from data_platform.dbtools.validation import Validation, closing_hint, findings_text
from data_platform.errors import DbtError, NotFoundError, did_you_mean, list_for_message

if TYPE_CHECKING:
    from data_platform.dbtools.service import DbtService


class Columns:
    """The service's column lineage, with its compiled SQL and per-model column cache."""

    def __init__(self, service: DbtService) -> None:
        self.service = service
        self._compiled: tuple[str, dict[str, str]] = ("", {})  # (file state, unique_id -> compiled SQL)
        self._column_cache: dict[str, tuple[str, columns_mod.ModelColumns]] = {}

    def lineage(
        self, node: str, column: str, direction: lineage_mod.Direction = "both"
    ) -> tuple[ColumnLineage, Validation]:
        """Where `node.column` comes from and goes, from compiled SQL (compiled when files changed)."""
        validation = self.service.checked("Column lineage", None, None)
        manifest = self.service.manifest(validation)
        uid = lineage_mod.Graph(manifest).resolve(node)
        analyzer = self.analyzer(validation, manifest, [uid])
        dialect = analyzer.dialect
        known = analyzer.columns_of(uid)
        if known is not None and column not in known:
            lowered = {c.lower(): c for c in known}
            if column.lower() not in lowered:
                raise NotFoundError(
                    f"`{analyzer.label(uid)}` has no column `{column}`.{did_you_mean(column, known)}",
                    hint=f"Its columns: {list_for_message(known, 20)}.",
                )
            column = lowered[column.lower()]
        up, up_problems = analyzer.upstream(uid, column) if direction != "down" else ([], [])
        down, down_problems = analyzer.downstream(uid, column) if direction != "up" else ([], [])
        gone = [b.text() for b in breaks(analyzer, [uid])] if direction != "up" else []
        problems = list(dict.fromkeys(up_problems + gone + down_problems))
        if known is None:
            problems.insert(0, f"{analyzer.label(uid)}: its columns are unknown")
        return (
            ColumnLineage(
                node=analyzer.label(uid),
                unique_id=uid,
                column=column,
                dialect=dialect,
                upstream=labelled(up, analyzer.label),
                downstream=labelled(down, analyzer.label),
                unresolved=problems,
                mermaid=columns_mod.mermaid(up + down, (uid, column), analyzer.label),
            ),
            validation,
        )

    def analyzer(
        self, validation: Validation, manifest: dict[str, Any], uids: list[str]
    ) -> columns_mod.Analyzer:
        """The column analysis of the nodes' `@` closures (compiled when files changed)."""
        compiled = self._compiled_for(validation, uids, lineage_mod.Graph(manifest))
        catalog_path = validation.project.target_path / "catalog.json"
        catalog = load_json(catalog_path, "catalog.json") if catalog_path.is_file() else None
        dialect = warehouse.dialect_of(str((manifest.get("metadata") or {}).get("adapter_type") or ""))
        return columns_mod.Analyzer(
            manifest, compiled, dialect, validation.project.root, catalog, self._column_cache
        )

    def _compiled_for(
        self, validation: Validation, uids: list[str], graph: lineage_mod.Graph
    ) -> dict[str, str]:
        """Compiled SQL of the nodes' descendants and all their ancestors (`@node`, one dbt compile
        for all), kept per file state."""
        project = validation.project
        state = fingerprint(project, extra=json.dumps([self.service.settings.dbt_target]))
        if self._compiled[0] != state:
            self._compiled = (state, {})
        codes = self._compiled[1]
        needed = {n for uid in uids for n in _at_closure(graph, uid)}
        if all(
            n in codes for n in needed if graph.items.get(n, {}).get("resource_type") in ("model", "snapshot")
        ):
            return codes
        selectors = []
        for uid in uids:
            item = graph.items.get(uid, {})
            name = item.get("name")
            source = item.get("resource_type") == "source"
            selectors.append("@" + (f"source:{item.get('source_name')}.{name}" if source else str(name)))
        # The validation's parse, not a full one of its own (its folder has none the first time:
        # 500 models parsed twice); the compiled code comes back in-process, no JSON to write.
        args = self.service.compile_args(
            project,
            None,
            None,
            "--select",
            *selectors,
            "--indirect-selection",
            "empty",
            *parsed_by(validation),
            "--no-write-json",
            folder="lineage",
        )
        inv = self.service.inproc.invoke(args, manifest=self.service.parsed())
        if not inv.success:
            raise DbtError(
                "dbt compile failed, so column lineage cannot read the SQL.\n"
                + findings_text(inv.errors or inv.findings),
                hint=closing_hint(inv.errors or inv.findings, "Fix the model's Jinja/SQL, then retry."),
            )
        for r in getattr(inv.result, "results", None) or []:
            n = getattr(r, "node", None)
            code = getattr(n, "compiled_code", None)
            if n is not None and code:
                codes[n.unique_id] = str(code)
        return codes


def _at_closure(graph: lineage_mod.Graph, uid: str) -> set[str]:
    """dbt's `@node`: the node, its descendants, and every ancestor of those."""
    down, todo = {uid}, [uid]
    while todo:
        for child in graph.children.get(todo.pop(), []):
            if child not in down:
                down.add(child)
                todo.append(child)
    out, todo = set(down), list(down)
    while todo:
        for parent in graph.parents.get(todo.pop(), []):
            if parent not in out:
                out.add(parent)
                todo.append(parent)
    return out
