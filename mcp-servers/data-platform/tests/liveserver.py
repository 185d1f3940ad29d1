"""A long-lived real server driven from synchronous code (Hypothesis tests, fault injection).

`LiveServer` starts the server over stdio through `harness.connect` inside an anyio
blocking portal, so a plain (sync) test can make thousands of calls on one server
process, kill it with SIGKILL, and restart it. Every call answers with an `Outcome`
instead of raising, so a test can collect every misbehaviour and report them all.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal

from harness import LOG_DIR, connect, text_of

BAD_MARKERS = ("Traceback", "Internal error")


@dataclass
class Outcome:
    """What one tool call gave back: ok, error (a clean isError), exception or timeout."""

    tool: str
    args: Any
    kind: str
    text: str
    seconds: float
    structured: Any = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    def problem(self, max_chars: int | None = None) -> str | None:
        """Why this answer is not acceptable from a hardened server, or None."""
        if self.kind in ("exception", "timeout"):
            return f"{self.kind}: {self.text[:300]}"
        for marker in BAD_MARKERS:
            if marker in self.text:
                return f"{marker!r} in the answer"
        if self.kind == "error" and not self.text.strip():
            return "an error without a message"
        if max_chars is not None and len(self.text) > max_chars:
            return f"answer of {len(self.text):,} characters (limit {max_chars:,})"
        return None

    def describe(self) -> str:
        shown = json.dumps(self.args, ensure_ascii=True, default=str)
        if len(shown) > 400:
            shown = shown[:400] + f"... ({len(shown):,} chars)"
        text = self.text if len(self.text) <= 600 else self.text[:600] + "..."
        return f"{self.tool}({shown}) -> [{self.kind}] {text}"


def server_pids() -> set[int]:
    """Server processes started by this test process (children running `data_platform serve`)."""
    me = os.getpid()
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != me:
                continue
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, ValueError, IndexError):
            continue
        if b"data_platform" in cmd and b"serve" in cmd:
            found.add(int(entry.name))
    return found


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a live process, None if gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else (int(fields[1]), fields[19])


def descendants(pid: int) -> dict[int, str]:
    """Every live process below `pid` (children, theirs...), as {pid: start time}."""
    parents: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = stat
    found: dict[int, str] = {}
    frontier = {pid}
    while frontier:
        frontier = {p for p, (ppid, _) in parents.items() if ppid in frontier and p not in found}
        found.update({p: parents[p][1] for p in frontier})
    return found


def survivors(processes: dict[int, str], wait_s: float) -> dict[int, str]:
    """Which of `processes` ({pid: start time}) are still alive after up to `wait_s` seconds."""
    deadline = time.monotonic() + wait_s
    while True:
        alive = {p: t for p, t in processes.items() if (s := _stat(p)) is not None and s[1] == t}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def cleared(left: dict[int, str]) -> dict[int, str]:
    """SIGKILL what a failing check found left behind (a failure leaks nothing); return it."""
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "(gone)"


async def timed_call(client: Any, tool: str, args: Any, timeout: float) -> Outcome:
    """One call with a deadline; never raises."""
    start = time.perf_counter()
    try:
        with anyio.fail_after(timeout):
            result = await client.call_tool(tool, args)
    except TimeoutError:
        return Outcome(
            tool, args, "timeout", f"no answer within {timeout:.0f} s", time.perf_counter() - start
        )
    except Exception as exc:
        return Outcome(tool, args, "exception", f"{type(exc).__name__}: {exc}", time.perf_counter() - start)
    kind = "error" if result.is_error else "ok"
    return Outcome(tool, args, kind, text_of(result), time.perf_counter() - start, result.structured_content)


@dataclass
class LiveServer:
    """One real server process and a connected client, usable from sync code."""

    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    log_name: str = "live"
    call_timeout: float = 120.0
    pid: int | None = None
    _portal: BlockingPortal | None = None
    _portal_cm: Any = None
    _holder: Any = None
    _stop: Any = None
    _client: Any = None

    def start(self, timeout: float = 90.0) -> LiveServer:
        """Start the server and connect; a server that dies or hangs at start-up fails within `timeout`."""
        if self._portal is None:
            self._portal_cm = start_blocking_portal("asyncio")
            self._portal = self._portal_cm.__enter__()
        before = server_pids()
        ready = threading.Event()
        box: dict[str, Any] = {}
        self._stop = self._portal.call(anyio.Event)
        self._holder = self._portal.start_task_soon(self._hold, ready, box)
        if not ready.wait(timeout) or "error" in box:
            for pid in server_pids() - before:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            self._holder.cancel()
            self._holder = None
            self.close()
            log = LOG_DIR / f"{self.log_name}.log"
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise RuntimeError(
                f"the server did not start ({box.get('error', 'no answer')}); log tail:\n{tail}"
            )
        self._client = box["client"]
        new = server_pids() - before
        self.pid = min(new) if new else None
        return self

    async def _hold(self, ready: threading.Event, box: dict[str, Any]) -> None:
        """Keep the connection open in one task until `_disconnect` (structured concurrency)."""
        try:
            async with connect(self.cwd, self.env, log_name=self.log_name) as client:
                box["client"] = client
                ready.set()
                await self._stop.wait()
        except Exception as exc:
            box["error"] = f"{type(exc).__name__}: {exc}"
            ready.set()

    def tools(self) -> list[dict[str, Any]]:
        """The live `tools/list`, as plain JSON dicts (camelCase keys, as on the wire)."""
        assert self._portal is not None
        listed = self._portal.call(self._client.list_tools)
        return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed.tools]

    def call(self, tool: str, args: Any = None, timeout: float | None = None) -> Outcome:
        assert self._portal is not None
        return self._portal.call(timed_call, self._client, tool, args, timeout or self.call_timeout)

    def start_call(self, tool: str, args: Any = None, timeout: float | None = None) -> Future[Outcome]:
        """Send a call and return at once; the Future gives its Outcome."""
        assert self._portal is not None
        return self._portal.start_task_soon(
            timed_call, self._client, tool, args, timeout or self.call_timeout
        )

    def alive(self) -> bool:
        return self.pid is not None and pid_alive(self.pid)

    def kill(self) -> None:
        """SIGKILL the server and everything it started (its own process group)."""
        assert self.pid is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pid_alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        self._disconnect()

    def _disconnect(self) -> None:
        if self._holder is not None and self._portal is not None:
            with contextlib.suppress(BaseException):
                self._portal.call(self._stop.set)
            with contextlib.suppress(BaseException):
                self._holder.result(timeout=30)
            if not self._holder.done():
                self._holder.cancel()
        self._holder = self._client = None

    def restart(self) -> LiveServer:
        self._disconnect()
        return self.start()

    def close(self) -> None:
        self._disconnect()
        if self._portal_cm is not None:
            with contextlib.suppress(BaseException):
                self._portal_cm.__exit__(None, None, None)
        self._portal = self._portal_cm = None


@contextlib.contextmanager
def live_server(cwd: Path, env: dict[str, str] | None = None, log_name: str = "live") -> Iterator[LiveServer]:
    server = LiveServer(cwd, dict(env or {}), log_name).start()
    try:
        yield server
    finally:
        server.close()
