"""`serve --http` as a real process on a free loopback port, for the tests that drive it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness import LOG_DIR, server_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class HttpServer:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def http_server(project: Path, env: dict[str, str] | None = None, name: str = "http") -> Iterator[HttpServer]:
    """`python -m data_platform serve --http 127.0.0.1:<free port>` in `project`, up and listening."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = LOG_DIR / f"{name}-{os.getpid()}-{port}.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "data_platform", "serve", "--http", f"127.0.0.1:{port}"],
            cwd=project,
            env=server_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    server = HttpServer(proc, port, log)
    try:
        deadline = time.monotonic() + 60
        while not listening(port):
            assert proc.poll() is None, f"server exited with {proc.returncode}: {server.log_text()}"
            assert time.monotonic() < deadline, f"server not listening after 60 s: {server.log_text()}"
            time.sleep(0.1)
        yield server
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
