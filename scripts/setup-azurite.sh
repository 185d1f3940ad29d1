#!/usr/bin/env bash
# Install Azurite, the Azure Storage emulator (pinned in tests/azurite/package.json), from the npm
# registry when it is missing; tests/azserver.py starts its blob service on loopback for the az://
# tests (tests/integration/lakes/test_lake_azure.py). Needs Node.js and npm.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$ROOT/scripts/npm-pinned.sh" "$ROOT/mcp-servers/data-platform/tests/azurite" azurite-blob
