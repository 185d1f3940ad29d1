"""The error tree of the core library.

Every failure a user can cause or fix is a `DataPlatformError` whose message
says what went wrong and what to do. The MCP layer translates these, at one
boundary, into `isError` tool results; anything else is a bug and is reported
without a traceback.

    DataPlatformError
    ├── InputError (ValueError)          a bad argument: fix the call
    │   └── ExpressionError              a filter/SQL expression that cannot run
    ├── NotFoundError (LookupError)      unknown ref, file, column, table, node
    ├── AlreadyExistsError               would overwrite without being told to
    ├── GuardError                       a load over the row guard (carries a preview)
    ├── NotConfiguredError               a tool family with no configuration
    ├── StorageError (OSError)           the registry folder or a ref file on disk
    │   └── CorruptRefError              a ref file damaged on disk
    ├── DatabaseError                    PostgreSQL answered with an error
    │   └── ConnectionFailedError        PostgreSQL cannot be reached or refused us
    └── DbtError                         dbt could not parse, compile or run
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class DataPlatformError(Exception):
    """Base of every expected failure; `str()` is the message for the user."""

    def __init__(self, message: str, *, hint: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or {}

    def __str__(self) -> str:
        if not self.hint:
            return self.message
        # A message that ends in an excerpt (a caret line, a listing) keeps the hint on its own line.
        return f"{self.message}{chr(10) if chr(10) in self.message else ' '}{self.hint}"


class InputError(DataPlatformError, ValueError):
    """An argument is invalid; the caller can fix the call."""


class ExpressionError(InputError):
    """An expression (filter, SQL over refs) is malformed or not allowed."""


class NotFoundError(DataPlatformError, LookupError):
    """Something named by the caller does not exist."""


class AlreadyExistsError(DataPlatformError):
    """The target exists and the caller did not ask to overwrite it."""


class GuardError(DataPlatformError):
    """A load would materialise more rows than the configured guard allows."""


class NotConfiguredError(DataPlatformError):
    """A tool family has no configuration (no database URL, no dbt project)."""


class StorageError(DataPlatformError, OSError):
    """The registry folder or a file could not be read or written."""


class CorruptRefError(StorageError):
    """A ref file exists but cannot be read as Arrow."""


class DatabaseError(DataPlatformError):
    """PostgreSQL answered with an error."""


class ConnectionFailedError(DatabaseError):
    """PostgreSQL could not be reached, or refused the connection."""


class DbtError(DataPlatformError):
    """dbt could not parse, compile or run the project."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' Did you mean "x"?' suffix when a close match exists, else ''."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' Did you mean "{matches[0]}"?' if matches else ""


def list_for_message(names: Iterable[str], limit: int = 20) -> str:
    """A short comma list of names for an error message, cut with a count."""
    items = list(names)
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        shown += f", ... ({len(items) - limit} more)"
    return shown or "(none)"
