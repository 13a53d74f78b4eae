"""A standard federation router on Setka's supergraph: Hive Gateway (MIT, npm), for comparison
and for operators who run more than one gateway process.

``python -m gateway router --port 4000`` writes the supergraph with the subgraph URLs of this
environment (``GATEWAY_REGISTRY_URL`` and the others) and serves it with Hive Gateway from
``tools/graphql`` (installed by ``make env``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools" / "graphql"
HIVE_GATEWAY = TOOLS / "node_modules" / ".bin" / "hive-gateway"
GRAPH_URL = re.compile(r'(@join__graph\(name: "(?P<name>[^"]+)", url: ")(?P<url>[^"]*)(")')


def with_urls(supergraph: str, urls: dict[str, str]) -> str:
    """The supergraph SDL with each named subgraph's URL replaced."""

    def replace(match: re.Match[str]) -> str:
        url = urls.get(match.group("name"), match.group("url"))
        return f"{match.group(1)}{url}{match.group(4)}"

    return GRAPH_URL.sub(replace, supergraph)


HIVE_CONFIG = """// Written by gateway/router.py: the caller's Authorization goes on to the subgraphs.
// Setka's services trust only the internal token (INTERNAL_TOKEN_SECRET), so behind this router a
// client sends one (setka token issue --internal …) or a plugin that verifies the portal's
// token mints it; Setka's own gateway does both itself.
export const gatewayConfig = {
  propagateHeaders: {
    fromClientToSubgraphs({ request }) {
      const authorization = request.headers.get("authorization");
      return authorization ? { authorization } : {};
    },
  },
};
"""


def available() -> bool:
    return HIVE_GATEWAY.exists() and shutil.which("node") is not None


def start_hive_gateway(
    supergraph: Path,
    urls: dict[str, str],
    *,
    port: int,
    workdir: Path,
    log: Path | None = None,
    options: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """Hive Gateway serving ``supergraph`` (with ``urls``) on 127.0.0.1:``port``; waits until it answers."""
    if not available():
        raise RuntimeError("Hive Gateway is not installed: run `make env` (needs Node.js and npm)")
    workdir.mkdir(parents=True, exist_ok=True)
    local = workdir / "supergraph.graphql"
    local.write_text(with_urls(supergraph.read_text(encoding="utf-8"), urls), encoding="utf-8")
    (workdir / "gateway.config.mjs").write_text(HIVE_CONFIG, encoding="utf-8")
    output = open(log, "ab") if log else subprocess.DEVNULL  # handed to the child
    process = subprocess.Popen(
        [str(HIVE_GATEWAY), "supergraph", str(local), "--host", "127.0.0.1", "--port", str(port), *options],
        cwd=workdir,
        stdout=output,
        stderr=subprocess.STDOUT,
        env={**os.environ, "NODE_ENV": "production"},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = log.read_text(errors="replace")[-2000:] if log else ""
            raise RuntimeError(f"Hive Gateway exited with {process.returncode}\n{said}")
        try:
            reply = httpx.post(url, json={"query": "{ __typename }"}, timeout=2)
            if reply.status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("Hive Gateway did not answer within 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
