"""Where pictures go in the project: `<registry dir>/reports` and `<registry dir>/charts`.

They sit beside the refs (ignored by git with them) under names made from the ref and the
chart's columns, so drawing the same chart again replaces its files instead of piling up.
Each file is written to a temp name and renamed: a reader never sees half a file.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from data_platform.errors import StorageError


def safe_stem(*parts: str) -> str:
    """A file-name stem from names that may hold anything (spaces, slashes, quotes)."""
    text = "-".join(p for p in parts if p)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._-")[:120]
    return stem or "picture"


def write_atomic(path: Path, data: bytes) -> Path:
    """Write `data` at `path` whole or not at all; a folder that refuses is a StorageError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    except OSError as exc:
        raise StorageError(
            f"Cannot write {path.name} in {path.parent}: {exc.strerror or exc}.",
            hint="Check that the folder is writable, or set DATA_PLATFORM_REGISTRY_DIR to one that is.",
        ) from exc
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise StorageError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
        raise
    return path
