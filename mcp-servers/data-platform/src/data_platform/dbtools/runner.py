"""How dbt is invoked: in-process for validation, a subprocess for runs.

In-process (`dbtRunner`) answers a warm parse in well under a second, but
dbt's state is global: invocations are serialised with a lock, deprecation
tracking is reset before each one (else each deprecation fires once per
process), and stdout is never written (it carries the MCP protocol).

Runs, tests, builds and docs go to a `dbt` subprocess: it can be interrupted
(SIGINT lets dbt cancel its open queries), then killed; it has a timeout; its
`--log-format json` lines give progress and errors as structured events.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process

from data_platform.dbtools import early, speedups
from data_platform.dbtools.findings import Finding, HasFindings, dedupe, error_from_exception, from_event
from data_platform.dbtools.lifeline import child_env

log = logging.getLogger("data_platform.dbt")

# Flags every invocation gets: no network, no terminal decoration.
COMMON_FLAGS = ("--no-send-anonymous-usage-stats", "--no-version-check", "--no-use-colors")
QUIET_ENV = {"DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
INTERRUPT_GRACE_S = 5.0


@dataclass
class Invocation(HasFindings):
    """What one in-process dbt command gave back."""

    success: bool
    result: Any
    findings: list[Finding]
    seconds: float
    exception: BaseException | None = None
    after: Any = None  # what the `after` hook returned


def _event_data(event: Any) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    try:
        return MessageToDict(event.data, preserving_proto_field_name=True)
    except Exception:  # pragma: no cover - a malformed event must not break a parse
        return {}


class InProcessDbt:
    """dbt's Python API, one invocation at a time (dbt's state is process-global)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runner_cls: Any = None

    def load(self) -> Any:
        """Import dbt (seconds, once per process); its runner class."""
        if self._runner_cls is None:
            os.environ.update({k: v for k, v in QUIET_ENV.items() if k not in os.environ})
            from dbt.cli.main import dbtRunner

            speedups.apply()
            self._runner_cls = dbtRunner
        return self._runner_cls

    @functools.cached_property
    def version(self) -> str:
        """dbt-core's version, without importing dbt (saved findings are per version)."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("dbt-core")
        except PackageNotFoundError:
            return ""

    def supports(self, flag: str) -> bool:
        """Whether this dbt has a CLI flag (e.g. --show-all-deprecations, new in 1.10)."""
        self.load()
        from dbt.cli import params

        return hasattr(params, flag.lstrip("-").replace("-", "_"))

    def invoke(
        self, args: list[str], after: Callable[[Any], Any] | None = None, manifest: Any = None
    ) -> Invocation:
        """Run `dbt <args>` in this process; findings come from its structured events.

        `after(result)` runs when dbt succeeded, still under the lock, while dbt's adapter for
        the profile is still registered (warehouse.py runs compiled SQL with it). `manifest`: a
        parsed project (DbtService.parsed) dbt uses instead of parsing (reading its partial-parse
        file alone is most of a warm compile)."""
        runner_cls = self.load()
        import dbt.deprecations

        findings: list[Finding] = []

        def on_event(event: Any) -> None:
            info = event.info
            if info.level not in ("warn", "error"):
                return
            finding = from_event(info.name, info.code, info.level, info.msg, _event_data(event))
            if finding is not None:
                findings.append(finding)

        with self._lock:
            early.settle()  # a first parse of the project running in its own process writes what dbt reads
            dbt.deprecations.reset_deprecations()
            start = time.perf_counter()
            # dbt's console logger writes to stdout, which carries the MCP protocol: divert it.
            kept = set(manifest.nodes) if manifest is not None else set()
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    res = runner_cls(manifest=manifest, callbacks=[on_event]).invoke(
                        [*args, *COMMON_FLAGS, "--quiet", "--log-level-file", "none"]
                    )
                finally:
                    # dbt adds an --inline query to the manifest as a node and drops it only when the
                    # command succeeds: a failed one left in a kept parse fails every later --inline.
                    for uid in set(manifest.nodes) - kept if manifest is not None else ():
                        manifest.nodes.pop(uid, None)
                try:
                    extra = after(res.result) if after is not None and res.success else None
                finally:
                    end_command()
            seconds = time.perf_counter() - start
        if res.exception is not None and not any(f.kind == "error" for f in findings):
            findings.append(error_from_exception(res.exception))
        return Invocation(
            success=bool(res.success),
            result=res.result,
            findings=dedupe(findings),
            seconds=seconds,
            exception=res.exception,
            after=extra,
        )


def end_command() -> None:
    """What a long-lived process does after each dbt command (here and in the dbt worker): close
    what dbt's adapters keep open, and bound dbt's parse caches (speedups.bound).

    dbt closes its connections, but dbt-duckdb keeps the database file open in a process-wide
    environment, and with it the file's lock: a `dbt run` subprocess could then not open it.
    """
    speedups.bound()
    from dbt.adapters.factory import FACTORY

    for adapter in list(FACTORY.adapters.values()):
        with contextlib.suppress(Exception):
            adapter.cleanup_connections()  # type: ignore[attr-defined]  # dbt's AdapterProtocol omits this BaseAdapter method
        manager: Any = type(getattr(adapter, "connections", None))  # dbt-duckdb's class: _ENV is untyped
        env = getattr(manager, "_ENV", None)
        if env is not None and callable(getattr(env, "close", None)):
            with contextlib.suppress(Exception):
                env.close()
            manager._ENV = None


@dataclass
class Progress:
    """One progress step of a running dbt command."""

    done: int
    total: int | None
    message: str


@dataclass
class SubprocessOutcome:
    returncode: int
    seconds: float
    findings: list[Finding] = field(default_factory=list)
    stderr_tail: str = ""
    reusable: bool = False  # the worker that ran it waits for the next command (worker.py)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "error"]


def dbt_command(args: list[str]) -> list[str]:
    """The same dbt as the in-process one (this interpreter), without cwd on sys.path (-P),
    stopping when the server dies (lifeline.py)."""
    code = (
        "from data_platform.dbtools.lifeline import die_with_parent as d; d(); "
        "from dbt.cli.main import cli; cli()"
    )
    return [sys.executable, "-P", "-c", code, *args]


def progress_of(name: str, data: dict[str, Any]) -> Progress | None:
    """A progress step from a dbt JSON log event (node start/finish lines carry index/total)."""
    total = data.get("total", data.get("num_models"))
    if "index" not in data or total is None:
        return None
    node = data.get("node_info") or {}
    label = node.get("node_name") or data.get("description") or name
    if name.endswith("Result") or name == "LogNodeNoOpResult":
        status = data.get("status") or node.get("node_status") or "done"
        return Progress(int(data["index"]), int(total), f"{label}: {status}")
    return None


async def _stop(process: Process) -> None:
    """SIGINT first (dbt cancels its running queries), then SIGKILL after a grace period."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGINT)
    with anyio.move_on_after(INTERRUPT_GRACE_S):
        await process.wait()
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


