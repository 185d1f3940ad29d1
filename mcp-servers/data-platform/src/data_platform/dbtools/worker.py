"""A pre-started dbt process for the service's commands: `python -P -m data_platform.dbtools.worker`.

Starting a `dbt` process costs seconds before dbt does anything (importing dbt and its
adapter: ~2.5 CPU-s). The service keeps one such process started ahead of time: it imports
dbt, then waits for a command, one JSON line on stdin (`{"args": [...], "env": {...}}`: dbt's
CLI arguments and the server's environment now), runs it with `dbtRunner`, writes every event
as a JSON line on stdout (the `--log-format json` shape) and then an END line with dbt's exit
code. A command that ended normally (exit 0 or 1: success, or nodes that failed) leaves the
process to wait for the next one, so a session's runs pay dbt's import once; anything else (an
exception, an interrupt) and it exits. Between commands it holds nothing: dbt's adapters are
released (dbt-duckdb's file lock with them) and dbt's once-per-process deprecation memory is
reset, as for the server's in-process dbt; each command gets the environment it was sent.
It stops by itself when the server dies (lifeline.py) or closes its stdin.

`python -P -m data_platform.dbtools.worker [SECONDS [COMMANDS]]`: wait up to SECONDS for the
first command before importing dbt; serve at most COMMANDS commands (default MAX_COMMANDS). The
worker started after a command (for the next one) waits: the answer being built gets the CPU,
and a server closed right after its last command pays nothing for a worker it never uses. A
command arriving earlier starts the import at once.
"""

from __future__ import annotations

import json
import os
import select
import sys
from typing import Any

from data_platform.dbtools.lifeline import die_with_parent

# The last line of a command's events: {END: dbt's exit code, NEXT: whether this process serves
# the next command}. The worker alone decides NEXT (the exit code, MAX_COMMANDS).
END = "data_platform_worker_end"
NEXT = "next"
REUSABLE_EXITS = (0, 1)  # dbt's exit codes after which the process serves the next command
MAX_COMMANDS = 50  # then a fresh process: bounds whatever dbt keeps per process


def _early_command(idle_s: float) -> str | None:
    """The command line if it comes within `idle_s` (before dbt is imported), else None."""
    if idle_s > 0 and select.select([sys.stdin], [], [], idle_s)[0]:
        return sys.stdin.readline()
    return None


def command_line(args: list[str], env: dict[str, str]) -> bytes:
    """What the server writes to a worker for one command."""
    return (json.dumps({"args": args, "env": env}) + "\n").encode()


def main() -> int:
    die_with_parent()
    try:
        line = _early_command(float(sys.argv[1]) if len(sys.argv) > 1 else 0.0)
        most = int(sys.argv[2]) if len(sys.argv) > 2 else MAX_COMMANDS
        if line is not None and not line.strip():
            return 0  # the server went away before this worker imported anything
        from dbt.cli.main import dbtRunner

        from data_platform.dbtools import speedups

        speedups.apply()
        events = sys.stdout
        sys.stdout = sys.stderr  # dbt's console logger must not mix with the event stream
        for served in range(1, most + 1):
            if line is None:
                line = sys.stdin.readline()
            if not line.strip():
                return 0  # the server went away or no longer needs this worker
            code = _run(dbtRunner, json.loads(line), events)
            serves_next = code in REUSABLE_EXITS and served < most
            events.write(json.dumps({END: code, NEXT: serves_next}) + "\n")
            events.flush()
            if not serves_next:
                return code
            line = None
    except KeyboardInterrupt:
        return 130  # the server died or cancelled (a command, or while this worker waited)
    return 0


def _run(runner_cls: Any, command: dict[str, Any], events: Any) -> int:
    """One dbt command with the server's environment; its exit code (dbt's: 0, 1 or 2)."""
    import dbt.deprecations
    from dbt_common.events.functions import msg_to_json

    from data_platform.dbtools.runner import end_command

    def forward(event: Any) -> None:
        if event.info.level == "debug":
            return
        events.write(msg_to_json(event) + "\n")
        events.flush()

    os.environ.clear()
    os.environ.update(command["env"])
    dbt.deprecations.reset_deprecations()  # else each deprecation is told once per process
    try:
        res = runner_cls(callbacks=[forward]).invoke(command["args"])
    finally:
        end_command()  # nothing held while idle: dbt-duckdb's file lock above all
        sys.stderr.flush()
    if res.success:
        return 0
    return 2 if res.exception is not None else 1


if __name__ == "__main__":
    sys.exit(main())
