"""What `list_files` found: the listing's result, which is also the tool's structured content (a
pydantic model the server extends with its text). Apart from listing.py so the server declares
the tool without importing pyarrow.dataset."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class FileRow(BaseModel):
    path: str  # relative to the folder listed (a file's own name when one file is listed)
    size_bytes: int


class Listing(BaseModel):
    path: str
    # folder, glob (its matches), file, delta table, iceberg table files, iceberg catalog/namespace/table
    kind: str
    files_total: int = 0
    bytes_total: int = 0
    files: list[FileRow] = []  # the first SHOWN_FILES
    partitions: dict[str, list[str]] = {}  # hive key -> its first SHOWN_VALUES values
    partition_values: dict[str, int] = {}  # hive key -> how many values
    formats: dict[str, int] = {}
    columns: dict[str, str] = {}  # name -> Arrow type
    namespaces: list[str] = []
    tables: list[str] = []
    # A table's latest snapshots (Delta: versions), newest first: [{"id", "time" (UTC, ISO), "operation",
    # "rows"}]. Typed Any: a row model's schema (~300 characters) overran the whole tool list's cap.
    snapshots: Any = []
    next: list[str] = []
