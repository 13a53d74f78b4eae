"""The workspace's forms against the real API: the portal application runs in this process, the
gateway and the three services as real processes (``deploy.local_stack``) on PostgreSQL databases
of this test, with the local broker. People sign in with the demo sign-in.

An admin changes an organization through its form and sees the change on its card; a form the API
refuses shows the API's message at its field, with what was entered kept; a viewer is offered no
form and a forged POST is refused; the audit trail page lists the admin's write."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from html import unescape
from typing import Any

import httpx
import pytest
from setka_runtime.local_broker import free_port

from deploy.local_stack import Stack
from gateway.auth import issue_token
from gateway.settings import GatewaySettings
from portal.app import create_app
from portal.settings import PortalSettings
from tests.conftest import DatabaseFactory, run_sync
from tests.e2e.conftest import REGISTER, graphql, school
from tests.helpers import eventually

pytestmark = pytest.mark.integration

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def forms_stack(tmp_path_factory: pytest.TempPathFactory, databases: DatabaseFactory) -> Iterator[Stack]:
    """The e2e ``stack`` (no demo data, PostgreSQL), once for the module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
        ports = {name: free_port() for name in ("kafka", "registry", "events", "analytics", "gateway")}
        env = {
            f"{name.upper()}_DATABASE_URL": databases.create(name, migrate=name)
            for name in ("registry", "events", "analytics")
        }
        env |= {
            "CONSUMER_BACKOFF_SECONDS": "0.05",
            "CONSUMER_GRACEFUL_SECONDS": "3",
            "OUTBOX_POLL_SECONDS": "0.2",
        }
        running = Stack(
            var_dir=tmp_path_factory.mktemp("forms") / "var",
            ports=ports,
            env=env,
            seed_demo=False,
            echo=False,
        )
        try:
            running.start()
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="module")
def organizations(forms_stack: Stack) -> dict[str, str]:
    """Two schools of region 39, registered through the API by an admin of every region."""
    token = issue_token(GatewaySettings(), subject="test-admin", roles=["regional_admin"], region_code="*")

    async def register() -> dict[str, str]:
        made = {}
        for key, number in (("first", 901), ("second", 902)):
            body = await graphql(
                forms_stack.gateway_url, REGISTER, {"input": school(number, "39")}, token=token
            )
            assert body["data"]["registerOrganization"]["__typename"] == "Organization", body
            made[key] = body["data"]["registerOrganization"]["id"]
        return made

    return run_sync(register())