def worker_command(idle_s: float = 0.0, max_commands: int | None = None) -> list[str]:
    """The worker's command line (worker.py): `max_commands` only where a test needs the end
    sooner than MAX_COMMANDS."""
    args = [f"{idle_s:g}"] if idle_s > 0 or max_commands is not None else []
    if max_commands is not None:
        args.append(str(max_commands))
    return [sys.executable, "-P", "-m", "data_platform.dbtools.worker", *args]


async def start_worker(cwd: Path, idle_s: float = 0.0) -> Process:
    """A dbt process started ahead of time: it imports dbt (after `idle_s` with no command, see
    worker.py) and runs the commands sent to it later."""
    return await anyio.open_process(
        worker_command(idle_s),
        cwd=str(cwd),
        env={**os.environ, **QUIET_ENV, **child_env()},
        start_new_session=True,
    )


def kill_now(process: Process) -> None:
    """Kill a process group without waiting (an idle worker at shutdown)."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


async def run_subprocess(
    args: list[str],
    cwd: Path,
    timeout_s: float,
    on_progress: Callable[[Progress], Awaitable[None]] | None = None,
    worker: Process | None = None,
) -> SubprocessOutcome:
    """Run `dbt <args>` (in `worker` if given, else a new `dbt` process) reading JSON events;
    stop it on cancel or timeout (TimeoutError). A worker that ended the command normally is
    left waiting for the next one (`reusable`); any other process is stopped."""
    from data_platform.dbtools import worker as worker_mod

    start = time.perf_counter()
    findings: list[Finding] = []
    stderr_chunks: list[str] = []
    process: Process | None = None
    ended: list[dict[str, Any]] = []  # a worker's END line: its exit code, whether it serves the next
    if worker is not None and worker.returncode is None and worker.stdin is not None:
        try:
            env = {**os.environ, **QUIET_ENV}
            await worker.stdin.send(worker_mod.command_line([*args, *COMMON_FLAGS, "--quiet"], env))
            process = worker
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            kill_now(worker)  # it died while waiting: start dbt the ordinary way
    if process is None:
        cmd = dbt_command([*args, *COMMON_FLAGS, "--log-format", "json"])
        env = {**os.environ, **QUIET_ENV, **child_env()}
        process = await anyio.open_process(cmd, cwd=str(cwd), env=env, start_new_session=True, stdin=None)
    try:

        async def read_stderr() -> None:
            assert process.stderr is not None
            async for chunk in process.stderr:
                stderr_chunks.append(chunk.decode("utf-8", "replace"))
                del stderr_chunks[:-20]

        async def read_stdout() -> None:
            assert process.stdout is not None
            buffer = b""
            async for chunk in process.stdout:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.startswith(b'{"' + worker_mod.END.encode()):
                        ended.append(json.loads(line))
                        return  # the worker may wait for its next command: its streams stay open
                    await _handle_line(line, findings, on_progress)
            if buffer:
                await _handle_line(buffer, findings, on_progress)

        with anyio.fail_after(timeout_s):
            async with anyio.create_task_group() as tg:
                tg.start_soon(read_stderr)
                await read_stdout()
                if ended:  # stderr was flushed before the END line: take what is in the pipe, then stop
                    await anyio.sleep(0.02)
                    tg.cancel_scope.cancel()
            if not (ended and ended[0].get(worker_mod.NEXT)):
                await process.wait()
    finally:
        reusable = bool(ended and ended[0].get(worker_mod.NEXT)) and process.returncode is None
        if not reusable:
            with anyio.CancelScope(shield=True):
                await _stop(process)
    code = int(ended[0][worker_mod.END]) if ended else process.returncode
    return SubprocessOutcome(
        returncode=code if code is not None else -1,
        seconds=time.perf_counter() - start,
        findings=dedupe(findings),
        stderr_tail="".join(stderr_chunks)[-2000:],
        reusable=reusable,
    )


async def _handle_line(
    line: bytes, findings: list[Finding], on_progress: Callable[[Progress], Awaitable[None]] | None
) -> None:
    try:
        event = json.loads(line)
        info = event["info"]
    except (ValueError, KeyError, TypeError):
        return
    data = event.get("data") or {}
    name, level = info.get("name", ""), info.get("level", "")
    if level in ("warn", "error"):
        finding = from_event(name, info.get("code", ""), level, info.get("msg", ""), data)
        if finding is not None:
            findings.append(finding)
    if on_progress is not None:
        step = progress_of(name, data)
        if step is not None:
            with contextlib.suppress(Exception):
                await on_progress(step)
