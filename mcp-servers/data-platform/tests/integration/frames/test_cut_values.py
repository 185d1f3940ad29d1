"""No preview value cut without a mark: `sql` and `head` cut long cells at 40 characters and used
to show "Chinstrap penguin (Pygoscelis antarctica" as if it were the value (issue 22)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import call, inmemory, text_of

pytestmark = pytest.mark.anyio

LONG = "Chinstrap penguin (Pygoscelis antarctica)"  # 41 characters
EXACT = "x" * 40  # exactly a cell: shown whole, no mark


async def test_sql_and_head_mark_every_cut_value_and_say_so(project: Path) -> None:
    (project / "p.csv").write_text(f"id,species\n1,{LONG}\n2,Adelie\n3,{EXACT}\n", encoding="utf-8")
    async with inmemory(project) as client:
        await call(client, "read_csv", path="p.csv", name="p")
        head = await call(client, "head", data_ref="p")
        sql = await call(client, "sql", query="SELECT species, id FROM p ORDER BY id", name="q")
        short = await call(client, "head", data_ref="p", n=1)
        whole = await call(client, "sql", query="SELECT species FROM p WHERE id = 3", name="w")
    for r in (head, sql, short):
        text = text_of(r)
        assert "Chinstrap penguin (Pygoscelis antarctic… |" in text
        assert "| Chinstrap penguin (Pygoscelis antarctica |" not in text
        assert "values longer than 40 characters cut (…); the ref holds them whole" in text
        first = r.structured_content["preview"][0]["species"]
        assert first == LONG or first.endswith("…")  # the structured preview is whole or marked
    assert f"| {EXACT} |" in text_of(whole) and "cut (…)" not in text_of(whole)
