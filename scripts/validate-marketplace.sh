#!/usr/bin/env bash
# Validate the marketplace and the plugin: `claude plugin validate --strict` on both (offline, no
# login, a throwaway HOME), then our own checks (scripts/check_plugin.py: hooks.json shape, .mcp.json,
# frontmatter, and every tool a command or agent names exists in the server's tool list).
#
# Usage: scripts/validate-marketplace.sh [check_plugin.py options, e.g. --skip-tool-names]
# The Claude Code CLI comes from npm into a cache folder the first time (scripts/claude-cli.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLAUDE="$("$ROOT/scripts/claude-cli.sh")"
TMP_HOME="$(mktemp -d)"
trap 'rm -rf "$TMP_HOME"' EXIT
run_claude() { HOME="$TMP_HOME" DISABLE_AUTOUPDATER=1 "$CLAUDE" "$@"; }

echo "validate-marketplace: Claude Code $(run_claude --version)"
run_claude plugin validate --strict "$ROOT"
run_claude plugin validate --strict "$ROOT/plugins/data-platform"
python3 "$ROOT/scripts/check_plugin.py" "$@"
