"""A process's first read_csv/read_parquet imports no pandas: pyarrow imports it (0.2-0.5 s) the
first time a Python object is converted to Arrow (a literal in a compute call, `from_pylist`,
`schema.empty_table()`), and the tool paths have no use for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

CHILD = """
import sys
from pathlib import Path
from data_platform.frames.csv_reader import read_csv
from data_platform.frames.parquet import read_parquet
from data_platform.registry import Registry, Target

reg = Registry(Path(sys.argv[1]) / "registry")
done = read_csv(Path(sys.argv[1]) / "a.csv", Target(reg, "c", False, "t", "c"), max_rows=1000)
assert done.info.rows == 3 and done.head.column("note")[0].as_py().endswith("…"), done.head
read_parquet(Path(sys.argv[1]) / "a.parquet", Target(reg, "p", False, "t", "p"), max_rows=1000)
print(sorted(m for m in sys.modules if m.split(".")[0] == "pandas")[:3])
"""


def test_first_reads_import_no_pandas(tmp_path: Path) -> None:
    # Text columns (one empty value), an ISO date the reader types, a long cell the preview cuts.
    long = "x" * 200
    (tmp_path / "a.csv").write_text(
        f"id,city,day,note\n1,Paris,2024-01-31,{long}\n2,,2024-02-01,b\n3,Lyon,,c\n"
    )
    table = pa.table({"id": [1, 2], "city": ["Paris", None], "note": [long, "b"]})
    pq.write_table(table, tmp_path / "a.parquet")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True, check=False, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
