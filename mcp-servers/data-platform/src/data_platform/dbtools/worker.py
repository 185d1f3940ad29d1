"""A pre-started dbt process for one command: `python -P -m data_platform.dbtools.worker`.

Starting a `dbt` process costs seconds before dbt does anything (importing dbt and its
adapter). The service keeps one such process started ahead of time: it imports dbt,
then waits for one JSON list of CLI arguments on stdin, runs it with `dbtRunner`,
writes every event as a JSON line on stdout (the `--log-format json` shape), and exits
with dbt's exit code. One command per process: no dbt state leaks between runs, and
a run can still be interrupted (SIGINT) or killed like any subprocess. It stops by itself
when the server dies (lifeline.py).

`python -P -m data_platform.dbtools.worker SECONDS`: wait up to SECONDS for the command before
importing dbt. The worker started after a command (for the next one) waits: the answer being
built gets the CPU, and a server closed right after its last command (a session ending, a
script) pays nothing for a worker it never uses. A command arriving earlier starts the import at once.
"""

from __future__ import annotations

import json
import select
import sys
from typing import Any

from data_platform.dbtools.lifeline import die_with_parent


def _early_command(idle_s: float) -> str | None:
    """The command line if it comes within `idle_s` (before dbt is imported), else None."""
    if idle_s > 0 and select.select([sys.stdin], [], [], idle_s)[0]:
        return sys.stdin.readline()
    return None


def main() -> int:
    die_with_parent()
    try:
        line = _early_command(float(sys.argv[1]) if len(sys.argv) > 1 else 0.0)
        if line is not None and not line.strip():
            return 0  # the server went away before this worker imported anything
        from dbt.cli.main import dbtRunner
        from dbt_common.events.functions import msg_to_json

        events = sys.stdout
        sys.stdout = sys.stderr  # dbt's console logger must not mix with the event stream
        if line is None:
            line = sys.stdin.readline()
    except KeyboardInterrupt:
        return 130  # the server died (or cancelled) while this worker waited
    if not line.strip():
        return 0  # the server went away or no longer needs this worker
    args = json.loads(line)

    def forward(event: Any) -> None:
        if event.info.level == "debug":
            return
        events.write(msg_to_json(event) + "\n")
        events.flush()

    res = dbtRunner(callbacks=[forward]).invoke(args)
    if res.success:
        return 0
    return 2 if res.exception is not None else 1


if __name__ == "__main__":
    sys.exit(main())
