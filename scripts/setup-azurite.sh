#!/usr/bin/env bash
# Install Azurite, the Azure Storage emulator (pinned in tests/azurite/package.json), from the npm
# registry when it is missing; tests/azserver.py starts its blob service on loopback for the az://
# tests (tests/integration/lakes/test_lake_azure.py). Needs Node.js and npm.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/mcp-servers/data-platform/tests/azurite"
want="$(sha256sum "$DIR/package.json" | cut -c1-16)"
stamp="$DIR/node_modules/.data-platform-installed"
if [ -x "$DIR/node_modules/.bin/azurite-blob" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm not found: install Node.js 20+ and npm" >&2; exit 1; }
npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error >&2
echo "$want" > "$stamp"
