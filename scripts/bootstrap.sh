#!/usr/bin/env bash
# Create the project's environment: .venv with Python 3.11 and exactly the pinned, hashed
# dependencies of requirements.lock; the project's own packages are put on the path, not built.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/pip ]; then
  rm -rf .venv
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.setka-installed
if [ ! -f "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
  site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  printf '%s\n' "$PWD" "$PWD/contracts" "$PWD/runtime" > "$site/setka.pth"
  touch "$stamp"
fi
# The operator's command, `setka` (what [project.scripts] installs from a wheel).
if [ ! -x .venv/bin/setka ]; then
  printf '#!%s\nfrom operations.cli import main\n\nmain()\n' "$PWD/.venv/bin/python" > .venv/bin/setka
  chmod +x .venv/bin/setka
fi
# The GraphQL tooling (supergraph composition, the GraphQL-over-HTTP audit, the reference router):
# exactly the packages of tools/graphql/package-lock.json, again whenever that lock changes.
# Every tools/*/ with a package-lock.json is installed the same way.
if command -v npm >/dev/null 2>&1; then
  for lock in tools/*/package-lock.json; do
    tools=$(dirname "$lock")
    npm_stamp=$tools/node_modules/.setka-installed
    if [ ! -f "$npm_stamp" ] || [ "$lock" -nt "$npm_stamp" ]; then
      (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
      touch "$npm_stamp"
    fi
  done
else
  echo "bootstrap: npm not found; the supergraph tools in tools/graphql are not installed" >&2
fi
