"""Issue 18, item 5: a day of changes reaches the right people, once, in Russian, as they asked.

The events service runs as its process does (outbox relay, guarded consumers, the notifier's own
consumer group, its SMTP sender and periodic checks) on PostgreSQL and the real broker; an SMTP
server run by the test (aiosmtpd) receives the e-mails. The registry's and analytics' events are
published as those services publish them; the events service is written to through its subgraph.

The people: Anna of the host school A (e-mail at once), Boris of member B (a daily digest), Clara
of member C (e-mail turned off); the network's coordinating organization K has nobody here, so its
official address is used. Half-way the events service is stopped and started again (the notifier's
consumer with it): what was published meanwhile is told after the restart, and nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiosmtpd.controller import Controller
from setka_contracts import CloudEvent, EventData
from setka_contracts.analytics import AlertRaised
from setka_contracts.registry import (
    MemberJoined,
    NetworkCreated,
    OrganizationRegistered,
    ResourceRequestAccepted,
)
from setka_runtime.access import Identity, Role, sign_internal
from setka_runtime.local_broker import free_port
from setka_runtime.service import Service
from sqlalchemy import func, select

from services.events import app as events
from services.events.models import KnownMembership
from services.events.notifications.models import EmailMessage
from services.events.notifications.settings import NotificationSettings
from services.events.schema import schema
from services.events.settings import EventsSettings
from tests.helpers import eventually, produce

pytestmark = pytest.mark.integration

SECRET = "notifications-test-internal-token-secret-0123"
REGION = "39"
ZONE = "Europe/Moscow"
WORKSPACE = "https://setka.example.org"


class Mailbox:
    """What the SMTP server accepted: one parsed message per recipient address."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, email.message.EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        for address in envelope.rcpt_tos:
            self.messages.append((address, parsed))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [message for to, message in self.messages if to == address]

    def holds(self, address: str, count: int) -> Any:
        """A check for :func:`eventually`: ``address`` has received ``count`` e-mails or more."""

        async def check() -> bool:
            return len(self.to(address)) >= count

        return check


def text_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


@dataclass
class World:
    a: uuid.UUID = field(default_factory=uuid.uuid4)
    b: uuid.UUID = field(default_factory=uuid.uuid4)
    c: uuid.UUID = field(default_factory=uuid.uuid4)
    k: uuid.UUID = field(default_factory=uuid.uuid4)
    network: uuid.UUID = field(default_factory=uuid.uuid4)
    municipality: uuid.UUID = field(default_factory=uuid.uuid4)

    def person(self, subject: str, organization: uuid.UUID, address: str) -> Identity:
        return Identity(
            subject, frozenset({Role.school_representative}), REGION, None, str(organization), address
        )

    @property
    def admin(self) -> Identity:
        return Identity("admin-39", frozenset({Role.regional_admin}), REGION)


async def publish(bootstrap: str, source: str, *facts: EventData) -> None:
    messages = []
    for data in facts:
        event = CloudEvent(type=data.event_type, source=source, data=data.model_dump(mode="json"))
        messages.append((data.key().encode(), event.body(), event.headers()))
    await produce(bootstrap, facts[0].topic, messages)


async def ask(service: Service, who: Identity, query: str, **variables: Any) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {sign_internal(who, SECRET)}"}
    transport = httpx.ASGITransport(app=service.asgi(schema))
    async with httpx.AsyncClient(transport=transport, base_url="http://subgraph") as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    answer = dict(response.json())
    assert not answer.get("errors"), answer
    return dict(answer["data"])


async def write(service: Service, who: Identity, query: str, **variables: Any) -> dict[str, Any]:
    """A mutation's result; it must not be refused."""
    data = await ask(service, who, query, **variables)
    result = next(iter(data.values()))
    assert result.get("__typename") != "ValidationError", result
    return dict(result)


REFUSAL = "... on ValidationError { field message code }"
LIST = """query($unread: Boolean!) { myNotifications(first: 50, unreadOnly: $unread) {
  unreadCount edges { node { id kind title text link read forOrganization } } } }"""
