#!/usr/bin/env bash
# Install PostgreSQL server binaries, PostGIS and hypopg via apt when they are missing (Debian/Ubuntu).
# The test suite runs its own throwaway cluster with them (pg_stat_statements, from the server
# package, is preloaded there; hypopg backs the doctor's checked index advice); nothing is started here.
set -euo pipefail
have_server() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
major() { ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sed -E 's#/usr/lib/postgresql/([0-9]+)/.*#\1#' | sort -n | tail -1; }
have_ext() { ls /usr/share/postgresql/"$(major)"/extension/"$1".control >/dev/null 2>&1; }
if have_server && have_ext postgis && have_ext hypopg && have_ext pg_stat_statements; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
else
  SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
# apt may be locked briefly by another installer: wait for it rather than fail.
apt() { $SUDO apt-get -o DPkg::Lock::Timeout=300 "$@"; }
apt update -qq
if ! have_server; then
  apt install -y -qq postgresql postgresql-contrib >/dev/null
fi
apt install -y -qq "postgresql-$(major)-postgis-3" "postgresql-$(major)-hypopg" >/dev/null
if have_server && have_ext postgis && have_ext hypopg && have_ext pg_stat_statements; then
  exit 0
fi
echo "PostgreSQL/PostGIS/hypopg installation failed (pg_stat_statements comes with the server package)" >&2
exit 1
