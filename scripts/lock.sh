#!/usr/bin/env bash
# Re-pin the dependencies after a change to a pyproject.toml: resolves with a private, pinned uv
# and writes hashed requirement files that name no package index (pip installs them offline of
# any index choice): requirements.lock (everything, for development and tests) and
# requirements.prod.lock (what the services need, for images).
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
export UV_PYTHON_DOWNLOADS=never
if [ ! -x .tools/bin/uv ] || ! .tools/bin/uv --version | grep -q "$UV_VERSION"; then
  "$PYTHON" -m venv .tools
  .tools/bin/pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
.tools/bin/uv lock --python "$PYTHON" --quiet
common=(--frozen --format requirements-txt --no-emit-workspace --no-header --quiet)
.tools/bin/uv export "${common[@]}" --all-groups -o requirements.lock
.tools/bin/uv export "${common[@]}" --no-dev -o requirements.prod.lock
echo "requirements.lock and requirements.prod.lock written"
