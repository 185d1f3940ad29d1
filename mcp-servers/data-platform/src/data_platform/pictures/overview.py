"""The overview picture of a profile: one small chart per column, in a grid, readable at a glance.

Each panel is titled with the column's name, type, nulls and distinct count; numbers and
dates show their histogram, text and booleans their most frequent values. Panels of
columns with problems get a red title, so a person sees at once where to look.
"""

from __future__ import annotations

from typing import Any

from data_platform.frames.profile import ColumnProfile, Profile
from data_platform.render import human_bytes

MAX_PANELS = 12
BAR = "#4c78a8"
WARN = "#c0392b"


def overview_spec(p: Profile, max_panels: int = MAX_PANELS) -> dict[str, Any]:
    """A Vega-Lite spec: a title line for the table, then a grid of column panels."""
    panels = [_panel(c) for c in p.columns[:max_panels]]
    more = len(p.columns) - len(panels)
    subtitle = [table_line(p)]
    if more > 0:
        left = f"; {len(p.not_profiled)} not profiled" if p.not_profiled else ""
        subtitle.append(f"{more} more columns in the HTML report{left}")
    return {
        "title": {"text": f"profile of {p.info.name}", "subtitle": subtitle, "anchor": "start"},
        "concat": panels or [_empty()],
        "columns": 3 if len(panels) > 4 else max(1, len(panels)),
        "spacing": 24,
        "config": {"view": {"stroke": None}, "axis": {"labelFontSize": 10, "titleFontSize": 10}},
        "background": "white",
    }


def table_line(p: Profile) -> str:
    keys = ", ".join("+".join(k) for k in p.candidate_keys) or "none found"
    dups = "?" if p.duplicate_rows is None else f"{p.duplicate_rows:,}"
    return (
        f"{p.info.rows:,} rows x {len(p.info.schema)} columns, {human_bytes(p.info.size_bytes)}; "
        f"duplicate rows: {dups}; candidate keys: {keys}; problems: {len(p.problems())}"
    )


def panel_title(c: ColumnProfile) -> list[str]:
    null = f"{100 * c.nulls / c.rows:.1f}% null" if c.rows and c.nulls else "no nulls"
    approx = "" if c.distinct_exact else "≈"
    distinct = "" if c.distinct is None else f", {approx}{c.distinct:,} distinct"
    return [f"{c.name} ({c.type})", f"{null}{distinct}"]


def _panel(c: ColumnProfile) -> dict[str, Any]:
    title = {
        "text": panel_title(c),
        "fontSize": 11,
        "anchor": "start",
        "color": WARN if c.problems else "black",
    }
    size = {"width": 220, "height": 110}
    if c.histogram and all(lo == hi for lo, hi, _ in c.histogram):  # one bar per value
        values = [{"value": lo, "rows": n} for lo, _, n in c.histogram]
        return {
            **size,
            "title": title,
            "data": {"values": values},
            "mark": {"type": "bar", "color": BAR},
            "encoding": {
                "x": {
                    "field": "value",
                    "type": "ordinal",
                    "title": None,
                    "axis": {"labelAngle": 0, "labelOverlap": "greedy"},
                },
                "y": {"field": "rows", "type": "quantitative", "title": None, "axis": {"tickCount": 3}},
            },
        }
    if c.histogram:
        temporal = c.kind == "temporal"
        values = [{"lo": lo, "hi": hi, "rows": n} for lo, hi, n in c.histogram]
        axis_type = "temporal" if temporal else "quantitative"
        return {
            **size,
            "title": title,
            "data": {"values": values},
            "mark": {"type": "bar", "color": BAR, "binSpacing": 0, "orient": "vertical"},
            "encoding": {
                "x": {"field": "lo", "type": axis_type, "title": None, "axis": {"tickCount": 4}},
                "x2": {"field": "hi"},
                "y": {"field": "rows", "type": "quantitative", "title": None, "axis": {"tickCount": 3}},
            },
        }
    if c.top:
        values = [{"value": _label(v), "rows": n} for v, n in c.top]
        return {
            **size,
            "title": title,
            "data": {"values": values},
            "mark": {"type": "bar", "color": BAR},
            "encoding": {
                "y": {"field": "value", "type": "nominal", "sort": "-x", "title": None},
                "x": {"field": "rows", "type": "quantitative", "title": None, "axis": {"tickCount": 3}},
            },
        }
    return {**_empty(), "title": title}


def _label(v: Any) -> str:
    text = "(null)" if v is None else str(v)
    return text if len(text) <= 24 else text[:23] + "…"


def _empty() -> dict[str, Any]:
    return {
        "width": 220,
        "height": 110,
        "data": {"values": [{"t": "no values to draw"}]},
        "mark": {"type": "text", "color": "#888"},
        "encoding": {"text": {"field": "t"}},
    }
