"""Identifiers quoted as PostgreSQL does: never pasted, never able to inject SQL."""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """Always quoted (a `"` doubled), so case, spaces and symbols survive and nothing injects."""
    if "\x00" in name:
        from data_platform.errors import InputError

        raise InputError("An identifier cannot contain a NUL character.")
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str | None, name: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(name)}" if schema else quote_ident(name)