PREFERENCES = f"""mutation($i: NotificationPreferencesInput!) {{ setNotificationPreferences(input: $i) {{
  __typename ... on NotificationPreferences {{ email emailEnabled digest }} {REFUSAL} }} }}"""
MARK = f"""mutation($ids: [ID!]) {{ markNotificationsRead(ids: $ids) {{
  __typename ... on NotificationsMarked {{ marked unreadCount }} {REFUSAL} }} }}"""
DRAFT = f"""mutation($n: ID!, $y: Int!) {{ draftPlan(networkId: $n, year: $y, title: "План сети на год") {{
  __typename ... on Plan {{ id }} {REFUSAL} }} }}"""
ADD_ITEM = f"""mutation($i: AddPlanItemInput!) {{ addPlanItem(input: $i) {{
  __typename ... on PlanItem {{ id }} {REFUSAL} }} }}"""
AGREE = f"""mutation($p: ID!) {{ agreePlan(planId: $p) {{
  __typename ... on Plan {{ id status }} {REFUSAL} }} }}"""
PLAN_ACTIVITY = f"""mutation($i: PlanActivityInput!) {{ planActivity(input: $i) {{
  __typename ... on Activity {{ id }} {REFUSAL} }} }}"""
ANNOUNCE = f"""mutation($a: ID!) {{ announceActivity(activityId: $a) {{
  __typename ... on Activity {{ id }} {REFUSAL} }} }}"""
POSTPONE = f"""mutation($a: ID!, $s: DateTime, $e: DateTime) {{
  postponeActivity(activityId: $a, reason: "болезнь ведущего", startsAt: $s, endsAt: $e) {{
  __typename ... on Activity {{ id }} {REFUSAL} }} }}"""
CANCEL = f"""mutation($a: ID!) {{ cancelActivity(activityId: $a, reason: "карантин в школе") {{
  __typename ... on Activity {{ id }} {REFUSAL} }} }}"""
REGISTER = f"""mutation($a: ID!, $o: ID!) {{ registerParticipant(activityId: $a, organizationId: $o) {{
  __typename ... on RegistrationRecord {{ id }} {REFUSAL} }} }}"""


@pytest.fixture
def mailbox() -> AsyncIterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def settings_for(database_url: str, bootstrap: str, smtp_port: int) -> EventsSettings:
    return EventsSettings(
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        internal_token_secret=SECRET,
        outbox_poll_seconds=0.2,
        consumer_backoff_seconds=0.05,
        consumer_graceful_seconds=2,
        notifications=NotificationSettings(
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_starttls=False,
            from_address="setka@setka.example.org",
            workspace_url=WORKSPACE,
            timezone=ZONE,
            digest_hour=18,
            check_seconds=0.5,
            send_poll_seconds=0.2,
        ),
    )


@contextlib.asynccontextmanager
async def running(settings: EventsSettings) -> AsyncIterator[Service]:
    service = events.build(settings)
    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 60)
        yield service


async def registry_world(bootstrap: str, world: World) -> None:
    now = datetime.now(UTC)
    organizations = [
        (world.a, "СОШ № 1 «Исток»", "school", "a-official@school.example.org"),
        (world.b, "Гимназия № 2", "school", "b-official@school.example.org"),
        (world.c, "СОШ № 3 <Малая>", "school", "c-official@school.example.org"),
        (world.k, "Методический кабинет", "methodological_service", "k-office@school.example.org"),
    ]
    await publish(
        bootstrap,
        "/setka/registry",
        *(
            OrganizationRegistered(
                organization_id=ident,
                full_name=name,
                short_name=name,
                kind=kind,
                region_code=REGION,
                municipality_id=world.municipality,
                registered_at=now,
                email=address,
            )
            for ident, name, kind, address in organizations
        ),
    )
    await publish(
        bootstrap,
        "/setka/registry",
        NetworkCreated(
            network_id=world.network,
            name="Сеть «Школы роста»",
            level="municipal",
            region_code=REGION,
            municipality_id=world.municipality,
            governing_body_id=world.k,
            coordinator_id=world.k,
            started_on=date(2024, 1, 1),
        ),
        *(
            MemberJoined(
                network_id=world.network,
                membership_id=uuid.uuid4(),
                organization_id=org,
                role=role,
                joined_on=date(2024, 1, 1),
            )
            for org, role in ((world.a, "centre"), (world.b, "partner"), (world.c, "supported"))
        ),
    )


