"""Naming: what a ref may be called, its file, its temp files, the "already exists" error, and
unique column names."""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from data_platform.errors import AlreadyExistsError, InputError

SUFFIX = ".arrow"
TEMP_PREFIX = ".tmp-"
META_SOURCE = b"data_platform.source"
META_CREATED = b"data_platform.created"
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
STALE_TEMP_SECONDS = 24 * 3600
GITIGNORE = "# data-platform's stored data refs: never commit them.\n*\n"
_STEM_SUFFIXES = (
    ".gz", ".zip", ".bz2", ".zst", ".csv", ".tsv", ".txt", ".parquet", ".json", ".jsonl", ".ndjson",
)  # fmt: skip


def validate_name(name: str) -> str:
    """A ref name is an identifier: letters, digits, underscore, at most 64 characters."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        shown = repr(name)[:80]
        raise InputError(
            f"Invalid data_ref name {shown}.",
            hint="Use letters, digits and underscores, starting with a letter or underscore "
            "(at most 64 characters), e.g. sales_2025.",
        )
    return name


def suggest_name(text: str) -> str:
    """Turn a file stem or label into a valid ref name (`Sales 2025.csv` -> `sales_2025`)."""
    stem = Path(text).name
    for ext in _STEM_SUFFIXES:
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
    clean = re.sub(r"[^A-Za-z0-9_]+", "_", stem).strip("_").lower()
    if not clean:
        clean = "data"
    if clean[0].isdigit():
        clean = "t_" + clean
    return clean[:48]


def exists_error(name: str) -> AlreadyExistsError:
    """The one answer to a new ref whose name is taken (every writer and every tool gives it)."""
    return AlreadyExistsError(
        f"data_ref `{name}` already exists.",
        hint="Pass overwrite=true to replace it, or choose another name.",
    )


def with_metadata(schema: pa.Schema, source: str) -> pa.Schema:
    """The ref's schema with its own metadata (source, creation time); pandas' is dropped."""
    meta = {
        k: v for k, v in (schema.metadata or {}).items() if k not in (b"pandas", META_SOURCE, META_CREATED)
    }
    meta[META_SOURCE] = source.encode()
    meta[META_CREATED] = datetime.now(UTC).isoformat(timespec="seconds").encode()
    return schema.with_metadata(meta)


def temp_path(root: Path) -> Path:
    """A temp file for a ref being written; its name carries the writer's pid (see below)."""
    return root / f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}{SUFFIX}"


def remove_stale_temps(root: Path) -> int:
    """Remove temp files of dead processes (or older than a day)."""
    removed = 0
    if not root.is_dir():
        return 0
    now = time.time()
    for p in root.glob(f"{TEMP_PREFIX}*"):
        try:
            pid = int(p.name[len(TEMP_PREFIX) :].split("-", 1)[0])
        except ValueError:
            pid = -1
        try:
            old = now - p.stat().st_mtime > STALE_TEMP_SECONDS
        except OSError:
            continue
        if old or (pid > 0 and not _pid_alive(pid)) or pid == -1:
            with contextlib.suppress(OSError):
                p.unlink()
                removed += 1
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def unique_names(names: Sequence[str]) -> tuple[list[str], str]:
    """Names a ref can hold, order kept: an empty one becomes `column`, one already used before it
    `<name>_<n>` (the first n from 1 not used so far), as DuckDB's CREATE TABLE AS names them (x, x,
    x_1 -> x, x_1, x_1_1). Also a sentence saying what was renamed ("" when nothing was)."""
    used: set[str] = set()
    out: list[str] = []
    changes: list[str] = []
    for name in names:
        base = name or "column"
        new = base
        if base in used:
            n = 1
            while f"{base}_{n}" in used:
                n += 1
            new = f"{base}_{n}"
        if new != name:
            changes.append(f"{name or '(empty)'} -> {new}")
        used.add(new)
        out.append(new)
    if not changes:
        return out, ""
    return out, f"Repeated column names renamed (a ref's names are unique): {', '.join(changes)}."
