"""The fast tier's every-tool check (tests/tool_coverage.py) can fail, and counts only successes."""

from __future__ import annotations

import json
from pathlib import Path

import tool_coverage


def test_every_tool_check_counts_successes_from_every_transcript(tmp_path: Path) -> None:
    tools = tool_coverage.listed_tools()
    assert len(tools) > 30 and {"read_csv", "pg_query", "dbt_run"} <= set(tools)
    first, second = tmp_path / "transcript-1.jsonl", tmp_path / "transcript-2.jsonl"
    half = len(tools) // 2
    first.write_text("".join(json.dumps({"tool": t, "is_error": False}) + "\n" for t in tools[:half]))
    lines = [{"tool": t, "is_error": False} for t in tools[half:-1]]
    lines.append({"tool": tools[-1], "is_error": True})  # an error does not count as touched
    second.write_text("".join(json.dumps(line) + "\n" for line in lines) + "not json\n")
    missing, summary = tool_coverage.report([first, second])
    assert missing == [tools[-1]]
    assert f"{len(tools) - 1}/{len(tools)} tools" in summary and "2 transcript(s)" in summary
    second.write_text(second.read_text() + json.dumps({"tool": tools[-1], "is_error": False}) + "\n")
    assert tool_coverage.report([first, second])[0] == []
