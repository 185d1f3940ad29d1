"""Messy data files written by the tests themselves (what real projects contain)."""

from __future__ import annotations

import gzip
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# Latin-1, ';' separated, decimal commas, R's NA, a quoted field holding the separator.
LATIN1_CSV = (
    "id;name;amount;country;day\n"
    "1;Zoë;12,5;FR;2024-01-02\n"
    '2;"Smith; J";NA;DE;2024-02-03\n'
    "3;Ané;100;FR;NA\n"
    "4;Øre;7,25;SE;2024-03-04\n"
)
# Quoted commas, timestamps with zones, NaN (a float) vs empty (null), a big integer.
SALES_CSV = (
    "order_id,customer,amount,region,ts,big\n"
    '1,"Doe, Jane",120.5,EU,2024-01-02T10:00:00+02:00,12345678901234567890123\n'
    '2,"Roe, Rick",80,US,2024-01-03T09:30:00Z,1\n'
    "3,Ann,NaN,EU,2024-01-04T00:00:00+00:00,2\n"
    "4,Bob,,US,2024-01-05T12:00:00-05:00,3\n"
    "5,Cy,300,APAC,2024-01-06T08:00:00Z,-4\n"
)
NO_HEADER_CSV = "1,10.5,a\n2,20.25,b\n3,30,c\n"
RECORDS = [
    {"id": 1, "user": {"name": "ann", "tags": ["a", "b"]}, "day": "2024-05-01", "score": 1.5},
    {"id": 2, "user": {"name": "bob", "tags": []}, "day": "2024-05-02", "score": None},
    {"id": 3, "user": {"name": "cy", "tags": ["c"]}, "day": "2024-05-03", "score": 3.0},
]


def write_fixtures(folder: Path) -> Path:
    """Write every fixture into `folder/data` and return that folder."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "latin1.csv").write_bytes(LATIN1_CSV.encode("latin-1"))
    (data / "sales.csv").write_text(SALES_CSV, encoding="utf-8")
    with gzip.open(data / "sales.csv.gz", "wt", encoding="utf-8") as f:
        f.write(SALES_CSV)
    with zipfile.ZipFile(data / "sales.zip", "w") as z:
        z.writestr("inner/sales.csv", SALES_CSV)
    (data / "noheader.csv").write_text(NO_HEADER_CSV, encoding="utf-8")
    (data / "records.json").write_text(json.dumps(RECORDS), encoding="utf-8")
    (data / "records.jsonl").write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n", encoding="utf-8")
    with gzip.open(data / "records.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(json.dumps(r) for r in RECORDS) + "\n")
    (data / "broken.json").write_text('[{"a": 1}, {"a": ', encoding="utf-8")
    (data / "empty.csv").write_text("", encoding="utf-8")
    (data / "not_parquet.parquet").write_text("hello", encoding="utf-8")
    # Every type that must survive a round trip.
    typed = pa.table(
        {
            "d": pa.array([Decimal("12.34"), None, Decimal("-0.01")], type=pa.decimal128(12, 2)),
            "tz": pa.array([0, 1_700_000_000_000_000, None], type=pa.timestamp("us", tz="Europe/Paris")),
            "day": pa.array([0, 19_000, None], type=pa.date32()),
            "bin": pa.array([b"\x00\x01", None, b"\xff" * 40], type=pa.binary()),
            "big": pa.array([2**63 - 1, -(2**63), 0], type=pa.int64()),
            "f": pa.array([float("nan"), None, 1.5], type=pa.float64()),
            "nested": pa.array(
                [{"a": [1, 2]}, None, {"a": []}], type=pa.struct([("a", pa.list_(pa.int64()))])
            ),
        }
    )
    pq.write_table(typed, data / "typed.parquet")
    return data
