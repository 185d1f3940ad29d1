#!/usr/bin/env bash
# Print the path of a Claude Code CLI, installing it from npm (@anthropic-ai/claude-code) into a cache
# folder the first time. CLAUDE_BIN=/path/to/claude uses that one; CLAUDE_CODE_VERSION picks the version
# (default: the one the plugin was checked with). Run it with HOME set to a temp folder and
# DISABLE_AUTOUPDATER=1: it needs no login for `plugin validate`, `plugin install` or `mcp list`.
set -euo pipefail
if [ -n "${CLAUDE_BIN:-}" ]; then
  echo "$CLAUDE_BIN"
  exit 0
fi
VERSION="${CLAUDE_CODE_VERSION:-2.1.331}"
CACHE="${DATA_PLATFORM_CLAUDE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/data-platform/claude-code-$VERSION}"
BIN="$CACHE/node_modules/.bin/claude"
if [ ! -x "$BIN" ]; then
  command -v npm >/dev/null || { echo "claude-cli: npm is needed to install the Claude Code CLI" >&2; exit 1; }
  mkdir -p "$CACHE"
  echo "claude-cli: installing @anthropic-ai/claude-code@$VERSION into $CACHE" >&2
  npm install --prefix "$CACHE" --no-fund --no-audit --loglevel=error "@anthropic-ai/claude-code@$VERSION" >&2
fi
echo "$BIN"
