#!/usr/bin/env bash
# Browser tests drive Debian's Chromium (never a downloaded browser). Install it when missing and we may.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
exec bash "$(dirname "$0")/install-debian-package.sh" chromium "the browser tests" /usr/bin/chromium "browser tests will be skipped"
