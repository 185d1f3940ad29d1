"""A storage server the suite starts on loopback (tests/s3server.py, azserver.py, gcsserver.py):
a free port, the process, a wait until it accepts connections, and its end."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_bucket(create: Callable[[str], object]) -> str:
    """A bucket (or container) of one test's own on a suite server: a unique name, made by `create`."""
    name = f"lake-{uuid.uuid4().hex[:10]}"
    create(name)
    return name


@contextmanager
def serving(
    args: list[str], port: int, what: str, *, env: Mapping[str, str] | None = None, cwd: str | None = None
) -> Iterator[str]:
    """Run `args` (a server told to listen on 127.0.0.1:`port`) until the block ends; yields its URL."""
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(env) if env else None, cwd=cwd
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{what} did not start on port {port}") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        # A short grace: Azurite (node) otherwise waits ~10 s for its clients' keep-alive
        # connections to close; these servers hold only the suite's throwaway data.
        proc.terminate()
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
