"""Documents through the gateway on real PostgreSQL: attached in base64 by a mutation, listed on
their owners, downloaded through the gateway under their owners' access; refused with a code when
their type or size is wrong; kept in a local directory or in an S3-compatible server (moto's
threaded server: a real HTTP S3 API, not MinIO itself)."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from setka_runtime.access import DEV_INTERNAL_SECRET
from setka_runtime.db import Database
from setka_runtime.local_broker import free_port

from gateway.app import create_app as create_gateway
from gateway.auth import issue_token
from gateway.settings import GatewaySettings
from services.events import activities, meetings
from services.events import app as events_app
from services.events.settings import EventsSettings
from services.registry import agreements, reference
from services.registry import app as registry_app
from services.registry import organizations as orgs
from services.registry.settings import RegistrySettings
from tests.conftest import DatabaseFactory
from tests.helpers import served
from tests.integration.events_world import World, make_world

pytestmark = pytest.mark.integration

SMALL_LIMIT = 64 * 1024
"""The registry's DOCUMENTS_MAX_BYTES here, so that a file too large is a small one."""


def pdf(size: int = 2000) -> bytes:
    """Bytes a PDF reader would start on: the magic number, then filler."""
    body = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    return body + b"0" * max(0, size - len(body) - 6) + b"%%EOF\n"


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class Stack:
    gateway: str
    agreement: uuid.UUID
    regulation: uuid.UUID
    activity: uuid.UUID
    world: World
    registry_dir: Path


def token(**claims: Any) -> dict[str, str]:
    roles = claims.pop("roles")
    signed = issue_token(GatewaySettings(), subject=claims.pop("subject", "tester"), roles=roles, **claims)
    return {"authorization": f"Bearer {signed}"}


ADMIN_39 = {"roles": ["regional_admin"], "region_code": "39"}
EXPERT_08 = {"roles": ["expert"], "region_code": "08", "subject": "expert-08"}


async def seed_registry(url: str) -> tuple[uuid.UUID, uuid.UUID]:
    db = Database(url)
    async with db.session() as session, session.begin():
        await reference.load_reference(session)
        schools = [
            await orgs.register_organization(
                session,
                orgs.RegisterOrganization(full_name=name, short_name=name, kind="school", region_code="39"),
            )
            for name in ("Гимназия № 1 (документы)", "СОШ № 5 (документы)")
        ]
        agreement = await agreements.sign_agreement(
            session,
            agreements.SignAgreement(
                number="17-СВ",
                signed_on=date(2025, 9, 1),
                subject="Сетевая реализация программы",
                party_ids=[s.id for s in schools],
                valid_from=date(2025, 9, 1),
            ),
        )
        regulation = await agreements.issue_regulation(
            session,
            agreements.IssueRegulation(
                kind="provision",
                number="5-П",
                issued_on=date(2025, 8, 20),
                issuer_id=schools[0].id,
                title="Положение о сетевом взаимодействии",
            ),
        )
    await db.dispose()
    return agreement.id, regulation.id


async def seed_activity(world: World) -> uuid.UUID:
    starts = datetime.now(UTC) + timedelta(days=10)
    async with world.db.session() as session, session.begin():
        activity = await activities.plan_activity(
            session,
            activities.PlanActivity(
                title="Семинар «Смысловое чтение»",
                activity_type="seminar",
                format="in_person",
                host_organization_id=world.host,
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                network_id=world.network,
            ),
        )
    return activity.id


@pytest.fixture(scope="module")
async def world(databases: DatabaseFactory) -> AsyncIterator[World]:
    async for made in make_world(databases, "documents_events"):
        yield made


