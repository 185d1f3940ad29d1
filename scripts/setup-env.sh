#!/usr/bin/env bash
# Build the server's Python environment (idempotent). Usage: scripts/setup-env.sh [VENV_DIR] [EXTRAS]
# VENV_DIR defaults to mcp-servers/data-platform/.venv; EXTRAS e.g. "dev" or "dev,bench".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROJECT="$ROOT/mcp-servers/data-platform"
VENV="${1:-$PROJECT/.venv}"
EXTRAS="${2:-}"
PYTHON="${PYTHON:-python3}"
spec="$PROJECT"
[ -n "$EXTRAS" ] && spec="$PROJECT[$EXTRAS]"
stamp="$VENV/.data-platform-installed"
# "-bytecode": environments made before dependencies were compiled are rebuilt once.
want="$(cat "$PROJECT/pyproject.toml" | sha256sum | cut -c1-16)-$EXTRAS-bytecode"
if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check uv >&2
# Bytecode compiled once here: with PYTHONDONTWRITEBYTECODE set (as on the test machines) every
# process would otherwise compile what it imports, ~1 s of CPU per dbt process (the suite starts
# hundreds: each dbt run is a process, and each stdio server).
"$VENV/bin/uv" pip install -q --compile-bytecode --python "$VENV/bin/python" -e "$spec" >&2
echo "$want" > "$stamp"
