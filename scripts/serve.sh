#!/usr/bin/env bash
# Set up (first run only) and start the data-platform MCP server over stdio.
# Run it from your project folder: refs are stored in ./.data-platform/ there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DATA_PLATFORM_VENV:-$ROOT/mcp-servers/data-platform/.venv}"
"$ROOT/scripts/setup-env.sh" "$VENV" >&2
exec "$VENV/bin/data-platform" serve "$@"
