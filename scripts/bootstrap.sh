#!/usr/bin/env bash
# Create the project's environment from the lock file: a private uv, then .venv with Python 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
export UV_PYTHON_DOWNLOADS=never
if [ ! -x .tools/bin/uv ] || ! .tools/bin/uv --version | grep -q "$UV_VERSION"; then
  "$PYTHON" -m venv .tools
  .tools/bin/pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
stamp=.venv/.setka-synced
if [ ! -f "$stamp" ] || [ uv.lock -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .tools/bin/uv sync --frozen --python "$PYTHON" --quiet
  touch "$stamp"
fi
