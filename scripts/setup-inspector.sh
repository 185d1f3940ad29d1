#!/usr/bin/env bash
# Install the MCP Inspector (pinned in tests/inspector/package.json) from the npm registry when it
# is missing; tests/integration/server/test_inspector.py drives its CLI against the server. Needs Node.js and npm.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$ROOT/scripts/npm-pinned.sh" "$ROOT/mcp-servers/data-platform/tests/inspector" mcp-inspector
