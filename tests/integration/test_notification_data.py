"""A person's own notification data, on PostgreSQL: they erase it themselves and nothing of the
events database holds their address any more (their next visit does not learn it again until they
turn e-mail on); and the retention deletes notifications older than ``NOTIFY_RETENTION_DAYS``."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from setka_runtime.access import Identity, Role
from setka_runtime.db import Database
from sqlalchemy import select

from services.events.notifications import delivery, messages
from services.events.notifications.models import EmailMessage, Notification
from services.events.notifications.rules import Rules
from services.events.notifications.schedule import Schedule
from services.events.notifications.settings import NotificationSettings
from services.events.schema import schema
from tests.helpers import eventually
from tests.integration.test_erasure import texts_holding

pytestmark = pytest.mark.integration

ADDRESS = "zabyvaylova.e@school39.example.org"
SCHOOL = uuid.UUID("1b0c5e9a-6f3d-4c2e-8a71-0d9e3f4b5a61")
PERSON = Identity(
    "person-forget-1",
    frozenset({Role.school_representative}),
    "39",
    organization_id=str(SCHOOL),
    email=ADDRESS,
)
SMTP = NotificationSettings(smtp_host="smtp.invalid", check_seconds=0.1, retention_days=365)

PREFERENCES = "{ myNotificationPreferences { email emailEnabled } }"
LIST = "{ myNotifications(first: 50) { edges { node { title forOrganization read } } unreadCount } }"
MARK_ALL = "mutation { markNotificationsRead(all: true) { __typename } }"
FORGET = """mutation($c: Boolean!) { forgetMyNotificationData(confirm: $c) {
  __typename ... on NotificationPreferences { email emailEnabled }
  ... on ValidationError { field code message } } }"""
EMAIL_ON = """mutation { setNotificationPreferences(
  input: {emailEnabled: true, digest: false, mutedKinds: []}) {
  __typename ... on NotificationPreferences { email emailEnabled } } }"""


@pytest.fixture
async def db(service_databases: dict[str, str]) -> AsyncIterator[Database]:
    database = Database(service_databases["events"])
    try:
        yield database
    finally:
        await database.dispose()


async def ask(db: Database, query: str, **variables: Any) -> dict[str, Any]:
    context = {"db": db, "identity": PERSON, "service_name": "events", "notification_settings": SMTP}
    result = await schema.execute(query, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


async def tell(db: Database, source: str, title: str, *, at: datetime | None = None) -> None:
    """One notification to the person and one to their school, e-mailed (the person has e-mail on)."""
    message = messages.Message(messages.Kind.plan_agreed, title, "Текст", "/plans")
    recipients = [delivery.Recipient.person(PERSON.subject or ""), delivery.Recipient.organization(SCHOOL)]
    async with db.session() as session, session.begin():
        await delivery.notify(session, SMTP, source=source, message=message, recipients=recipients, at=at)


async def test_a_person_erases_their_own_notification_data(db: Database) -> None:
    assert (await ask(db, PREFERENCES))["myNotificationPreferences"]["email"] == ADDRESS
    await tell(db, "test|plan-1", "План согласован")
    await ask(db, MARK_ALL)
    assert await texts_holding(db, ADDRESS) == ["email_message.address", "notification_preference.email"]

    refused = (await ask(db, FORGET, c=False))["forgetMyNotificationData"]
    assert (refused["__typename"], refused["code"]) == ("ValidationError", "CONFIRMATION_REQUIRED")
    assert await texts_holding(db, ADDRESS) != [], "refused: nothing erased"

    done = (await ask(db, FORGET, c=True))["forgetMyNotificationData"]
    assert done == {"__typename": "NotificationPreferences", "email": None, "emailEnabled": False}
    assert await texts_holding(db, ADDRESS) == [], "no table, no column of the events database"
    async with db.session() as session:
        emails = (await session.scalars(select(EmailMessage.recipient))).all()
    assert all(not r.startswith("person:") for r in emails), emails

    # the next visit shows their school's notification, unread again for them, and learns nothing
    listed = (await ask(db, LIST))["myNotifications"]
    assert [(e["node"]["forOrganization"], e["node"]["read"]) for e in listed["edges"]] == [(True, False)]
    assert (await ask(db, PREFERENCES))["myNotificationPreferences"] == {"email": None, "emailEnabled": False}
    assert await texts_holding(db, ADDRESS) == []

    # turning e-mail on again takes the address from their sign-in once more
    again = (await ask(db, EMAIL_ON))["setNotificationPreferences"]
    assert (again["email"], again["emailEnabled"]) == (ADDRESS, True)


async def test_notifications_older_than_the_retention_are_deleted(db: Database) -> None:
    await ask(db, PREFERENCES)
    now = datetime.now(UTC)
    await tell(db, "test|old", "Давнее", at=now - timedelta(days=400))
    await tell(db, "test|recent", "Недавнее", at=now - timedelta(days=30))
    await ask(db, MARK_ALL)
    async with db.session() as session, session.begin():
        for row in (await session.scalars(select(EmailMessage))).all():
            row.status = "sent"

    schedule = Schedule(db, SMTP, Rules(SMTP))
    running = asyncio.create_task(schedule.run())

    async def kept() -> list[str] | None:
        async with db.session() as session:
            titles = sorted(set((await session.scalars(select(Notification.title))).all()))
            sources = sorted(set((await session.scalars(select(EmailMessage.source))).all()))
        return titles if titles == ["Недавнее"] and sources == ["test|recent"] else None

    try:
        assert await eventually(kept, timeout=30) == ["Недавнее"]
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    listed = (await ask(db, LIST))["myNotifications"]
    assert {e["node"]["title"] for e in listed["edges"]} == {"Недавнее"}
    assert NotificationSettings().retention_days == 365, "a year unless set"
