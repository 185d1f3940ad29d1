"""What the dbt answers computed but never said: catalog errors (docs) and a cut Mermaid diagram.

The first two tests read real artifacts (catalog.json, a manifest) through the result models;
the last drives dbt_lineage through the in-memory client on the shop project grown past the
diagram's bound.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_platform.dbtools.artifacts import docs_report
from data_platform.dbtools.lineage import MERMAID_MAX_NODES, lineage
from data_platform.dbtools.project import locate
from data_platform.dbtools.service import Validation
from data_platform.server.dbt_lineage_results import DbtLineageResult
from data_platform.server.dbt_results import DbtDocsResult
from harness import call, inmemory, text_of
from pgcluster import Cluster
from shopproject import copy_shop, dbt_env


def _validation(tmp_path: Path) -> Validation:
    root = copy_shop(tmp_path)
    return Validation(locate(root, None, root), [], 0.5, False, root / "target" / "manifest.json")


def _docs_target(tmp_path: Path, errors: list[str] | None) -> Path:
    target = tmp_path / "target"
    target.mkdir(parents=True)
    manifest = {"nodes": {"model.p.m": {"resource_type": "model", "name": "m", "description": "M."}}}
    catalog = {"nodes": {"model.p.m": {"columns": {"id": {}}}}, "sources": {}, "errors": errors}
    (target / "manifest.json").write_text(json.dumps(manifest))
    (target / "catalog.json").write_text(json.dumps(catalog))
    return target


def test_docs_answer_says_catalog_errors_first_three_and_a_count(tmp_path: Path) -> None:
    errors = [f"Database Error in schema s{i}\n  permission denied for schema s{i}" for i in range(5)]
    target = _docs_target(tmp_path, errors)
    result = DbtDocsResult.of(docs_report(target), _validation(tmp_path))
    text = result.render()
    assert "WARNING: 5 catalog error(s); the catalog may be incomplete:" in text
    shown = [line for line in text.splitlines() if line.startswith("- Database Error")]
    assert shown == [f"- Database Error in schema s{i} permission denied for schema s{i}" for i in range(3)]
    assert f"- ... 2 more in {target / 'catalog.json'}" in text
    assert "schema s3" not in text
    # The structured content (the output schema) is unchanged: the errors are said in the text.
    assert set(result.model_dump()) == set(DbtDocsResult.model_fields)


def test_docs_answer_without_catalog_errors_says_none(tmp_path: Path) -> None:
    for errors in (None, []):
        target = _docs_target(tmp_path / str(errors), errors)
        text = DbtDocsResult.of(docs_report(target), _validation(tmp_path / f"v{errors}")).render()
        assert "catalog error" not in text and text.startswith("Docs generated:")


def _wide_manifest(children: int) -> dict:
    nodes = {"model.p.hub": {"resource_type": "model", "name": "hub"}}
    child_map: dict[str, list[str]] = {"model.p.hub": []}
    parent_map: dict[str, list[str]] = {"model.p.hub": []}
    for i in range(children):
        uid = f"model.p.leaf{i:03d}"
        nodes[uid] = {"resource_type": "model", "name": f"leaf{i:03d}"}
        child_map["model.p.hub"].append(uid)
        parent_map[uid] = ["model.p.hub"]
    return {"nodes": nodes, "parent_map": parent_map, "child_map": child_map}


def test_lineage_answer_says_when_the_diagram_is_cut_and_how_to_see_more(tmp_path: Path) -> None:
    validation = _validation(tmp_path)
    lin = lineage(_wide_manifest(100), "hub")
    assert lin.mermaid_cut and len(lin.downstream) == 100
    drawn = [line for line in lin.mermaid.splitlines() if line.startswith("  n") and "-->" not in line]
    assert len(drawn) == MERMAID_MAX_NODES
    text = DbtLineageResult.of(lin, validation).render()
    assert f"(Diagram cut: it draws the {MERMAID_MAX_NODES} of 101 nodes nearest to hub." in text
    assert 'pass a smaller depth (e.g. depth=2) or direction="up" or "down"' in text
    small = lineage(_wide_manifest(MERMAID_MAX_NODES - 1), "hub")
    assert not small.mermaid_cut
    assert "Diagram cut" not in DbtLineageResult.of(small, validation).render()


@pytest.mark.anyio
async def test_dbt_lineage_says_the_diagram_is_cut_through_the_protocol(tmp_path: Path, pg: Cluster) -> None:
    root = copy_shop(tmp_path)
    wide = root / "models" / "wide"
    wide.mkdir()
    for i in range(MERMAID_MAX_NODES + 5):
        (wide / f"wide_{i:03d}.sql").write_text("select * from {{ ref('stg_orders') }}\n")
    async with inmemory(tmp_path, env=dbt_env(pg, root)) as client:
        cut = await call(client, "dbt_lineage", node="stg_orders", direction="down", tests=False)
        text, downstream = text_of(cut), cut.structured_content["downstream"]
        assert len(downstream) == MERMAID_MAX_NODES + 5 + 3  # and the shop's own three
        assert f"Downstream ({len(downstream)}):" in text and f"... {len(downstream) - 60} more" in text
        drawn = f"{MERMAID_MAX_NODES} of {len(downstream) + 1} nodes nearest to stg_orders."
        assert f"(Diagram cut: it draws the {drawn}" in text
        assert "wide_084" in json.dumps(cut.structured_content)  # the structured lists are whole
        up = text_of(await call(client, "dbt_lineage", node="stg_orders", direction="up"))
        assert "Upstream (" in up and "Diagram cut" not in up
