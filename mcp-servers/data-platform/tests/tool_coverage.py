"""Proof that a test run touched every tool: `pytest --every-tool` (scripts/test.sh --fast).

Every tool answer of the session is in `LOG_DIR/transcript-<pid>.jsonl` (harness records the
calls of stdio and in-memory clients alike, in every xdist worker). At the session's end the
controller reads them all and fails the run unless every tool the server lists answered at
least one call successfully.
"""

from __future__ import annotations

import collections
import json
import tempfile
from pathlib import Path


def listed_tools() -> list[str]:
    """The names in the server's tools/list (every family, as `data-platform tools` prints)."""
    from data_platform.config import load_settings
    from data_platform.contract import tool_surface

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(Path(tmp), {}, Path(tmp) / "none.env")
        return [t["name"] for t in tool_surface(settings)]


def answered(transcripts: list[Path]) -> dict[str, collections.Counter[str]]:
    """tool -> Counter of "ok"/"error" answers, from the session's transcripts."""
    seen: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for path in transcripts:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                call = json.loads(line)
            except ValueError:
                continue
            seen[call["tool"]]["error" if call.get("is_error") else "ok"] += 1
    return seen


def report(transcripts: list[Path]) -> tuple[list[str], str]:
    """(tools never answered successfully, a one-line summary)."""
    tools = listed_tools()
    seen = answered(transcripts)
    missing = [t for t in tools if not seen.get(t, {}).get("ok")]
    calls = sum(sum(c.values()) for c in seen.values())
    summary = (
        f"every tool: {len(tools) - len(missing)}/{len(tools)} tools answered successfully "
        f"({calls:,} calls in {len(transcripts)} transcript(s))"
    )
    return missing, summary
