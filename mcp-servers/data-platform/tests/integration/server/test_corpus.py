"""The natural-calls corpus through a real MCP client: right the first time, or refused showing what works.

Prints the share right on the first call; fails on any silent wrong answer (a call
that succeeded while its result is not what was asked) and on any refusal that does
not name what works.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import psycopg
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from corpus import CASES, LATIN1_CSV, PG_SETUP, SALES_CSV, SLASH_DATES_CSV, World
from data_platform.registry import Registry
from harness import inmemory, text_of
from pgcluster import Cluster
from shopproject import copy_shop, dbt_env

pytestmark = pytest.mark.anyio


def _files(project: Path) -> None:
    (project / "sales.csv").write_text(SALES_CSV)
    (project / "slash.csv").write_text(SLASH_DATES_CSV)
    (project / "fr.csv").write_bytes(LATIN1_CSV)
    table = pacsv.read_csv(project / "sales.csv")
    pq.write_table(table, project / "sales.parquet")
    with open(project / "sales.jsonl", "w") as out:
        for row in table.to_pylist():
            out.write(json.dumps(row, default=str) + "\n")


PARTS = {  # two servers, so that xdist runs them side by side; the dbt cases need no ref
    "frames+postgres": [c for c in CASES if c.family != "dbt"],
    "dbt": [c for c in CASES if c.family == "dbt"],
}


@pytest.mark.parametrize("part", list(PARTS))
async def test_natural_calls_corpus(
    part: str, project: Path, pg: Cluster, record_property: Callable[[str, object], None]
) -> None:
    cases = PARTS[part]
    _files(project)
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS corpus CASCADE")
        conn.execute(PG_SETUP)
    shop = copy_shop(project.parent)
    env = {"POSTGRES_URL": pg.url, **dbt_env(pg, shop)}

    def sql(query: str) -> list[tuple[object, ...]]:
        with psycopg.connect(pg.url) as conn:
            return list(conn.execute(query).fetchall())

    world = World(ref=Registry(project / ".data-platform").get, sql=sql)
    right, refused, problems = 0, 0, []
    async with inmemory(project, env) as client:
        for i, case in enumerate(cases):
            result = await client.call_tool(case.tool, case.args)
            text = text_of(result)
            label = f"#{i} {case.tool}({json.dumps(case.args, default=str)})"
            assert "Traceback" not in text and "pydantic" not in text, f"{label}: {text}"
            if case.refuse:
                if not result.is_error:
                    problems.append(f"SILENT {label} succeeded, should have been refused: {text[:300]}")
                elif not text.startswith("Error: ") or not all(n in text for n in case.needles):
                    problems.append(f"UNCLEAR {label}: error does not name {case.needles}: {text[:400]}")
                else:
                    refused += 1
                continue
            if result.is_error:
                problems.append(f"FAILED {label}: {text[:400]}")
                continue
            try:
                case.check(result.structured_content or {}, text, world)
            except Exception as exc:  # a check that cannot even read the result: wrong all the same
                problems.append(f"SILENT {label} answered but wrong: {exc!r}\n{text[:300]}")
                continue
            right += 1
    total = len(cases)
    share = right / total
    record_property("corpus", {"part": part, "right": right, "total": total, "refused": refused,
                               "problems": len(problems)})  # fmt: skip
    assert not problems, "\n".join(problems)
    assert total >= 20 and share >= 0.9
