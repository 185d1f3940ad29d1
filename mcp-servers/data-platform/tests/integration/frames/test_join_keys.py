"""join says what it did to rows (in, out, keys repeated on either side) and takes pandas'
`validate` to refuse a join that breaks it (issue 22: Gapminder codes North Korea as KOR, the
South's key, and a join silently gave the North the South's row)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from harness import call, call_error, inmemory, text_of

pytestmark = pytest.mark.anyio


async def test_a_many_to_many_join_is_said_and_refused_under_validate(project: Path) -> None:
    (project / "countries.csv").write_text(
        "iso,country\nKOR,South Korea\nKOR,North Korea\nFRA,France\nDEU,Germany\n", encoding="utf-8"
    )
    (project / "gdp.csv").write_text(
        "iso,year,gdp\nKOR,2020,1.6\nKOR,2021,1.8\nFRA,2020,2.6\n", encoding="utf-8"
    )
    (project / "capitals.csv").write_text("iso,capital\nKOR,Seoul\nFRA,Paris\n", encoding="utf-8")
    async with inmemory(project) as client:
        for ref in ("countries", "gdp", "capitals"):
            await call(client, "read_csv", path=f"{ref}.csv", name=ref)
        mm = await call(client, "join", left="countries", right="gdp", on="iso", name="cg")
        refused = await call_error(
            client, "join", left="countries", right="gdp", on="iso", validate="one_to_one"
        )
        short = await call_error(
            client, "join", left="countries", right="gdp", on="iso", validate="1:1", name="x"
        )
        m1 = await call(
            client, "join", left="countries", right="capitals", on="iso", validate="m:1", name="cc"
        )
        unique = await call(client, "join", left="capitals", right="capitals", on="iso", name="self")
        refs = await call(client, "list_data")
    text = text_of(mm)
    assert "4 rows in `countries`, 3 in `gdp` → 5 rows out" in text
    assert "Keys repeat (many_to_many)" in text
    assert "`countries`: 1 key on 2+ rows (2 rows; e.g. iso=KOR on 2)" in text
    assert "`gdp`: 1 key on 2+ rows (2 rows; e.g. iso=KOR on 2)" in text
    assert mm.structured_content["rows"] == 5
    assert "join refused: validate='one_to_one'" in refused and "iso=KOR" in refused
    assert "`countries`" in refused and "`gdp`" in refused and "Nothing was stored" in refused
    assert "join refused" in short and "`x`" not in text_of(refs)  # 1:1 read as one_to_one
    assert 'read `validate="m:1"` as `validate="many_to_one"`' in text_of(m1)
    assert "3 rows out" in text_of(m1) and "Keys repeat (many_to_one)" in text_of(m1)
    assert "Keys unique on both sides (one_to_one)" in text_of(unique)


def test_repeats_counts_keys_ignoring_nulls() -> None:
    from data_platform.frames.joinkeys import repeats

    t = pa.table({"a": [1, 1, 1, 2, None, None], "b": ["x", "x", "x", "y", "z", "z"]})
    rep = repeats(t, ["a"])
    assert (rep.keys, rep.rows, rep.example, rep.example_rows) == (1, 3, {"a": 1}, 3)
    assert repeats(t, ["a", "b"]).keys == 1 and repeats(t.slice(3, 1), ["a"]).keys == 0


async def test_rows_that_matched_nothing_are_counted_for_each_kind_of_join(project: Path) -> None:
    """A left join gives as many rows whether keys line up or not: the answer counts the kept
    side's rows that matched nothing (a null key never matches), as an anti join would."""
    (project / "orders.csv").write_text(
        "order,cust\n1,10\n2,10\n3,11\n4,99\n5,\n", encoding="utf-8"
    )  # 99 is no customer; order 5 has no customer at all
    (project / "customers.csv").write_text("cust,name\n10,Ann\n11,Bo\n12,Cy\n", encoding="utf-8")
    async with inmemory(project) as client:
        for ref in ("orders", "customers"):
            await call(client, "read_csv", path=f"{ref}.csv", name=ref)
        left = await call(client, "join", left="orders", right="customers", on="cust", how="left", name="l")
        inner = await call(client, "join", left="orders", right="customers", on="cust", name="i")
        right = await call(client, "join", left="orders", right="customers", on="cust", how="right", name="r")
        whole = await call(
            client, "join", left="customers", right="customers", on="cust", how="left", name="w"
        )
    assert (
        "→ 5 rows out. 2 of 5 `orders` rows matched nothing in `customers`: its columns are null"
        in text_of(left)
    )
    assert "→ 3 rows out. 2 of 5 `orders` rows matched nothing in `customers` and are not in the result" in (
        text_of(inner)
    )
    assert "1 of 3 `customers` rows matched nothing in `orders`" in text_of(right)  # Cy ordered nothing
    assert "Every `customers` row found a match." in text_of(whole)


def test_unmatched_counts_null_keys_and_multi_column_keys() -> None:
    from data_platform.frames.joinkeys import repeats

    kept = pa.table({"a": [1, 1, 2, None], "b": ["x", "y", "x", "x"]})
    other = pa.table({"a": [1, 2], "b": ["x", "y"]})
    assert repeats(kept, ["a"], against=(other, ["a"])).unmatched == 1  # the null key only
    assert repeats(kept, ["a", "b"], against=(other, ["a", "b"])).unmatched == 3  # only (1, x) is there
    assert repeats(kept, ["a"]).unmatched is None  # not asked
