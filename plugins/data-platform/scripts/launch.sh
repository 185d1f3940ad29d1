#!/bin/sh
# Start the data-platform MCP server over stdio (Claude Code runs this from .mcp.json).
#
# Fast path: exec the server from the environment launch.py built for this copy of the plugin,
# when nothing in the server's sources is newer than its record of that build (no Python start-up
# of our own, no hashing). Anything else (first start, changed sources, a plugin update, a missing
# environment) goes to launch.py, which checks the sources' hash and builds when needed.
here=$(cd "$(dirname "$0")" && pwd -P)
data=${DATA_PLATFORM_PLUGIN_DATA:-}
case $data in '' | *'${'*) data=${CLAUDE_PLUGIN_DATA:-} ;; esac
case $data in '' | *'${'*) data=${XDG_DATA_HOME:-$HOME/.local/share}/data-platform-plugin ;; esac
record="$data/fast-path"
if [ -f "$record" ] && server=$(cd "$here/../mcp-servers/data-platform" 2>/dev/null && pwd -P); then
  { read -r built_from; read -r venv; } < "$record"
  if [ "$built_from" = "$server" ] && [ -f "$venv/.data-platform-ready" ] && [ -x "$venv/bin/python" ] &&
    [ -z "$(find "$server/pyproject.toml" "$server/README.md" "$server/src" -name __pycache__ -prune -o \
      -newer "$record" -print 2>/dev/null | head -n 1)" ]; then
    exec "$venv/bin/python" -m data_platform serve "$@"
  fi
fi
exec python3 "$here/launch.py" "$@"
