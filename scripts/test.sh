#!/usr/bin/env bash
# Set up everything (PostgreSQL + PostGIS and Chromium via apt, the Python environment, the MCP
# Inspector and Azurite via npm) and run the whole suite:
# lint (ruff), type-check src/ (mypy, [tool.mypy] in pyproject.toml), then pytest against a real
# PostgreSQL the suite starts itself (one cluster per xdist worker).
#   scripts/test.sh           the whole suite (what CI runs)
#   scripts/test.sh --fast    the fast tier: every test not marked `slow`, and the run fails unless
#                             every listed tool answered at least one call successfully
# More arguments go to pytest. DATA_PLATFORM_TEST_WORKERS sets the xdist workers (default 2, the fast
# tier 3; 0: none).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROJECT="$ROOT/mcp-servers/data-platform"
VENV="$PROJECT/.venv"
TIER=()
# Two workers on the machine's two cores. The fast tier runs three: its integration tests wait on
# servers (S3, Azurite, catalogs, a renderer starting) and a third worker uses those gaps (measured
# on the 2-core machine, quiet: 1:51-1:52 against 2:11 with two). The slow tier is CPU-bound: three
# were slower there (8:03 against 7:23).
DEFAULT_WORKERS=2
if [ "${1:-}" = "--fast" ]; then
  TIER=(-m "not slow" --every-tool)
  DEFAULT_WORKERS=3
  shift
fi
if [ -z "${DATA_PLATFORM_TEST_POSTGRES_URL:-}" ]; then
  "$ROOT/scripts/setup-postgres.sh"
fi
"$ROOT/scripts/setup-chromium.sh"  # the HTML report is screenshotted in headless Chromium
"$ROOT/scripts/setup-env.sh" "$VENV" dev
"$ROOT/scripts/setup-inspector.sh"  # the MCP Inspector CLI (npm), for tests/integration/server/test_inspector.py
"$ROOT/scripts/setup-azurite.sh"  # Azurite, the Azure Storage emulator (npm), for tests/integration/lakes/test_lake_azure.py
cd "$PROJECT"
"$VENV/bin/ruff" check src tests bench
"$VENV/bin/ruff" format --check src tests bench
"$VENV/bin/ruff" check --config pyproject.toml "$ROOT/plugins" "$ROOT/scripts"
"$VENV/bin/ruff" format --check --config pyproject.toml "$ROOT/plugins" "$ROOT/scripts"
"$VENV/bin/mypy"  # src/, with the settings in pyproject.toml: any type error fails the run
# The project's own modules (an editable install: setup-env.sh compiles only the dependencies).
"$VENV/bin/python" -m compileall -q src tests >/dev/null
WORKERS="${DATA_PLATFORM_TEST_WORKERS:-$DEFAULT_WORKERS}"
"$VENV/bin/python" -m pytest -n "$WORKERS" --dist worksteal "${TIER[@]}" "$@"
