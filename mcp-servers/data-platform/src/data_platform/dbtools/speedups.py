"""Two costs dbt pays on every command that a long-lived process need not, removed at dbt's import.

Measured over the whole test suite (py-spy): 64 CPU-s in `inspect.stack()` and 56 CPU-s parsing
dbt's own ~500 macros again on every full parse; a full parse of the shop project fell from
0.75-0.97 s to 0.25-0.48 s (issue 24). Both reach into dbt's internals, so they live here alone,
and tests/unit/dbtools/test_speedups.py pins what they rely on: a dbt upgrade fails there.

1. A behaviour flag asks `inspect.stack()` for the module that declared it, on every adapter
   registration (each command): that reads the source lines of every frame on the stack. The
   module's name is the first frame's `__name__` that is not dbt's own flag module, which is
   what `inspect.getmodule` finds, without reading any file.
2. dbt keeps parsed Jinja by source text when its own tests switch caching on. Its three Jinja
   caches are pure functions of the text, except the one for top-level blocks: a hit there skips
   the warning callback, which is how dbt reports an unexpected Jinja block (a deprecation this
   server must report on every full parse). That one stays empty. The others are cleared when
   their texts pass CACHE_MAX_CHARS (the whole cache is ~35 bytes per character of source: the
   shop project's full parse keeps 370,000 characters, 13 MB). The same switch makes dbt scan
   `sys.path` for `dbt_*` plugin modules once per process instead of once per command (a plugin
   installed while the server runs needs a restart, as a new adapter does).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

CACHE_MAX_CHARS = 2_000_000  # ~70 MB of parsed templates; dbt's own macros are ~370,000
_applied: list[bool] = []
_LOCK = threading.Lock()


class _NeverKept(dict[Any, Any]):
    """A cache that keeps nothing: every lookup misses, so dbt's block extraction always runs."""

    def __contains__(self, key: object) -> bool:
        return False

    def __setitem__(self, key: Any, value: Any) -> None:
        return None


def _flag_source() -> str:
    """The module that declared a behaviour flag: the first caller outside dbt's flag module."""
    from dbt_common import behavior_flags

    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if name and name != behavior_flags.__name__:
            return str(name)
        frame = frame.f_back  # type: ignore[assignment]  # None ends the loop
    return "Unknown"


def apply() -> None:
    """Once per process, after dbt is imported (InProcessDbt.load, the dbt worker)."""
    with _LOCK:
        if _applied:
            return
        import dbt_common.clients.jinja as common_jinja
        import dbt_common.tests
        from dbt_common.behavior_flags import BehaviorFlagRendered

        BehaviorFlagRendered._default_source = staticmethod(_flag_source)  # type: ignore[method-assign]
        common_jinja._TESTING_BLOCKS_CACHE = _NeverKept()
        dbt_common.tests.enable_test_caching()
        _applied.append(True)


def _caches() -> list[dict[str, Any]]:
    import dbt.clients.jinja_static as static
    import dbt_common.clients.jinja as common_jinja

    return [common_jinja._TESTING_PARSE_CACHE, static._TESTING_MACRO_CACHE]


def bound() -> None:
    """After a command: empty the parse caches once their texts pass CACHE_MAX_CHARS."""
    if not _applied:
        return
    caches = _caches()
    if sum(len(text) for cache in caches for text in list(cache)) > CACHE_MAX_CHARS:
        for cache in caches:
            cache.clear()
