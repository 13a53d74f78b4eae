#!/usr/bin/env bash
# Install Debian's Chromium when it is missing (the browser tests drive it with Playwright; the
# browsers Playwright would download are never used), with its translations (chromium-l10n: a file
# input's and a date's words in Russian, as the screenshots show them). Without apt-get, say what
# is missing.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -f /usr/lib/chromium/locales/ru.pak ]; then exit 0; fi
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; fi
  echo "Chromium or its Russian translation not found; installing Debian's chromium and chromium-l10n"
  $sudo apt-get update
  $sudo apt-get install -y chromium chromium-l10n
  exit 0
fi
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "Chromium is not at /usr/bin/chromium and apt-get is not available: install Chromium there," \
  "or the browser tests (tests/e2e/test_workspace.py) fail" >&2