@pytest.fixture
async def workspace(forms_stack: Stack) -> AsyncIterator[Any]:
    """A browser of the workspace (in this process): ``await workspace("admin")`` signs in."""
    app = create_app(PortalSettings(gateway_url=forms_stack.gateway_url.removesuffix("/graphql")))
    clients: list[httpx.AsyncClient] = []

    async def sign_in(person: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")
        clients.append(client)
        page = await client.get("/sign-in")
        assert page.status_code == 200, page.text
        csrf = CSRF.search(page.text)
        assert csrf is not None and f'value="{person}"' in page.text
        signed = await client.post(
            "/sign-in/demo", data={"csrf": csrf.group(1), "person": person, "next": "/"}
        )
        assert signed.status_code == 303, signed.text
        return client

    yield sign_in
    for client in clients:
        await client.aclose()
    await app.state.portal.gateway.http.aclose()


async def csrf_of(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    found = CSRF.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def field_error(html: str, name: str) -> str | None:
    found = re.search(rf'class="field-error" id="e-{re.escape(name)}">([^<]*)<', html)
    return unescape(found.group(1)) if found else None


def value_of(html: str, name: str) -> str | None:
    found = re.search(rf'<input id="f-{re.escape(name)}" name="{re.escape(name)}" value="([^"]*)"', html)
    return unescape(found.group(1)) if found else None


async def test_an_admin_edits_an_organization_and_sees_the_change(
    workspace: Any, organizations: dict[str, str]
) -> None:
    admin = await workspace("admin")
    ident = organizations["first"]
    form = await admin.get(f"/organizations/{ident}/edit")
    assert form.status_code == 200
    assert value_of(form.text, "shortName") == "СОШ № 901"
    for name in ("fullName", "shortName", "kind", "inn", "email", "website"):
        assert f'<label for="f-{name}">' in form.text, f"{name} has a label"

    sent = await admin.post(
        f"/organizations/{ident}/edit",
        data={
            "csrf": await csrf_of(admin, f"/organizations/{ident}/edit"),
            "fullName": "МБОУ СОШ № 901 (тест 39)",
            "shortName": "СОШ № 901 им. Гагарина",
            "kind": "school",
            "email": "school901@example.ru",
        },
    )
    assert sent.status_code == 303 and sent.headers["location"] == f"/organizations/{ident}"
    card = await admin.get(sent.headers["location"])
    assert card.status_code == 200
    assert "Изменения сохранены" in card.text
    assert "СОШ № 901 им. Гагарина" in card.text and "school901@example.ru" in card.text


async def test_a_refused_form_shows_the_apis_message_at_its_field_and_keeps_what_was_entered(
    workspace: Any, organizations: dict[str, str]
) -> None:
    admin = await workspace("admin")
    ident = organizations["second"]
    entered = {
        "fullName": "МБОУ СОШ № 902 (тест 39)",
        "shortName": "СОШ № 902 — новое имя",
        "kind": "school",
        "inn": "12345",
        "address": "г. Калининград, ул. Тестовая, 2",
    }
    refused = await admin.post(
        f"/organizations/{ident}/edit",
        data={"csrf": await csrf_of(admin, f"/organizations/{ident}/edit"), **entered},
    )
    assert refused.status_code == 400
    message = field_error(refused.text, "inn")
    assert message == "ИНН организации — ровно 10 цифр", refused.text  # the API's own words, at the ИНН
    assert 'aria-describedby="e-inn"' in refused.text
    for name in ("shortName", "inn", "address"):
        assert value_of(refused.text, name) == entered[name]

    # a value that is not even a date is answered at its field before the API is asked
    status = await admin.post(
        f"/organizations/{ident}/statuses/new",
        data={
            "csrf": await csrf_of(admin, f"/organizations/{ident}/statuses/new"),
            "status": "low_results",
            "enteredOn": "первое марта",
        },
    )
    assert status.status_code == 400
    assert field_error(status.text, "enteredOn") == "Введите дату в виде ГГГГ-ММ-ДД"
    assert value_of(status.text, "enteredOn") == "первое марта"

    card = await admin.get(f"/organizations/{ident}")
    assert "СОШ № 902 — новое имя" not in card.text, "nothing of a refused form is kept"


async def test_a_viewer_is_not_offered_the_forms_and_a_forged_post_is_refused(
    workspace: Any, organizations: dict[str, str], forms_stack: Stack
) -> None:
    viewer = await workspace("viewer")
    ident = organizations["first"]
    start = await viewer.get("/")
    assert 'href="/changes"' not in start.text and 'href="/admin"' not in start.text
    for path in (f"/organizations/{ident}/edit", "/organizations/new", "/changes", "/admin/audit"):
        page = await viewer.get(path)
        assert page.status_code == 403, path
        assert '<form method="post" action="/organizations' not in page.text

    forged = {"fullName": "Взлом", "shortName": "Взлом", "kind": "school"}
    without_token = await viewer.post(f"/organizations/{ident}/edit", data=forged)
    with_token = await viewer.post(
        f"/organizations/{ident}/edit", data={"csrf": await csrf_of(viewer, "/"), **forged}
    )
    assert without_token.status_code == with_token.status_code == 403
    assert "Это вне ваших полномочий" in with_token.text

    # a page of another site posting with no token of this session is refused too
    stranger = await workspace("admin")
    stranger.cookies.clear()
    anonymous = await stranger.post(f"/organizations/{ident}/edit", data=forged)
    assert anonymous.status_code == 401

    body = await graphql(
        forms_stack.gateway_url, "query($id: ID!) { organization(id: $id) { shortName } }", {"id": ident}
    )
    assert body["data"]["organization"]["shortName"] != "Взлом"


async def test_the_audit_trail_lists_the_admins_write(workspace: Any, organizations: dict[str, str]) -> None:
    admin = await workspace("admin")
    ident = organizations["second"]
    sent = await admin.post(
        f"/organizations/{ident}/statuses/new",
        data={
            "csrf": await csrf_of(admin, f"/organizations/{ident}/statuses/new"),
            "status": "low_results",
            "enteredOn": "2026-01-12",
            "basis": "Приказ № 1",
        },
    )
    assert sent.status_code == 303, sent.text

    async def listed() -> str | None:
        page = await admin.get("/admin/audit?operation=enterStatus&subject=demo-admin")
        assert page.status_code == 200, page.text
        return page.text if f"/organizations/{ident}" in page.text else None

    html = await eventually(listed, timeout=30)
    assert "назначение статуса" in html and "demo-admin" in html
    assert "registry.organization.status_changed" in html
