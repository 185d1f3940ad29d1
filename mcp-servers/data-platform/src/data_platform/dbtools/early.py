"""A project's first parse, started in a process of its own as `serve` starts (issue 27).

On a project this server never parsed, the first dbt call waited for dbt's import and a full
parse, one after the other, after `tools/list` (the warm-up could only start then, not to slow
the start). This process does both while the server imports its own code, on the other core:
it runs the validation the server would run (service.py) and exits. What it saves (findings,
stamp, manifest: validation.py) is what the server's first validation then finds current, so
that asks dbt nothing. The server waits for it before its own first dbt command (both write
`target/.data-platform/`), and it dies with the server (lifeline.py).

    python -P -c COMMAND   (cwd and environment: the server's; niced)
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

from data_platform.dbtools.lifeline import child_env, die_with_parent
from data_platform.dbtools.project import find_project_dir
from data_platform.errors import DataPlatformError

if TYPE_CHECKING:
    from data_platform.config import Settings

NICE = 10
# Lowered first thing (before even this module's imports): the server's own start comes first
# where the cores are busy. In a session of its own (start_new_session, for a group kill), Linux
# schedules it as a group of its own (autogroup), so the group's nice value is what counts, and
# unlike a process's own nice value the server may set it back to 0 once started (`hurry`).
COMMAND = "\n".join(
    [
        "import contextlib, sys",
        "with contextlib.suppress(OSError), open('/proc/self/autogroup', 'w') as f:",
        f"    f.write('{NICE}')",
        "from data_platform.dbtools.early import main",
        "sys.exit(main())",
    ]
)
WAIT_S = 300.0  # a parse longer than this is stopped; the server then parses itself
_pending: list[subprocess.Popen[bytes]] = []
_lock = threading.Lock()
log = logging.getLogger("data_platform.dbt")


def start(settings: Settings) -> None:
    """Start the first parse of a project this server never parsed (its saved findings absent);
    nothing when the dbt tools are off or there is no project (the first call says why)."""
    if "dbt" in settings.disabled:
        return
    try:
        root = find_project_dir(settings.dbt_project_dir, settings.project_dir)
    except DataPlatformError:
        return
    if (root / "target" / ".data-platform" / "validation-findings.json").is_file():
        return  # parsed before: the warm-up checks that parse, or parses partially
    from data_platform.dbtools.runner import QUIET_ENV

    try:
        process = subprocess.Popen(
            [sys.executable, "-P", "-c", COMMAND],
            env={**os.environ, **QUIET_ENV, **child_env()},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return  # the warm-up or the first call parses instead
    with _lock:
        _pending.append(process)


def hurry() -> None:
    """The server has answered `tools/list`: the early parse at full priority from now on."""
    for process in list(_pending):
        with contextlib.suppress(OSError), open(f"/proc/{process.pid}/autogroup", "w") as f:
            f.write("0")


def settle() -> None:
    """Wait for the early parse, if one runs: before any dbt command of the server (it writes
    what they read). Callers arriving meanwhile wait too."""
    hurry()
    with _lock:
        for process in _pending:
            start = time.perf_counter()
            try:
                process.wait(WAIT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            log.info(
                "the early parse ended (exit %s), waited %.2f s",
                process.returncode,
                time.perf_counter() - start,
            )
        _pending.clear()


def main() -> int:
    die_with_parent()
    from data_platform.config import load_settings
    from data_platform.dbtools.service import DbtService

    try:
        DbtService(load_settings()).validate()
    except Exception:  # the server's own first call says what is wrong
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
