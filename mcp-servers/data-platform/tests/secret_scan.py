"""The session-end secret scan: no tool output, error or server log line may carry a password.

Every tool answer of the session is recorded by `harness.connect` and `harness.inmemory`
into `tests/.logs/transcript-<pid>.jsonl`, every server's stderr lands in `tests/.logs/*.log`
(in-process servers log to `inmemory-<pid>.log`). With pytest-xdist each worker scans for its
own secrets when it ends and the controller reports (conftest.py). At the end of the session
(`pytest_sessionfinish` in conftest), `finish()` scans them all for every form of each
registered secret (the test database's password: raw, URL-encoded, base64) and fails the
session loudly on a hit.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from harness import LOG_DIR, TRANSCRIPT

_SECRETS: set[str] = set()
_STARTED_AT = 0.0


@dataclass(frozen=True)
class Leak:
    path: Path
    line: int
    form: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: the {self.form} password in: {self.excerpt}"


def register_secret(secret: str) -> None:
    """A value that must never appear in any output of the session."""
    if secret and len(secret) >= 6:
        _SECRETS.add(secret)


def secrets() -> set[str]:
    return set(_SECRETS)


def forms(secret: str) -> dict[str, str]:
    """The ways a password can leak into text: as is, URL-encoded, JSON-escaped, base64."""
    out = {"raw": secret, "url-encoded": quote(secret, safe=""), "json-escaped": json.dumps(secret)[1:-1]}
    out["base64"] = base64.b64encode(secret.encode()).decode().rstrip("=")
    distinct: dict[str, str] = {}
    for form, value in out.items():
        if value not in distinct.values():
            distinct[form] = value
    return distinct


def scan_text(text: str, secret_values: set[str]) -> list[tuple[str, int]]:
    """(form, offset) of every occurrence of a secret in `text`."""
    hits = []
    for secret in secret_values:
        for form, value in forms(secret).items():
            start = text.find(value)
            if start >= 0:
                hits.append((form, start))
    return hits


def scan_files(paths: list[Path], secret_values: set[str]) -> list[Leak]:
    leaks: list[Leak] = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for number, line in enumerate(lines, start=1):
            for form, offset in scan_text(line, secret_values):
                excerpt = line[max(0, offset - 60) : offset].replace("\n", " ")
                leaks.append(Leak(path, number, form, excerpt + "<SECRET>..."))
    return leaks


def session_files(log_dir: Path = LOG_DIR, since: float = 0.0) -> list[Path]:
    """Server logs and transcripts written during this session."""
    if not log_dir.is_dir():
        return []
    return sorted(p for p in log_dir.iterdir() if p.is_file() and p.stat().st_mtime >= since)


def start() -> None:
    """At session start: forget the transcripts of earlier sessions (same pid reuse included)."""
    global _STARTED_AT
    import time

    _STARTED_AT = time.time() - 1
    if LOG_DIR.is_dir():
        for old in LOG_DIR.glob("transcript-*.jsonl"):
            old.unlink(missing_ok=True)


def resume(since: float) -> None:
    """In a pytest-xdist worker: the session started at `since` (the controller cleared the logs)."""
    global _STARTED_AT
    _STARTED_AT = since


def started_at() -> float:
    return _STARTED_AT


def finish() -> tuple[list[Path], list[Leak]]:
    """Scan everything this session produced; returns (files scanned, leaks)."""
    files = session_files(LOG_DIR, _STARTED_AT)
    return files, scan_files(files, secrets())


def transcript_path() -> Path:
    return TRANSCRIPT if TRANSCRIPT.exists() else LOG_DIR / f"transcript-{os.getpid()}.jsonl"
