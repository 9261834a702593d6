#!/usr/bin/env bash
# Installs one Debian package a test suite needs, when we are root with apt-get; otherwise warns and leaves it.
# Shared by scripts/ensure-chromium.sh and scripts/ensure-postgres.sh, which first check whether it is needed.
# Usage: install-debian-package.sh <package> <what it is for> <the missing program> <what happens without it>
set -euo pipefail
package=$1 purpose=$2 missing=$3 consequence=$4
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian $package for $purpose…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "$package" >/dev/null
else
  echo "warning: $missing is missing and cannot be installed here (not root); $consequence" >&2
fi
