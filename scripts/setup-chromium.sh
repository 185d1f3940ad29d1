#!/usr/bin/env bash
# Install Debian's Chromium via apt when it is missing (Debian/Ubuntu). The tests open the
# profile's HTML report in it, headless and offline, and check the screenshot is not blank.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
else
  SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "Chromium installation failed" >&2; exit 1; }
