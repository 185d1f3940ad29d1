"""Column names: as written by a model (exact, else the one case-insensitive match), and as a
database returns them (possibly repeated or empty: made unique before they become a ref's)."""

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


def unique_names(names: Sequence[str]) -> list[str]:
    """Names made unique for a table (`a`, `a` -> `a`, `a_1`; empty -> `column`), order kept."""
    seen: dict[str, int] = {}
    out: list[str] = []
    for n in names:
        base = n or "column"
        candidate = base
        while candidate in seen:
            seen[base] += 1
            candidate = f"{base}_{seen[base]}"
        seen.setdefault(candidate, 0)
        out.append(candidate)
    return out
