"""list_data names every ref within the answer's bound: a long registry is not cut mid-table with
advice list_data (no arguments) cannot follow; the newest refs in full, the rest by name."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from data_platform.registry import Registry
from harness import call, inmemory, text_of

pytestmark = pytest.mark.anyio


def _fill(project: Path, names: list[str]) -> None:
    registry = Registry(project / ".data-platform")
    for i, name in enumerate(names):
        registry.put(pa.table({"x": list(range(i + 1))}), name=name, source=f"/data/source/file_{i}.csv")
    registry.close()


async def test_a_long_registry_is_listed_whole_within_the_bound(project: Path) -> None:
    names = [f"sales_m{i:03d}" for i in range(150)]
    _fill(project, names)
    async with inmemory(project) as client:
        result = await call(client, "list_data")
    text = text_of(result)
    assert len(text) <= 8_000 and "output cut" not in text, text[-300:]
    assert text.startswith("150 data_ref(s)")
    assert set(re.findall(r"sales_m\d{3}", text)) == set(names)  # every one named
    assert "`sales_m149` | 150 |" in text  # the newest, in the table
    assert "`sales_m000` (1)" in text and "and " not in text.rsplit("older", 1)[1]  # the oldest, by name
    assert len(result.structured_content["refs"]) == 150


async def test_past_what_the_bound_holds_it_says_how_many_more(project: Path) -> None:
    _fill(project, [f"part_{i:03d}_of_the_monthly_sales_extract_for_the_region" for i in range(200)])
    async with inmemory(project) as client:
        text = text_of(await call(client, "list_data"))
    assert len(text) <= 8_000 and "output cut" not in text
    more = re.search(r"and (\d+) more \(drop_data removes refs no longer needed\)\.$", text)
    assert more is not None, text[-300:]
    assert len(set(re.findall(r"part_\d{3}_", text))) + int(more.group(1)) == 200
