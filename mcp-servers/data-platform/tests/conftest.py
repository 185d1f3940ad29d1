"""Shared fixtures: a real PostgreSQL + PostGIS, a project folder, a live server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import secret_scan
from pgcluster import Cluster, destroy, from_env, start_cluster


def pytest_sessionstart(session: pytest.Session) -> None:
    secret_scan.start()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every test: no output, error or log line of the session may hold the password."""
    files, leaks = secret_scan.finish()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if leaks:
        if reporter:
            reporter.write_sep("!", "SECRET LEAK: the test database password appeared in output", red=True)
            for leak in leaks[:50]:
                reporter.write_line(str(leak), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter:
        known = len(secret_scan.secrets())
        reporter.write_line(
            f"secret scan: {len(files)} log/transcript file(s), {known} secret(s): no leak"
            if known
            else "secret scan: no secret registered (the pg fixture was not used)"
        )


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def pg() -> Iterator[Cluster]:
    """The suite's PostgreSQL: DATA_PLATFORM_TEST_POSTGRES_URL, or a throwaway cluster."""
    url = os.environ.get("DATA_PLATFORM_TEST_POSTGRES_URL")
    cluster = from_env(url) if url else start_cluster()
    secret_scan.register_secret(cluster.password)
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
