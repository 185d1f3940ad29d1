#!/usr/bin/env bash
# Set up everything (PostgreSQL + PostGIS via apt, the Python environment) and run the whole suite:
# lint, then pytest against a real PostgreSQL the suite starts itself.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROJECT="$ROOT/mcp-servers/data-platform"
VENV="$PROJECT/.venv"
if [ -z "${DATA_PLATFORM_TEST_POSTGRES_URL:-}" ]; then
  "$ROOT/scripts/setup-postgres.sh"
fi
"$ROOT/scripts/setup-env.sh" "$VENV" dev
cd "$PROJECT"
"$VENV/bin/ruff" check src tests bench
"$VENV/bin/ruff" format --check src tests bench
"$VENV/bin/ruff" check --config pyproject.toml "$ROOT/plugins" "$ROOT/scripts"
"$VENV/bin/ruff" format --check --config pyproject.toml "$ROOT/plugins" "$ROOT/scripts"
"$VENV/bin/python" -m pytest "$@"