@pytest.fixture(scope="module")
async def stack(
    databases: DatabaseFactory, world: World, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    registry_url = databases.create("documents_registry", migrate="registry")
    agreement, regulation = await seed_registry(registry_url)
    activity = await seed_activity(world)
    folder = tmp_path_factory.mktemp("documents")
    registry = registry_app.create_app(
        RegistrySettings(
            database_url=registry_url,
            documents_dir=str(folder / "registry"),
            DOCUMENTS_MAX_BYTES=SMALL_LIMIT,
            INTERNAL_TOKEN_SECRET=DEV_INTERNAL_SECRET,
        )
    )
    events = events_app.create_app(
        EventsSettings(
            database_url=world.db.url,
            documents_dir=str(folder / "events"),
            INTERNAL_TOKEN_SECRET=DEV_INTERNAL_SECRET,
        )
    )
    async with (
        served(registry, lifespan="off") as registry_base,
        served(events, lifespan="off") as events_base,
    ):
        gateway = create_gateway(
            GatewaySettings(
                registry_url=f"{registry_base}/graphql",
                events_url=f"{events_base}/graphql",
                analytics_url="http://127.0.0.1:9/graphql",
            )
        )
        async with served(gateway) as gateway_base:
            yield Stack(gateway_base, agreement, regulation, activity, world, folder / "registry")


ATTACH_REGISTRY = """mutation($input: AttachRegistryDocumentInput!) { attachRegistryDocument(input: $input) {
  __typename ... on Document { id fileName mediaType size sha256 uploadedAt downloadUrl title }
  ... on ValidationError { field code message } } }"""
ATTACH_EVENTS = """mutation($input: AttachEventsDocumentInput!) { attachEventsDocument(input: $input) {
  __typename ... on Document { id fileName mediaType size sha256 downloadUrl }
  ... on ValidationError { field code message } } }"""


async def graphql(
    stack: Stack, query: str, headers: dict[str, str] | None = None, **variables: Any
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=60) as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def attach(stack: Stack, kind: str, owner: uuid.UUID, name: str, content: bytes, **claims: Any) -> Any:
    mutation, field = (
        (ATTACH_EVENTS, "attachEventsDocument")
        if kind in ("activity", "meeting")
        else (ATTACH_REGISTRY, "attachRegistryDocument")
    )
    data = await graphql(
        stack,
        mutation,
        token(**(claims or ADMIN_39)),
        input={
            "ownerKind": kind,
            "ownerId": str(owner),
            "fileName": name,
            "contentBase64": base64.b64encode(content).decode(),
            "title": "Текст",
        },
    )
    return data[field]


async def download(stack: Stack, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=60) as client:
        return await client.get(path, headers=headers)


async def test_an_agreements_text_is_attached_listed_and_downloaded_whole(stack: Stack) -> None:
    content = pdf()
    name = "Договор № 17-СВ.pdf"
    document = await attach(stack, "agreement", stack.agreement, name, content)
    assert document["__typename"] == "Document", document
    assert document["mediaType"] == "application/pdf"
    assert document["size"] == len(content)
    assert document["sha256"] == hashlib.sha256(content).hexdigest()
    assert document["downloadUrl"] == f"/documents/registry/{document['id']}"

    listed = await graphql(
        stack,
        "{ agreements(first: 10) { edges { node { id documents { fileName sha256 downloadUrl } } } } }",
        token(**ADMIN_39),
    )
    node = next(e["node"] for e in listed["agreements"]["edges"] if e["node"]["id"] == str(stack.agreement))
    assert node["documents"] == [
        {"fileName": name, "sha256": document["sha256"], "downloadUrl": document["downloadUrl"]}
    ]

    response = await download(stack, document["downloadUrl"], token(**ADMIN_39))
    assert response.status_code == 200, response.text
    assert response.content == content
    assert hashlib.sha256(response.content).hexdigest() == document["sha256"]
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(content))
    assert response.headers["x-content-type-options"] == "nosniff"
    assert f"filename*=UTF-8''{quote(name, safe='')}" in response.headers["content-disposition"]
    assert response.headers["content-disposition"].startswith("attachment;")


async def test_a_member_of_another_region_neither_sees_nor_downloads_an_agreements_text(stack: Stack) -> None:
    document = await attach(stack, "agreement", stack.agreement, "Договор.pdf", pdf())
    outsider = await download(stack, document["downloadUrl"], token(**EXPERT_08))
    assert outsider.status_code == 403
    assert outsider.content != pdf()
    anonymous = await download(stack, document["downloadUrl"])
    assert anonymous.status_code == 401
    listed = await graphql(
        stack, "{ agreements(first: 10) { edges { node { id documents { id } } } } }", token(**EXPERT_08)
    )
    assert all(e["node"]["documents"] == [] for e in listed["agreements"]["edges"])


async def test_a_regulations_text_is_public(stack: Stack) -> None:
    content = docx()
    document = await attach(stack, "regulation", stack.regulation, "Положение.docx", content)
    assert document["mediaType"].endswith("wordprocessingml.document"), document
    response = await download(stack, document["downloadUrl"])
    assert response.status_code == 200
    assert response.content == content
    listed = await graphql(stack, "{ regulations(first: 5) { edges { node { documents { fileName } } } } }")
    assert {"fileName": "Положение.docx"} in listed["regulations"]["edges"][0]["node"]["documents"]


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("Договор.pdf", PNG, "DOCUMENT_TYPE_MISMATCH"),
        ("program.exe", b"MZ\x90\x00\x03" + b"\x00" * 200, "DOCUMENT_TYPE_NOT_ALLOWED"),
        ("Договор.pdf", pdf(SMALL_LIMIT + 1), "DOCUMENT_TOO_LARGE"),
        ("Пусто.txt", b"", "DOCUMENT_EMPTY"),
    ],
)
async def test_a_wrong_file_is_refused_with_its_code_and_nothing_is_kept(
    stack: Stack, name: str, content: bytes, code: str
) -> None:
    before = (
        sorted(p for p in stack.registry_dir.rglob("*") if p.is_file()) if stack.registry_dir.exists() else []
    )
    refused = await attach(stack, "agreement", stack.agreement, name, content)
    assert refused["__typename"] == "ValidationError"
    assert refused["code"] == code
    assert refused["message"]  # in Russian, for the person
    after = (
        sorted(p for p in stack.registry_dir.rglob("*") if p.is_file()) if stack.registry_dir.exists() else []
    )
    assert after == before


