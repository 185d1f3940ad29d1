"""A separate pytest session wired with the suite's own conftest hooks (the session-end secret
scan among them), so a test can plant a leak and see what the suite's session end does with it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from suitepaths import TESTS

CONFTEST = textwrap.dedent(f"""
    import importlib.util, sys
    sys.path.insert(0, {str(TESTS)!r})
    spec = importlib.util.spec_from_file_location("suite_conftest", {str(TESTS / "conftest.py")!r})
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    globals().update({{k: v for k, v in vars(suite).items() if k.startswith("pytest_")}})
    """)


def inner_session(folder: Path, tests: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `tests` (a test module's source) in `folder` under the suite's hooks; `args` go to pytest
    (e.g. "-n", "2"). Logs go to `folder/logs`, not the outer session's."""
    folder.mkdir()
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "test_inner.py").write_text(tests)
    env = {**os.environ, "DATA_PLATFORM_TEST_LOG_DIR": str(folder / "logs")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
