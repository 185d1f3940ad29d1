"""Vega-Lite to SVG/PNG without a browser or network, via vl-convert (imported on first use).

vl-convert embeds Deno/V8 with Vega, Vega-Lite and their fonts: nothing is fetched at run
time, and `allowed_base_urls=[]` refuses any data URL a spec might carry. Importing it is
deferred to the first picture so the server starts as fast as before; the first render
in a process pays ~0.35 s of CPU to start V8 (more on a loaded machine), later ones tens of
milliseconds. The server starts it in a thread a moment after its own start (`warm_up_soon`,
issue 27), so the first chart of a session does not pay it; a picture asked before that starts
it first thing, and reads and aggregates its data while V8 starts.
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
            svg = vlc.vegalite_to_svg(full, allowed_base_urls=[])
            png = vlc.svg_to_png(svg, scale=scale)
        except (ValueError, RuntimeError) as exc:
            raise RenderError(f"The chart could not be drawn: {_reason(exc)}") from None
    return Picture(full, svg, png)


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

    vl-convert (1.9) starts V8 without holding the GIL (~0.35 s of CPU, on the other core where
    there is one): the caller goes on meanwhile (a picture tool reads and aggregates its data),
    and its own `render` waits for the warm-up to end.
    """
    with _LOCK_WARMING:
        if _warming:
            return
        thread = threading.Thread(target=warm_up, name="renderer-warm", daemon=True)  # never holds the exit
        _warming.append(thread)
    thread.start()
