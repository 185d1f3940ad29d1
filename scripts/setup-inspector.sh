#!/usr/bin/env bash
# Install the MCP Inspector (pinned in tests/inspector/package.json) from the npm registry when it
# is missing; tests/integration/server/test_inspector.py drives its CLI against the server. Needs Node.js and npm.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/mcp-servers/data-platform/tests/inspector"
want="$(sha256sum "$DIR/package.json" | cut -c1-16)"
stamp="$DIR/node_modules/.data-platform-installed"
if [ -x "$DIR/node_modules/.bin/mcp-inspector" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm not found: install Node.js 20+ and npm" >&2; exit 1; }
npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error >&2
echo "$want" > "$stamp"
