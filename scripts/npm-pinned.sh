#!/usr/bin/env bash
# Install the npm packages pinned in DIR/package.json into DIR/node_modules from the npm registry,
# unless node_modules/.bin/BIN is there from that same package.json. Usage: npm-pinned.sh DIR BIN
# (scripts/setup-inspector.sh, scripts/setup-azurite.sh). Needs Node.js and npm.
set -euo pipefail
DIR="$1"
BIN="$2"
want="$(sha256sum "$DIR/package.json" | cut -c1-16)"
stamp="$DIR/node_modules/.data-platform-installed"
if [ -x "$DIR/node_modules/.bin/$BIN" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm not found: install Node.js 20+ and npm" >&2; exit 1; }
npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error >&2
echo "$want" > "$stamp"