async def test_an_editor_of_another_region_may_not_attach(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway) as client:
        response = await client.post(
            "/graphql",
            json={
                "query": ATTACH_REGISTRY,
                "variables": {
                    "input": {
                        "ownerKind": "agreement",
                        "ownerId": str(stack.agreement),
                        "fileName": "a.pdf",
                        "contentBase64": base64.b64encode(pdf()).decode(),
                    }
                },
            },
            headers=token(roles=["regional_admin"], region_code="08"),
        )
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_activitys_material_larger_than_a_megabyte_goes_through_the_gateway(stack: Stack) -> None:
    """The host's representative attaches a 1.5 MB programme (more than an anonymous body may be);
    the activity is planned, not announced: a person of another school does not get it."""
    content = pdf(1_500_000)
    host = {"roles": ["school_representative"], "region_code": "39", "organization_id": str(stack.world.host)}
    document = await attach(stack, "activity", stack.activity, "Программа.pdf", content, **host)
    assert document["__typename"] == "Document", document
    assert document["sha256"] == hashlib.sha256(content).hexdigest()
    mine = await download(stack, document["downloadUrl"], token(**host))
    assert mine.status_code == 200
    assert mine.content == content
    other = {
        "roles": ["school_representative"],
        "region_code": "39",
        "organization_id": str(stack.world.outsider),
    }
    assert (await download(stack, document["downloadUrl"], token(**other))).status_code == 403
    assert (await download(stack, document["downloadUrl"])).status_code == 401
    listed = await graphql(
        stack,
        "query($id: ID!) { activity(id: $id) { documents { fileName size } } }",
        token(**host),
        id=str(stack.activity),
    )
    assert listed["activity"]["documents"] == [{"fileName": "Программа.pdf", "size": len(content)}]


async def test_a_meetings_signed_minutes_are_attached_and_downloaded_by_its_networks_people(
    stack: Stack,
) -> None:
    """A held meeting's scanned minutes: listed on the meeting, downloaded whole by the region's
    admin; a reader of another region neither sees the meeting's files nor downloads them."""
    async with stack.world.db.session() as session, session.begin():
        meeting = await meetings.schedule_meeting(
            session,
            meetings.ScheduleMeeting(
                network_id=stack.world.network,
                kind="council",
                title="Совет сети (документы)",
                starts_at=datetime.now(UTC) - timedelta(hours=3),
                agenda=["О плане работы"],
                participants=[meetings.Participant(stack.world.host)],
                place="Актовый зал",
            ),
        )
        await meetings.hold_meeting(session, meeting.id, "Слушали: о плане. Постановили: утвердить.")
    content = pdf()
    document = await attach(stack, "meeting", meeting.id, "Протокол № 1.pdf", content)
    assert document["__typename"] == "Document", document
    listed = await graphql(
        stack,
        "query($id: ID!) { meeting(id: $id) { documents { fileName sha256 } } }",
        token(**ADMIN_39),
        id=str(meeting.id),
    )
    assert listed["meeting"]["documents"] == [{"fileName": "Протокол № 1.pdf", "sha256": document["sha256"]}]
    response = await download(stack, document["downloadUrl"], token(**ADMIN_39))
    assert response.status_code == 200 and response.content == content
    outsider = await download(stack, document["downloadUrl"], token(**EXPERT_08))
    assert outsider.status_code in (403, 404)
    assert outsider.content != content


async def test_an_anonymous_body_that_large_is_still_refused(stack: Stack) -> None:
    """Only a signed-in caller's body may be larger than GATEWAY_MAX_BODY_BYTES."""
    async with httpx.AsyncClient(base_url=stack.gateway, timeout=60) as client:
        response = await client.post(
            "/graphql",
            json={"query": ATTACH_EVENTS, "variables": {"input": {"contentBase64": "A" * 1_200_000}}},
        )
    assert response.status_code == 413


