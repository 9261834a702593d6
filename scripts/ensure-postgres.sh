#!/usr/bin/env bash
# The PostgreSQL store's tests start a throwaway cluster with Debian's initdb/pg_ctl (test/support/postgres.ts).
# Install Debian's postgresql when they are missing and we may; the tests never use a server that was already running.
set -euo pipefail
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian postgresql for the PostgreSQL store tests…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The package's own cluster is not used (the tests run their own with initdb); it is kept from starting.
  apt-get install -y -qq postgresql >/dev/null
else
  echo "warning: initdb is missing and cannot be installed here (not root); the PostgreSQL store tests will fail" >&2
fi
