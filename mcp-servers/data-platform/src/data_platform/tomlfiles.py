"""The connection files (`connections.toml`), parsed once per version of each file.

Named connections (postgres/connections.py) and storage entries and catalogs (lakes/storage.py)
live in the same files; both read them through this cache and keep only their own validation.
A file is stat'ed on every call and parsed again when its version changed (an edit needs no
restart; a file replaced with the same mtime and size still has a new inode).
"""

from __future__ import annotations

import threading
import tomllib
from pathlib import Path
from typing import Any

from data_platform.errors import InputError


class TomlFiles:
    """Parsed TOML files, keyed by path and file version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[Path, tuple[tuple[int, int, int], dict[str, Any]]] = {}

    def read(self, path: Path, docs: str) -> dict[str, Any]:
        """The file's tables ({} when it does not exist); a broken file is an error naming `docs`,
        the page that shows its format."""
        try:
            st = path.stat()
        except OSError:
            with self._lock:
                self._files.pop(path, None)
            return {}
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            cached = self._files.get(path)
        if cached and cached[0] == key:
            return cached[1]
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InputError(
                f"The connections file {path} cannot be read: {str(exc).splitlines()[0][:200]}",
                hint=f"Fix the TOML ({docs} shows the format); it is re-read on the next call.",
            ) from None
        with self._lock:
            self._files[path] = (key, data)
        return data
