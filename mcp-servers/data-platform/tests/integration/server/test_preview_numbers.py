"""Numbers a reader expects in previews (issue 13, item 8): at most ~10 significant digits, no
scientific notation for ordinary magnitudes; exact values in structured content and written files."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from data_platform.render import format_cell, format_float, preview
from harness import call, inmemory, text_of
from pgcluster import Cluster

pytestmark = pytest.mark.anyio

CASES = [
    (853.1007099999998, "853.10071"),
    (0.1 + 0.2, "0.3"),
    (2 / 3, "0.6666666667"),
    (-2 / 3, "-0.6666666667"),
    (1.234e-05, "0.00001234"),  # repr says 1.234e-05
    (0.000123456789123, "0.0001234567891"),
    (120.5, "120.5"),
    (3.0, "3.0"),
    (1e10, "10000000000.0"),
    (1234.5678901234, "1234.56789"),
    (12345678901.5, "12345678902"),  # never fewer digits than the integer part has
    (0.9999999999999999, "1.0"),
    (0.0, "0.0"),
    (-0.0, "-0.0"),
    (1.5e20, "1.5e+20"),  # beyond ordinary magnitudes: scientific, still short
    (1e-300, "1e-300"),
    (1.7976931348623157e308, "1.797693135e+308"),
    (math.nan, "nan"),
    (math.inf, "inf"),
    (-math.inf, "-inf"),
]


@pytest.mark.parametrize(("value", "shown"), CASES)
def test_a_float_is_shown_as_a_reader_expects(value: float, shown: str) -> None:
    assert format_float(value) == shown
    assert format_cell(value) == shown
    if math.isfinite(value) and abs(value) < 1e15:
        # What is shown is the value to 10 significant digits: nothing invented, nothing lost beyond that.
        assert math.isclose(float(shown), value, rel_tol=1e-9, abs_tol=0.0)


def test_floats_inside_list_and_struct_cells_are_short_too() -> None:
    assert format_cell([853.1007099999998, 1.5, None]) == "[853.10071, 1.5, null]"
    assert format_cell({"x": 0.1 + 0.2, "n": 2}) == '{"x": 0.3, "n": 2}'


def test_a_preview_shows_float32_to_its_own_precision() -> None:
    table = pa.table(
        {
            "f64": pa.array([853.1007099999998, 1.234e-05], pa.float64()),
            "f32": pa.array([0.1, 853.1007], pa.float32()),  # stored as 0.10000000149011612, ...
            "n": pa.array([1, 2]),
        }
    )
    text, _ = preview(table, 2)
    assert text.splitlines()[2:] == ["| 853.10071 | 0.1 | 1 |", "| 0.00001234 | 853.1007 | 2 |"]


async def test_read_csv_previews_short_numbers_and_keeps_exact_ones(project: Path) -> None:
    (project / "m.csv").write_text("id,amount\n1,853.1007099999998\n2,0.30000000000000004\n3,1.234e-05\n")
    async with inmemory(project) as client:
        result = await call(client, "read_csv", path="m.csv", name="m")
        text = text_of(result)
        assert "| 1 | 853.10071 |" in text and "| 2 | 0.3 |" in text and "| 3 | 0.00001234 |" in text
        assert "853.1007099999998" not in text and "e-05" not in text
        exact = pacsv.read_csv(project / "m.csv").column("amount").to_pylist()
        assert [row["amount"] for row in result.structured_content["preview"]] == exact
        await call(client, "to_csv", data_ref="m", path="out.csv")
    assert pacsv.read_csv(project / "out.csv").column("amount").to_pylist() == exact


async def test_pg_query_previews_short_numbers_and_keeps_exact_ones(project: Path, pg: Cluster) -> None:
    sql = "select 853.1007099999998::float8 as x, 1.234e-05::float8 as tiny, 0.1::float4 as f4"
    async with inmemory(project, env=pg.env()) as client:
        result = await call(client, "pg_query", sql=sql)
    text = text_of(result)
    assert "| 853.10071 | 0.00001234 | 0.1 |" in text, text
    row = result.structured_content["preview"][0]
    assert row["x"] == 853.1007099999998 and row["tiny"] == 1.234e-05
    assert row["f4"] == float(pa.array([0.1], pa.float32())[0].as_py())  # the float32 value, exactly
