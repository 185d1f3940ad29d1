#!/usr/bin/env bash
# Install PostgreSQL server binaries and PostGIS via apt when they are missing (Debian/Ubuntu).
# The test suite runs its own throwaway cluster with them; nothing is started here.
set -euo pipefail
have_server() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
major() { ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sed -E 's#/usr/lib/postgresql/([0-9]+)/.*#\1#' | sort -n | tail -1; }
have_postgis() { ls /usr/share/postgresql/"$(major)"/extension/postgis.control >/dev/null 2>&1; }
if have_server && have_postgis; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
else
  SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if ! have_server; then
  $SUDO apt-get install -y -qq postgresql >/dev/null
fi
$SUDO apt-get install -y -qq "postgresql-$(major)-postgis-3" >/dev/null
have_server && have_postgis || { echo "PostgreSQL/PostGIS installation failed" >&2; exit 1; }
