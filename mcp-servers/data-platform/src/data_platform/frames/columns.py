"""Column names as written by a model: exact, else the one case-insensitive match. (As a database
returns them, possibly repeated or empty, they are made unique by registry.names.unique_names.)"""

from __future__ import annotations

from collections.abc import Sequence

from data_platform.errors import ExpressionError, did_you_mean, list_for_message


def find_column(name: str, columns: Sequence[str]) -> str | None:
    """The column `name` (exact, else the one case-insensitive match), or None."""
    if name in columns:
        return name
    folded = [c for c in columns if c.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def resolve_column(name: str, columns: Sequence[str], ref: str) -> str:
    """The column `name` (exact, else the one case-insensitive match), or a did-you-mean error."""
    found = find_column(name, columns)
    if found is not None:
        return found
    raise ExpressionError(
        f'column "{name}" not found in `{ref}`.{did_you_mean(name, columns)} '
        f"Columns: {list_for_message(columns, 30)}"
    )
