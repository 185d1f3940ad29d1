"""The session-end secret scan still fails the run under pytest-xdist (scripts/test.sh uses it).

Each worker starts its own PostgreSQL cluster with its own password, known only to that
worker: a worker scans the session's logs and transcripts for its own secrets and the
controller reports. A leak planted by a test on one worker must fail the whole run.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from innersession import inner_session


def _inner_session(tmp_path: Path, leak: bool) -> subprocess.CompletedProcess[str]:
    line = "postgresql://u:pw-planted-leak-43@h/db" if leak else "postgresql://u:***@h/db"
    tests = "\n".join(
        textwrap.dedent(f"""
        def test_worker_{i}():
            import harness, os, secret_scan, time
            secret_scan.register_secret("pw-planted-leak-4{i + 3}")
            harness.LOG_DIR.mkdir(parents=True, exist_ok=True)
            text = {line!r} if {i} == 0 else "nothing to see"
            with open(harness.LOG_DIR / f"server-{{os.getpid()}}.log", "a") as log:
                log.write("connecting to " + text + "\\n")
            time.sleep(1)  # both workers get a test
        """)
        for i in range(4)
    )
    return inner_session(tmp_path / ("leaky" if leak else "clean"), tests, "-n", "2", timeout=180)


@pytest.mark.slow  # an inner session of three pytest processes
def test_a_leak_on_one_worker_fails_the_run(tmp_path: Path) -> None:
    leaky = _inner_session(tmp_path, leak=True)
    assert leaky.returncode == 1, leaky.stdout[-2000:] + leaky.stderr[-2000:]
    assert "4 passed" in leaky.stdout, "the tests themselves passed: only the session scan can fail it"
    assert "SECRET LEAK" in leaky.stdout and ".log:1" in leaky.stdout, leaky.stdout[-2000:]
    assert "pw-planted-leak-43" not in leaky.stdout, "the report must not print the secret"
    # The clean case under workers is scripts/test.sh's own session end ("secret scan by 2 worker(s)").
