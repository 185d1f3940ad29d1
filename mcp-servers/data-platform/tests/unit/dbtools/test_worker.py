"""The pre-started dbt worker (dbtools/worker.py): started with an idle time (the worker kept for
the next command), it imports dbt only once that time has passed or its command came, so a
server closed right after its last command pays nothing for it.

A stand-in `dbt` package first on PYTHONPATH records that it was imported; the real one runs
the command that arrives early.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from data_platform.dbtools.runner import worker_command
from data_platform.dbtools.worker import END, MAX_COMMANDS, NEXT, REUSABLE_EXITS, command_line


def _stand_in(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose `import dbt` writes a marker file (then fails, as no dbt is there)."""
    package = tmp_path / "fake" / "dbt"
    package.mkdir(parents=True)
    marker = tmp_path / "imported"
    (package / "__init__.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nraise ImportError('stand-in')\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(package.parent), os.environ.get("PYTHONPATH", "")]),
    }
    return env, marker


def _closed_at_once(idle_s: float, env: dict[str, str]) -> int:
    """Start the worker, close its stdin at once (a server going away), wait for its exit code."""
    with subprocess.Popen(
        worker_command(idle_s), stdin=subprocess.PIPE, env=env, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdin is not None
        proc.stdin.close()
        return proc.wait(timeout=60)


def test_a_worker_waiting_for_the_next_command_imports_nothing_if_the_server_goes(tmp_path: Path) -> None:
    env, marker = _stand_in(tmp_path)
    assert _closed_at_once(600, env) == 0
    assert not marker.exists(), "the worker imported dbt although no command came"


def test_a_worker_for_the_command_about_to_come_imports_dbt_at_once(tmp_path: Path) -> None:
    env, marker = _stand_in(tmp_path)
    _closed_at_once(0, env)  # fails on the stand-in's ImportError: the import is what is checked
    assert marker.exists()


def _ends(out: str) -> list[tuple[int, bool]]:
    """Each END line: dbt's exit code, whether the worker serves the next command."""
    ends = [json.loads(line) for line in out.splitlines() if line.startswith('{"' + END)]
    return [(e[END], e[NEXT]) for e in ends]


def test_a_command_arriving_during_the_idle_time_runs_without_waiting_it_out(tmp_path: Path) -> None:
    with subprocess.Popen(
        worker_command(600), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        line = command_line(["--version"], dict(os.environ))
        out, err = proc.communicate(line, timeout=120)  # far below the 600 s idle
    assert proc.returncode == 0 and _ends(out.decode()) == [(0, True)], err[-500:]
    assert b"installed" in err.lower(), err[-500:]  # dbt's version report (stdout is the event stream)


def test_one_worker_serves_commands_until_one_ends_abnormally(tmp_path: Path) -> None:
    """A command that ends normally leaves the worker for the next (dbt imported once, each
    command with the environment it was sent); one dbt cannot run (exit 2) ends the worker."""
    env = dict(os.environ)
    with subprocess.Popen(
        worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        for _ in range(2):
            proc.stdin.write(command_line(["--version"], env))
            proc.stdin.flush()
            assert _ends(proc.stdout.readline().decode()) == [(0, True)]
        missing = tmp_path / "nowhere"  # a project folder that is not there: dbt raises, exit 2
        proc.stdin.write(command_line(["parse", "--project-dir", str(missing)], {**env, "DO_NOT_TRACK": "1"}))
        proc.stdin.flush()
        out, err = proc.communicate(timeout=120)
    assert _ends(out.decode())[-1:] == [(proc.returncode, False)], err[-500:]
    assert proc.returncode not in REUSABLE_EXITS


def test_the_last_command_a_worker_serves_says_so_before_it_exits() -> None:
    """After its last command (MAX_COMMANDS; 3 here, given on its command line, as 50 `dbt
    --version` take ~10 s) the END line says no next command is served, so the server starts a
    new worker instead of sending one to a process that is exiting."""
    most = 3
    assert most < MAX_COMMANDS and worker_command()[-1].endswith(".worker")  # the server's: 50
    lines = b"".join(command_line(["--version"], dict(os.environ)) for _ in range(most + 1))
    with subprocess.Popen(
        worker_command(0, most), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        out, err = proc.communicate(lines, timeout=300)
    assert _ends(out.decode()) == [(0, True)] * (most - 1) + [(0, False)], err[-500:]
    assert proc.returncode == 0
