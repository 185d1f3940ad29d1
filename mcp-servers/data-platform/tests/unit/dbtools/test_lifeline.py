"""A dbt child process stops when the server that started it dies (dbtools/lifeline.py).

A real parent process starts a child the way the server starts dbt (its own session, the
parent's pid in the environment); the parent is SIGKILLed; the child, and whatever the
child started, must be gone within a bounded wait.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from data_platform.dbtools.lifeline import GRACE_S, PARENT_ENV
from liveserver import cleared, command_line, survivors

PARENT = textwrap.dedent("""
    import os, subprocess, sys, time
    child = subprocess.Popen(
        [sys.executable, "-c", sys.argv[1]],
        env={**os.environ, sys.argv[2]: str(os.getpid())},
        start_new_session=True,
    )
    print(child.pid, flush=True)
    time.sleep(120)
""")

# A dbt run stand-in: it starts a subprocess of its own, then works until interrupted.
OBEDIENT = textwrap.dedent("""
    import subprocess, sys, time
    from data_platform.dbtools.lifeline import die_with_parent
    die_with_parent()
    sub = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    print(sub.pid, flush=True)
    time.sleep(120)
""")

# A run that swallows the interrupt (as a stuck dbt might): the grace timer kills its group.
STUBBORN = textwrap.dedent("""
    import subprocess, sys, time
    from data_platform.dbtools.lifeline import die_with_parent
    die_with_parent()
    sub = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    announced = False
    while True:
        try:
            if not announced:  # inside the try: an interrupt right after it is swallowed too
                announced = True
                print(sub.pid, flush=True)
            time.sleep(120)
        except KeyboardInterrupt:
            pass
""")


def _start_then_kill_parent(child_code: str) -> tuple[dict[int, str], float]:
    with subprocess.Popen(
        [sys.executable, "-c", PARENT, child_code, PARENT_ENV], stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        try:
            child = int(parent.stdout.readline())
            grandchild = int(parent.stdout.readline())  # printed by the child once it is armed
            watched = survivors({child: _start(child), grandchild: _start(grandchild)}, wait_s=0)
            assert len(watched) == 2, "the child and its subprocess should be running"
        finally:
            os.kill(parent.pid, signal.SIGKILL)
            parent.wait(timeout=10)
    return watched, GRACE_S


def _start(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def test_a_child_stops_with_its_dead_parent_and_takes_its_subprocess_along() -> None:
    watched, grace = _start_then_kill_parent(OBEDIENT)
    left = cleared(survivors(watched, wait_s=grace / 2))  # it exits on the interrupt, not the timer
    assert not left, f"still alive after the parent died: {[command_line(p) for p in left]}"


def test_a_child_that_ignores_the_interrupt_is_killed_after_the_grace_period() -> None:
    watched, grace = _start_then_kill_parent(STUBBORN)
    early = survivors(watched, wait_s=grace / 2)
    left = cleared(survivors(watched, wait_s=grace + 10))
    assert early, "the stubborn child stopped before its grace period"
    assert not left, f"still alive after the grace period: {[command_line(p) for p in left]}"


def test_a_child_whose_parent_is_already_gone_exits_at_once() -> None:
    code = "from data_platform.dbtools.lifeline import die_with_parent; die_with_parent(); print('ran')"
    env = {**os.environ, PARENT_ENV: "1"}  # not our pid: the parent is "gone" before the check
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "ran" not in done.stdout
    assert "is gone before dbt started" in done.stderr


def test_without_a_named_parent_nothing_is_armed() -> None:
    code = (
        "import signal; from data_platform.dbtools.lifeline import die_with_parent; die_with_parent(); "
        "print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)"
    )
    env = {k: v for k, v in os.environ.items() if k != PARENT_ENV}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stderr
