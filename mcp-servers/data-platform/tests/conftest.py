"""Shared fixtures: a real PostgreSQL + PostGIS, a project folder, a live server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pgcluster import Cluster, destroy, from_env, start_cluster


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def pg() -> Iterator[Cluster]:
    """The suite's PostgreSQL: DATA_PLATFORM_TEST_POSTGRES_URL, or a throwaway cluster."""
    url = os.environ.get("DATA_PLATFORM_TEST_POSTGRES_URL")
    cluster = from_env(url) if url else start_cluster()
    try:
        yield cluster
    finally:
        destroy(cluster)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty user project folder: the server's working directory."""
    folder = tmp_path / "project"
    folder.mkdir()
    return folder
