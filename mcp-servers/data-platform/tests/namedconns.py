"""Two real databases in the suite's cluster, declared as named connections in a project file."""

from __future__ import annotations

from pathlib import Path

import psycopg

from pgcluster import Cluster

DB_A = "dp_conn_a"
DB_B = "dp_conn_b"


def db_url(pg: Cluster, db: str) -> str:
    return f"postgresql://{pg.user}:{pg.password}@{pg.host}:{pg.port}/{db}"


def create_databases(pg: Cluster, setup: dict[str, str]) -> None:
    """Each database dropped and created afresh, then its setup SQL run."""
    with psycopg.connect(pg.url, autocommit=True) as conn:
        for db in setup:
            conn.execute(f'drop database if exists "{db}" with (force)')
            conn.execute(f'create database "{db}" owner "{pg.user}"')
    for db, sql in setup.items():
        with psycopg.connect(db_url(pg, db), autocommit=True) as conn:
            conn.execute(sql)


def drop_databases(pg: Cluster, names: list[str]) -> None:
    with psycopg.connect(pg.url, autocommit=True) as conn:
        for db in names:
            conn.execute(f'drop database if exists "{db}" with (force)')


def toml_url(pg: Cluster, db: str, password_var: str = "WH_PASSWORD") -> str:
    """A URL for the connections file: the password comes from the environment, not the file."""
    return f"postgresql://{pg.user}:${{{password_var}}}@{pg.host}:{pg.port}/{db}"


def write_connections(project: Path, text: str) -> Path:
    path = project / ".data-platform" / "connections.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def scalar(pg: Cluster, db: str, sql: str) -> object:
    with psycopg.connect(db_url(pg, db)) as conn:
        row = conn.execute(sql).fetchone()
        assert row is not None
        return row[0]
