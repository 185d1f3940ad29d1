"""Vega-Lite to SVG/PNG without a browser or network, via vl-convert (imported on first use).

vl-convert embeds Deno/V8 with Vega, Vega-Lite and their fonts: nothing is fetched at run
time, and an empty allowlist of base URLs refuses any data URL a spec might carry. Importing it
is deferred to the first picture so the server starts as fast as before. The server starts V8
in a thread a moment after its own start (`warm_up_soon`, issue 27), so the first chart of a
session does not pay it; a picture asked before that starts it first thing.

vl-convert 1.9 holds the GIL through every call: V8's start (~0.4 s of CPU; the whole process,
event loop included, waits) and each render (0.15-0.35 s for a 5,000-point SVG or its PNG). A
chart asked during the warm-up therefore cannot read its data meanwhile. vl-convert 2 releases
the GIL and starts V8 in ~0.15 s (2.0.0rc7, measured: docs/pictures.md); both are served here
(2 takes the allowlist as a setting, `configure`, once per process).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from data_platform.errors import DataPlatformError

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
_LOCK = threading.Lock()  # one V8 isolate: calls are serialised
_LOCK_WARMING = threading.Lock()
_TINY = {"data": {"values": [{"a": 1}]}, "mark": "point", "encoding": {"x": {"field": "a"}}}
_configured: list[bool] = []  # vl-convert 2's allowlist set (under _LOCK)
_warming: list[threading.Thread] = []  # the warm-up thread, once started (once per process)
log = logging.getLogger("data_platform")


class RenderError(DataPlatformError):
    """The renderer refused a chart (a bug of ours, reported without a traceback)."""


@dataclass
class Picture:
    spec: dict[str, Any]
    svg: str
    png: bytes


def render(spec: dict[str, Any], scale: float = 2.0) -> Picture:
    """Render a spec once to SVG and turn that SVG into a PNG (one Vega run for both)."""
    import vl_convert as vlc  # lazy: ~80 MB of V8 and fonts, not needed to start the server

    full = {"$schema": SCHEMA, **spec}
    with _LOCK:
        try:
            svg = _to_svg(vlc, full)
            png = vlc.svg_to_png(svg, scale=scale)
        except (ValueError, RuntimeError, PermissionError) as exc:  # 2: a refused URL is a PermissionError
            raise RenderError(f"The chart could not be drawn: {_reason(exc)}") from None
    return Picture(full, svg, png)


def _to_svg(vlc: Any, spec: dict[str, Any]) -> str:
    """The SVG, with no base URL allowed (vl-convert 1.9: per call; 2: a setting, made once)."""
    if not hasattr(vlc, "configure"):
        return str(vlc.vegalite_to_svg(spec, allowed_base_urls=[]))
    if not _configured:
        vlc.configure(allowed_base_urls=[])
        _configured.append(True)
    return str(vlc.vegalite_to_svg(spec))


def _reason(exc: BaseException) -> str:
    """The renderer's message without its JavaScript stack ("at ext:..." lines)."""
    lines = [x.strip() for x in str(exc).splitlines() if x.strip() and not x.strip().startswith("at ")]
    return " ".join(lines)[:300]


def warm_up() -> None:
    """Start the renderer (V8, Vega, Vega-Lite, the PNG fonts) with a one-point chart.

    A failure here is left to the first real picture to report.
    """
    try:
        render(_TINY, scale=1.0)
    except Exception:  # the first chart says what is wrong, with its own error
        log.debug("renderer warm-up failed", exc_info=True)


def warm_up_soon() -> None:
    """`warm_up` in a thread of its own, once per process (later calls do nothing).

    The caller's own `render` waits for the warm-up to end. With vl-convert 2 the caller reads
    and aggregates its data meanwhile; 1.9 holds the GIL while V8 starts, so everything waits.
    """
    with _LOCK_WARMING:
        if _warming:
            return
        thread = threading.Thread(target=warm_up, name="renderer-warm", daemon=True)  # never holds the exit
        _warming.append(thread)
    thread.start()
