"""The stack as ``make run`` starts it (real processes), on PostgreSQL databases of the test."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from setka_runtime.local_broker import free_port

from deploy.local_stack import Stack
from gateway.auth import issue_token
from gateway.settings import GatewaySettings
from tests.conftest import SERVICES, DatabaseFactory


def stack_on(var_dir: Path, service_databases: dict[str, str], **env: str) -> Stack:
    """A stack (not started) on the given databases, its files under ``var_dir``, with short
    consumer back-offs, outbox polls and relay leases; ``env`` adds or overrides settings."""
    ports = {name: free_port() for name in ("kafka", "registry", "events", "analytics", "gateway")}
    environment = {f"{name.upper()}_DATABASE_URL": url for name, url in service_databases.items()}
    environment |= {
        "CONSUMER_BACKOFF_SECONDS": "0.05",
        "CONSUMER_GRACEFUL_SECONDS": "3",
        "OUTBOX_POLL_SECONDS": "0.2",
        "OUTBOX_LEASE_SECONDS": "3",
        **env,
    }
    return Stack(var_dir=var_dir, ports=ports, env=environment, seed_demo=False, echo=False)


@contextlib.contextmanager
def running_stack(var_dir: Path, service_databases: dict[str, str]) -> Iterator[Stack]:
    """A stack on the given databases, its files under ``var_dir``; stopped on leaving."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
        running = stack_on(var_dir, service_databases)
        try:
            running.start()
            yield running
        finally:
            running.stop()


@pytest.fixture
def events_stack(tmp_path: Path, service_databases: dict[str, str]) -> Iterator[Stack]:
    """A stack of this test's own, for tests that kill and restart its processes."""
    with running_stack(tmp_path / "var", service_databases) as running:
        yield running


@pytest.fixture
def stack(tmp_path: Path, service_databases: dict[str, str]) -> Iterator[Stack]:
    """A stack of this test's own."""
    with running_stack(tmp_path / "var", service_databases) as running:
        yield running


def module_stack(tmp_path_factory: pytest.TempPathFactory, databases: DatabaseFactory) -> Iterator[Stack]:
    """One stack for the tests of a module that do not disturb each other: the module overrides
    ``stack`` with a module-scoped fixture that yields from this."""
    urls = {name: databases.create(name, migrate=name) for name in SERVICES}
    with running_stack(tmp_path_factory.mktemp("stack") / "var", urls) as running:
        yield running


@pytest.fixture
def admin_token() -> str:
    return issue_token(GatewaySettings(), subject="test-admin", roles=["regional_admin"], region_code="*")


async def graphql(
    url: str, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            url, json={"query": query, "variables": variables or {}}, headers=headers
        )
    response.raise_for_status()
    return response.json()


REGISTER = """
mutation($input: RegisterOrganizationInput!) {
  registerOrganization(input: $input) {
    __typename
    ... on Organization { id shortName regionCode }
    ... on ValidationError { field message code }
  }
}"""


def school(number: int, region: str, **extra: Any) -> dict[str, Any]:
    return {
        "fullName": f"МБОУ СОШ № {number} (тест {region})",
        "shortName": f"СОШ № {number}",
        "kind": "school",
        "regionCode": region,
        **extra,
    }


async def region_count(stack: Stack, region: str) -> int:
    body = await graphql(
        stack.gateway_url,
        "query($r: String!) { regionSummary(regionCode: $r) { organizations } }",
        {"r": region},
    )
    return body["data"]["regionSummary"]["organizations"]
