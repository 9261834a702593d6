#!/usr/bin/env bash
# The PostgreSQL store's tests start a throwaway cluster with Debian's initdb/pg_ctl (test/support/postgres.ts).
# Install Debian's postgresql when they are missing and we may; the tests never use a server that was already running
# (nor the package's own cluster: they run their own with initdb).
set -euo pipefail
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi
exec bash "$(dirname "$0")/install-debian-package.sh" postgresql "the PostgreSQL store tests" initdb "the PostgreSQL store tests will fail"
