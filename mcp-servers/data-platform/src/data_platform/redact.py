"""Keep secrets out of text: tool output, error messages and log lines."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable

# Bounded repeats keep these linear: unbounded ones backtrack quadratically on long words
# (a 200,000-character argument took minutes to redact).
_URL_PASSWORD = re.compile(
    r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]{0,31}://[^:/@\s]{0,256}:)(?P<pw>[^@\s/]{1,256})@"
)
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<pw>'[^']*'|\"[^\"]*\"|\S+)", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace known secrets and any URL/`password=` credentials with ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _URL_PASSWORD.sub(lambda m: m["head"] + "***@", text)
    return _KV_PASSWORD.sub(lambda m: m["head"] + "***", text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every record before any handler sees it.

    `secrets` may be a function, asked at every record: named connections, storage entries and AWS
    profiles live in files the server re-reads when they change, so a list taken at start-up misses
    a password added later (cli.log_secrets)."""

    def __init__(self, secrets: Iterable[str] | Callable[[], Iterable[str]] = ()):
        super().__init__()
        self._source = secrets if callable(secrets) else None
        self._fixed = [] if callable(secrets) else [s for s in secrets if s]

    @property
    def secrets(self) -> list[str]:
        if self._source is None:
            return self._fixed
        return [s for s in self._source() if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            formatter = logging.Formatter()
            message += "\n" + formatter.formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg = redact(message, self.secrets)
        record.args = None
        return True
