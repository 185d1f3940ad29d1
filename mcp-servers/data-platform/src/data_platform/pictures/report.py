"""The profile as one self-contained HTML page: inline CSS and SVG, no script, nothing fetched.

Every value from the data is HTML-escaped (a cell may hold `<script>`); the SVG comes from
the renderer, which escapes its own text. The page opens from disk in any browser, offline.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_platform import work
from data_platform.frames import engine
from data_platform.frames.profile import ColumnProfile, Profile, profile
from data_platform.pictures.files import safe_stem, write_atomic
from data_platform.pictures.overview import overview_spec, table_line
from data_platform.pictures.render import render
from data_platform.registry import Registry

CSS = """
body{font-family:Liberation Sans,Arial,Helvetica,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
p.sub{color:#555;margin:0 0 16px} ul.problems li{color:#a02b1d;margin:2px 0}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f5f8} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td:first-child{border-left:4px solid #c0392b} .muted{color:#777}
"""


def report_html(p: Profile, svg: str) -> str:
    """The page: table facts, problems, the overview picture, then per-column and pairwise tables."""
    e = html.escape
    problems = p.problems()
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>profile of {e(p.info.name)}</title><style>{CSS}</style></head><body>",
        f"<h1>Profile of <code>{e(p.info.name)}</code></h1>",
        f"<p class='sub'>{e(table_line(p))}. Source: {e(p.info.source)}.</p>",
        "<h2>Problems</h2>",
        _list(problems) if problems else "<p>None found.</p>",
        "<h2>Overview</h2>",
        f"<div class='overview'>{_strip_xml_header(svg)}</div>",
        "<h2>Columns</h2>",
        _columns_table(p.columns),
        "<h2>Candidate keys</h2>",
        _list(["+".join(k) for k in p.candidate_keys]) if p.candidate_keys else "<p>None found.</p>",
    ]
    if p.duplicate_columns:
        parts += ["<h2>Columns that repeat each other</h2>"]
        parts += [_list([f"{a} repeats {b} ({how})" for a, b, how in p.duplicate_columns])]
    if p.correlations:
        parts += ["<h2>Correlations (Pearson)</h2>", _corr_table(p)]
    if p.not_profiled:
        parts.append(f"<p class='muted'>Not profiled: {e(', '.join(p.not_profiled))}.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _list(items: list[str]) -> str:
    return "<ul class='problems'>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


def _strip_xml_header(svg: str) -> str:
    return svg.split("?>", 1)[1] if svg.startswith("<?xml") else svg


def _cell(v: Any, num: bool = False) -> str:
    text = "" if v is None else f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)
    cls = " class='num'" if num else ""
    return f"<td{cls}>{html.escape(text)}</td>"


def _columns_table(columns: list[ColumnProfile]) -> str:
    head = ["column", "type", "nulls", "distinct", "min", "max", "mean", "25%", "50%", "75%", "outliers"]
    head += ["top values", "looks like", "problems"]
    rows = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for c in columns:
        s = c.stats
        distinct = None if c.distinct is None else ("" if c.distinct_exact else "≈") + f"{c.distinct:,}"
        top = ", ".join(f"{v} ({n:,})" for v, n in c.top[:5])
        cells = [
            _cell(c.name),
            _cell(c.type),
            _cell(c.nulls, True),
            _cell(distinct, True),
            _cell(s.get("min")),
            _cell(s.get("max")),
            _cell(s.get("mean"), True),
            _cell(s.get("25%"), True),
            _cell(s.get("50%"), True),
            _cell(s.get("75%"), True),
            _cell(c.outliers, True),
            _cell(top),
            _cell(c.looks_like),
            _cell("; ".join(c.problems)),
        ]
        cls = " class='bad'" if c.problems else ""
        rows.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    return "\n".join([*rows, "</table>"])


def _corr_table(p: Profile) -> str:
    names = sorted({n for a, b, _ in p.correlations for n in (a, b)}, key=[c.name for c in p.columns].index)
    r = {(a, b): v for a, b, v in p.correlations} | {(b, a): v for a, b, v in p.correlations}
    out = ["<table><tr><th></th>" + "".join(f"<th>{html.escape(n)}</th>" for n in names) + "</tr>"]
    for a in names:
        cells = []
        for b in names:
            v = 1.0 if a == b else r.get((a, b))
            shade = "" if v is None else f" style='background:{_shade(v)}'"
            cells.append(f"<td class='num'{shade}>{'' if v is None else f'{v:.2f}'}</td>")
        out.append(f"<tr><th>{html.escape(a)}</th>" + "".join(cells) + "</tr>")
    return "\n".join([*out, "</table>"])


def _shade(v: float) -> str:
    """Blue for positive, red for negative, stronger with |r|."""
    a = min(1.0, abs(v))
    tint = int(255 - 150 * a)
    return f"rgb({tint},{tint},255)" if v >= 0 else f"rgb(255,{tint},{tint})"


@dataclass
class ProfileOutput:
    profile: Profile
    png: bytes
    report: Path


def profile_report(
    registry: Registry,
    ref: str,
    columns: list[str] | None,
    out_dir: Path,
    *,
    sandbox: engine.Engine | None = None,
) -> ProfileOutput:
    """Profile `ref`, draw its overview (PNG) and write the HTML report to `out_dir/reports`."""
    p = profile(registry, ref, columns, sandbox=sandbox)
    registry.release(p.info.name)  # drawn from the summaries: the ref's pages need not stay mapped
    work.check()
    work.progress(len(p.columns) + 2, len(p.columns) + 3, "drawing")
    pic = render(overview_spec(p), scale=1.5)
    page = report_html(p, pic.svg).encode("utf-8")
    path = write_atomic(out_dir / "reports" / f"{safe_stem(p.info.name)}.html", page)
    return ProfileOutput(p, pic.png, path)
