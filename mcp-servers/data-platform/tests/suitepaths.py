"""Where the suite's folders are, for test files at any depth (tests/unit/<family>/, ...)."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent  # tests/: the helpers, projects/, contract/, inspector/
PROJECT = TESTS.parent  # mcp-servers/data-platform
REPO = PROJECT.parents[1]  # the repository root (the marketplace)
