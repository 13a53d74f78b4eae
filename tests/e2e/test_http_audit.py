"""The graphql-http package's server audit (GraphQL over HTTP) against the running gateway.

``tests/e2e/http_audit.mjs`` runs every audit of ``serverAudits`` against the gateway of a real
stack and prints the results as JSON; every MUST and every SHOULD has to pass (the MAYs are
reported by the script but not required).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from deploy.local_stack import ROOT, Stack

pytestmark = pytest.mark.e2e

SCRIPT = ROOT / "tests" / "e2e" / "http_audit.mjs"
TOOLS = ROOT / "tools" / "graphql"
REQUIRED = ("MUST", "SHOULD")


def run_audit(url: str) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH")
    if not (TOOLS / "node_modules" / "graphql-http").is_dir():
        pytest.fail(f"graphql-http is not installed in {TOOLS}: run `make env`")
    finished = subprocess.run(
        [node, str(SCRIPT), url],
        cwd=TOOLS,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert finished.returncode == 0, f"the audit script failed:\n{finished.stderr}"
    report = json.loads(finished.stdout)
    assert report["url"] == url
    results: list[dict[str, Any]] = report["results"]
    return results


def describe(result: dict[str, Any]) -> str:
    response = result.get("response") or {}
    return (
        f"{result['id']} {result['name']}\n    {result['status']}: {result.get('reason')}\n"
        f"    got {response.get('status')} {response.get('contentType')}: {response.get('body')}"
    )


def test_the_gateway_passes_every_must_and_should_of_the_graphql_over_http_audit(stack: Stack) -> None:
    results = run_audit(stack.gateway_url)
    assert len(results) >= 40, "graphql-http lists more audits than that"
    required = [r for r in results if r["name"].split(" ", 1)[0] in REQUIRED]
    assert required, "the audit has MUSTs and SHOULDs"
    failures = [r for r in required if r["status"] != "ok"]
    assert not failures, f"{len(failures)} of {len(required)} MUST/SHOULD audits fail:\n" + "\n".join(
        describe(r) for r in failures
    )