async def test_a_day_of_changes_reaches_each_person_once_as_they_asked(
    broker: Any, databases: Any, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    world = World()
    settings = settings_for(databases.create("events", migrate="events"), broker.bootstrap, port)
    anna = world.person("anna", world.a, "anna@school.example.org")
    boris = world.person("boris", world.b, "boris@school.example.org")
    clara = world.person("clara", world.c, "clara@school.example.org")
    today = datetime.now(ZoneInfo(ZONE)).date()
    start = (datetime.now(UTC) + timedelta(days=7)).replace(hour=9, minute=0, second=0, microsecond=0)

    async with running(settings) as service:
        await registry_world(broker.bootstrap, world)

        async def members_known() -> bool:
            async with service.db.session() as session:
                return await session.scalar(select(func.count()).select_from(KnownMembership)) == 3

        await eventually(members_known)
        # the three people open their workspace: their addresses are learned from their tokens
        for person in (anna, boris, clara):
            await ask(service, person, LIST, unread=False)
        assert (await write(service, boris, PREFERENCES, i={"emailEnabled": True, "digest": True}))["digest"]
        assert not (await write(service, clara, PREFERENCES, i={"emailEnabled": False, "digest": False}))[
            "emailEnabled"
        ]

        plan = (await write(service, world.admin, DRAFT, n=str(world.network), y=today.year))["id"]
        await write(
            service,
            world.admin,
            ADD_ITEM,
            i={
                "planId": plan,
                "title": "Подписать договоры о сетевой форме",
                "dueOn": today.isoformat(),
                "kind": "task",
                "responsibleOrganizationId": str(world.a),
            },
        )
        await write(service, world.admin, AGREE, p=plan)
        activity = (
            await write(
                service,
                anna,
                PLAN_ACTIVITY,
                i={
                    "title": "Семинар «Функциональная грамотность»",
                    "activityType": "seminar",
                    "format": "in_person",
                    "hostOrganizationId": str(world.a),
                    "networkId": str(world.network),
                    "startsAt": start.isoformat(),
                    "endsAt": (start + timedelta(hours=2)).isoformat(),
                },
            )
        )["id"]
        await write(service, anna, ANNOUNCE, a=activity)
        await eventually(box.holds(anna.email or "", 2))

    # the events service is down (and its notifier with it) while analytics raises an alert
    await publish(
        broker.bootstrap,
        "/setka/analytics",
        AlertRaised(
            alert_id=uuid.uuid4(),
            rule="no_network_activity",
            subject_id=world.c,
            organization_id=world.c,
            network_id=world.network,
            raised_at=datetime.now(UTC),
            since_on=today - timedelta(days=60),
            threshold_days=45,
        ),
    )

    async with running(settings) as service:
        await write(service, anna, REGISTER, a=activity, o=str(world.a))
        later = start + timedelta(days=7)
        await write(
            service,
            anna,
            POSTPONE,
            a=activity,
            s=later.isoformat(),
            e=(later + timedelta(hours=2)).isoformat(),
        )
        await write(service, anna, CANCEL, a=activity)
        await publish(
            broker.bootstrap,
            "/setka/registry",
            ResourceRequestAccepted(
                request_id=uuid.uuid4(),
                version=2,
                resource_id=uuid.uuid4(),
                owner_id=world.a,
                requester_id=world.b,
                network_id=world.network,
                starts_on=today + timedelta(days=3),
                ends_on=today + timedelta(days=4),
                accepted_at=datetime.now(UTC),
            ),
        )
        # Anna: the plan agreed, the activity announced, her registration, postponed, cancelled,
        # and her school's plan item due today
        await eventually(box.holds(anna.email or "", 6))
        await eventually(box.holds("k-office@school.example.org", 1))

        async def boris_told() -> bool:
            data = await ask(service, boris, LIST, unread=False)
            return len(data["myNotifications"]["edges"]) >= 5

        await eventually(boris_told)
        # the digest hour comes: Boris gets one e-mail with his day
        schedule = service.context["notification_schedule"]
        assert await schedule.digests(schedule.next_digest_after(datetime.now(UTC))) == 1
        assert await schedule.digests(schedule.next_digest_after(datetime.now(UTC))) == 0
        await eventually(box.holds(boris.email or "", 1))

        async def all_sent() -> bool:
            async with service.db.session() as session:
                statuses = (await session.scalars(select(EmailMessage.status))).all()
            return bool(statuses) and set(statuses) == {"sent"}

        await eventually(all_sent)

        # -- the e-mails: each once, to the right people, in Russian ---------------------------
        ids = [message["Message-ID"] for _, message in box.messages]
        assert len(ids) == len(set(ids)), "an e-mail arrived twice"
        addresses = sorted({to for to, _ in box.messages})
        assert addresses == sorted([anna.email or "", boris.email or "", "k-office@school.example.org"]), (
            "someone not concerned, or someone who turned e-mail off, got an e-mail"
        )
        for_anna = box.to(anna.email or "")
        assert len(for_anna) == 6
        subjects = sorted(str(message["Subject"]) for message in for_anna)
        assert subjects == sorted(
            [
                "Сетка: План согласован: План сети на год",
                "Сетка: Объявлено мероприятие: Семинар «Функциональная грамотность»",
                "Сетка: Регистрация подтверждена: Семинар «Функциональная грамотность»",
                "Сетка: Изменено мероприятие: Семинар «Функциональная грамотность»",
                "Сетка: Отменено мероприятие: Семинар «Функциональная грамотность»",
                "Сетка: Срок пункта плана: Подписать договоры о сетевой форме",
            ]
        )
        cancelled = next(m for m in for_anna if "Отменено" in str(m["Subject"]))
        assert "карантин в школе" in text_of(cancelled)
        assert "Сеть «Школы роста»" in text_of(cancelled)
        assert f"{WORKSPACE}/activities/{activity}" in text_of(cancelled)
        assert f'href="{WORKSPACE}/activities/{activity}"' in html_of(cancelled)

        (alert,) = box.to("k-office@school.example.org")
        assert "СОШ № 3 <Малая>" in text_of(alert)
        assert "давно не участвовала в мероприятиях сети" in text_of(alert)
        assert "СОШ № 3 &lt;Малая&gt;" in html_of(alert), "a name is escaped in HTML"

        (digest,) = box.to(boris.email or "")
        assert str(digest["Subject"]).startswith("Сетка: уведомления за ")
        body = text_of(digest)
        for said in (
            "План согласован",
            "Объявлено мероприятие",
            "Изменено мероприятие",
            "Отменено мероприятие",
        ):
            assert said in body
        assert "Запрос ресурса принят" in body
        assert "Сигнал" not in body, "an alert about C is not B's"

        # -- the list in the API ----------------------------------------------------------------
        mine = (await ask(service, clara, LIST, unread=False))["myNotifications"]
        kinds = sorted(edge["node"]["kind"] for edge in mine["edges"])
        assert kinds == sorted(
            ["plan_agreed", "activity_announced", "activity_changed", "activity_cancelled", "alert_raised"]
        )
        assert mine["unreadCount"] == 5
        first = mine["edges"][0]["node"]["id"]
        marked = await write(service, clara, MARK, ids=[first])
        assert (marked["marked"], marked["unreadCount"]) == (1, 4)
        unread = (await ask(service, clara, LIST, unread=True))["myNotifications"]
        assert first not in {edge["node"]["id"] for edge in unread["edges"]}
        # Anna's registration is hers alone, not her school's
        annas = (await ask(service, anna, LIST, unread=False))["myNotifications"]["edges"]
        personal = [e["node"] for e in annas if not e["node"]["forOrganization"]]
        assert [n["kind"] for n in personal] == ["registration_confirmed"]
        # someone else cannot mark Clara's notifications, nor see them
        assert (await write(service, boris, MARK, ids=[first]))["marked"] == 0
