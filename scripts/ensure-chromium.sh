#!/usr/bin/env bash
# Install Debian's Chromium when it is missing (the browser tests drive it with Playwright; the
# browsers Playwright would download are never used). Without apt-get, say what is missing.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; fi
  echo "Chromium not found at /usr/bin/chromium; installing Debian's chromium package"
  $sudo apt-get update
  $sudo apt-get install -y chromium
  exit 0
fi
echo "Chromium is not at /usr/bin/chromium and apt-get is not available: install Chromium there," \
  "or the browser tests (tests/e2e/test_workspace.py) fail" >&2
