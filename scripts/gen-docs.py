"""Regenerate the generated parts of the docs (run with the server's venv python)."""

from __future__ import annotations

import re
from pathlib import Path

from data_platform.server.synonyms import markdown

ROOT = Path(__file__).resolve().parents[1]


def splice(path: Path, marker: str, body: str) -> None:
    text = path.read_text()
    pattern = re.compile(rf"(<!-- {marker}:start -->\n).*?(<!-- {marker}:end -->)", re.S)
    assert pattern.search(text), f"{path} lacks the {marker} markers"
    path.write_text(pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text))


if __name__ == "__main__":
    splice(ROOT / "docs" / "arguments.md", "synonyms", markdown())
