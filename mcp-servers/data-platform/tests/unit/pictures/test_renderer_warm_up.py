"""The renderer's start (V8) overlaps a first picture's data work: `chart` starts the warm-up
thread first thing, once per process (pictures/render.py `warm_up_soon`), and its own render
waits for it. Run in a fresh process: the warm-up is once per process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FIRST_CHART = """
import sys, threading
from pathlib import Path
import pyarrow as pa
from data_platform.pictures import chart, render
from data_platform.registry import Registry

folder = Path(sys.argv[1])
registry = Registry(folder / "registry")
registry.put(pa.table({"a": [1, 2, 3], "b": [4.0, 5.0, 6.0]}), name="t", source="test")
assert not render._warming and "vl_convert" not in sys.modules
out = chart.chart(registry, "t", chart.Request("scatter", "a", "b", None, None, None, None), folder)
assert out.picture.png.startswith(b"\\x89PNG") and out.drawn == 3
(thread,) = render._warming  # started by the chart
thread.join(60)
render.warm_up_soon()  # once per process: nothing more
print(len(render._warming), thread.name, thread.is_alive())
"""


def test_a_first_chart_starts_the_renderer_warm_up_once(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", FIRST_CHART, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.split() == ["1", "renderer-warm", "False"]
