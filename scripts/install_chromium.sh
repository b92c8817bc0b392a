#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for the report's browser test.
# Idempotent and quiet: does nothing when /usr/bin/chromium is already there. Needs root (apt);
# as another user it only says what to run, and the browser test then skips locally (fails in CI).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install_chromium: /usr/bin/chromium missing; run as root: apt-get install chromium" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_chromium: no apt-get here; install Chromium by hand to run the browser test" >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# apt's chatter (progress, debconf notes) goes to a log that is shown only if something fails.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "install_chromium: apt-get failed (log above)" >&2
    exit 1
fi
echo "install_chromium: $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium installed')"
