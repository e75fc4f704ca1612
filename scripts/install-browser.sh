#!/usr/bin/env bash
# Installs Debian's Chromium for tests/browser (driven by playwright-core with executablePath).
# Never use `playwright install`: browser downloads are unreachable here; only Debian's package works.
# Idempotent: does nothing when /usr/bin/chromium is already there.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# Retry the install after a fresh `apt-get update` if the cached package lists are missing or stale.
apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
/usr/bin/chromium --version
