"""The shop project on either adapter (PostgreSQL or dbt-duckdb), and an independent reader of
what dbt built there (psycopg / duckdb directly, never through the server).

Named `shopwarehouse`, not `dbt_*` (dbt's plugin discovery imports `dbt_*` modules on sys.path).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest

from shopproject import copy_shop, dbt_env, duckdb_env

ADAPTERS = ("postgres", "duckdb")


@dataclass
class Shop:
    adapter: str
    root: Path
    env: dict[str, str]
    schema: str
    url: str | None = None  # PostgreSQL
    path: Path | None = None  # DuckDB file

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run `sql` (`{s}` is the shop's schema) straight on the warehouse, not through the server."""
        text = sql.replace("{s}", self.schema)
        if self.url is not None:
            with psycopg.connect(self.url) as conn:
                return [tuple(r) for r in conn.execute(text).fetchall()]
        assert self.path is not None
        with duckdb.connect(str(self.path), read_only=True) as conn:
            return [tuple(r) for r in conn.execute(text).fetchall()]

    def execute(self, sql: str) -> None:
        text = sql.replace("{s}", self.schema)
        if self.url is not None:
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(text)
            return
        assert self.path is not None
        with duckdb.connect(str(self.path)) as conn:
            conn.execute(text)


def make_shop(request: pytest.FixtureRequest, tmp_path: Path, adapter: str) -> Shop:
    """A fresh copy of the shop project and a fresh schema (PostgreSQL) or file (DuckDB)."""
    root = copy_shop(tmp_path)
    schema = f"shop_{uuid.uuid4().hex[:8]}"
    if adapter == "postgres":
        pg = request.getfixturevalue("pg")
        return Shop(adapter, root, dbt_env(pg, root, schema), schema, url=pg.url)
    path = tmp_path / "warehouse.duckdb"
    return Shop(adapter, root, duckdb_env(root, path, schema), schema, path=path)