async def test_an_unknown_document_is_not_found(stack: Stack) -> None:
    response = await download(stack, f"/documents/registry/{uuid.uuid4()}", token(**ADMIN_39))
    assert response.status_code == 404


# -- the S3 store --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_server() -> Any:
    """moto's ThreadedMotoServer: an S3 API over HTTP on a loopback port, with a bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_bucket(Bucket="setka-documents")
    yield endpoint, client
    server.stop()


async def test_the_s3_store_keeps_and_serves_a_document(databases: DatabaseFactory, s3_server: Any) -> None:
    endpoint, client = s3_server
    registry_url = databases.create("documents_registry_s3", migrate="registry")
    agreement, _ = await seed_registry(registry_url)
    registry = registry_app.create_app(
        RegistrySettings(
            database_url=registry_url,
            DOCUMENTS_STORAGE="s3",
            DOCUMENTS_S3_ENDPOINT=endpoint,
            DOCUMENTS_S3_BUCKET="setka-documents",
            DOCUMENTS_S3_ACCESS_KEY_ID="test",
            DOCUMENTS_S3_SECRET_ACCESS_KEY="test",
            INTERNAL_TOKEN_SECRET=DEV_INTERNAL_SECRET,
        )
    )
    content = pdf(300_000)
    async with served(registry, lifespan="off") as registry_base:
        gateway = create_gateway(
            GatewaySettings(
                registry_url=f"{registry_base}/graphql",
                events_url="http://127.0.0.1:9/graphql",
                analytics_url="http://127.0.0.1:9/graphql",
            )
        )
        async with served(gateway) as gateway_base:
            stack = Stack(gateway_base, agreement, uuid.uuid4(), uuid.uuid4(), None, Path())  # type: ignore[arg-type]
            document = await attach(stack, "agreement", agreement, "Договор (скан).pdf", content)
            assert document["__typename"] == "Document", document
            response = await download(stack, document["downloadUrl"], token(**ADMIN_39))
    assert response.status_code == 200
    assert response.content == content
    stored = client.get_object(
        Bucket="setka-documents", Key=f"registry/agreement/{agreement}/{document['id']}"
    )
    assert stored["Body"].read() == content
    assert stored["ContentType"] == "application/pdf"


# -- the workspace -------------------------------------------------------------------------------------


async def test_the_workspace_uploads_a_file_from_a_form_and_serves_its_link(stack: Stack) -> None:
    """A regional admin signed in to the workspace attaches a file with the multipart form of the
    agreements page and downloads it from the link the page then shows."""
    from portal.app import create_app as create_portal
    from portal.session import COOKIE, Person
    from portal.settings import PortalSettings

    portal_app = create_portal(PortalSettings(gateway_url=stack.gateway))
    portal = portal_app.state.portal
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=portal_app), base_url="http://workspace", timeout=60
    ) as browser:
        form = await browser.get(f"/documents/attach/agreement/{stack.agreement}?back=/agreements&name=Д")
        assert form.status_code == 401  # not signed in yet; the page gave the browser a session
        session = portal.sessions._sessions[browser.cookies[COOKIE]]
        session.person = Person("admin-39", "Админ", frozenset({"regional_admin"}), "39")
        session.access_token = token(**ADMIN_39)["authorization"].removeprefix("Bearer ")
        form = await browser.get(f"/documents/attach/agreement/{stack.agreement}?back=/agreements&name=Д")
        assert 'enctype="multipart/form-data"' in form.text
        content = pdf(5000)
        sent = await browser.post(
            f"/documents/attach/agreement/{stack.agreement}",
            data={"csrf": session.csrf, "back": "/agreements", "name": "Д", "title": "Скан договора"},
            files={"file": ("Договор (скан).pdf", content, "application/pdf")},
        )
        assert sent.status_code == 303, sent.text
        assert sent.headers["location"] == "/agreements"
        listing = await browser.get("/agreements")
        assert "Скан договора" in listing.text
        link = re.search(r'href="(/documents/registry/[0-9a-f-]+)" download>Скан договора<', listing.text)
        assert link is not None, listing.text
        downloaded = await browser.get(link.group(1))
        assert downloaded.status_code == 200
        assert downloaded.headers["content-type"] == "application/pdf"
        assert "filename*=UTF-8''" in downloaded.headers["content-disposition"]
        assert downloaded.content == content

        refused = await browser.post(
            f"/documents/attach/agreement/{stack.agreement}",
            data={"csrf": session.csrf, "back": "/agreements"},
            files={"file": ("Картинка.pdf", PNG, "application/pdf")},
        )
        assert refused.status_code == 400
        assert "Файл не принят" in refused.text
