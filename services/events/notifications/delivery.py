"""Fan-out: a notification for each recipient, and an e-mail for each person who wants it at once.

Every id is derived from the source and the recipient (:func:`derived_id`), and rows are inserted
ignoring conflicts, so an event handled twice (a redelivery after a restart) adds nothing. An
organization's notification goes by e-mail to its people who have an address here, each by their
own preferences; to the organization's official address only while none of its people has one.
A person on the daily digest gets nothing now: :mod:`.schedule` gathers their day.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from setka_runtime.sql import insert_ignoring_conflicts
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import KnownOrganization
from . import messages
from .models import EmailMessage, Notification, NotificationPreference
from .settings import NotificationSettings

NAMESPACE = uuid.UUID("6f0c2a8e-3c1b-5d4e-9a7f-2b8c1d0e4f51")
PERSON, ORGANIZATION = "person", "organization"


def derived_id(*parts: object) -> uuid.UUID:
    """The same id for the same parts, in every process and after every restart."""
    return uuid.uuid5(NAMESPACE, "|".join(str(part) for part in parts))


@dataclass(frozen=True)
class Recipient:
    kind: str
    """person or organization"""
    ident: str
    """The person's subject, or the organization's id"""

    @classmethod
    def organization(cls, ident: uuid.UUID | str) -> Recipient:
        return cls(ORGANIZATION, str(ident))

    @classmethod
    def person(cls, subject: str) -> Recipient:
        return cls(PERSON, subject)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ident}"


async def notify(
    session: AsyncSession,
    settings: NotificationSettings,
    *,
    source: str,
    message: messages.Message,
    recipients: Iterable[Recipient],
    at: datetime | None = None,
) -> int:
    """Record ``message`` for each recipient (once per source and recipient); return how many new."""
    unique = list(dict.fromkeys(recipients))
    if not unique:
        return 0
    moment = at or datetime.now(UTC)
    url = messages.link(settings.workspace_url, message.path)
    rows = [
        {
            "id": derived_id(source, recipient.key, "list"),
            "recipient_kind": recipient.kind,
            "recipient": recipient.ident,
            "kind": message.kind.value,
            "title": message.title[:500],
            "text": message.text[:4000],
            "link": url[:1000],
            "source": source[:300],
            "created_at": moment,
        }
        for recipient in unique
    ]
    table = Notification.__table__  # type: ignore[attr-defined]
    inserted = await session.execute(
        insert_ignoring_conflicts(session, table).returning(table.c.recipient_kind, table.c.recipient),
        rows,
    )
    new = {Recipient(row.recipient_kind, row.recipient) for row in inserted}
    if settings.email_on and new:
        await _emails(session, settings, source, message, url, [r for r in unique if r in new], moment)
    return len(new)


async def _emails(
    session: AsyncSession,
    settings: NotificationSettings,
    source: str,
    message: messages.Message,
    url: str,
    recipients: Sequence[Recipient],
    moment: datetime,
) -> None:
    people = [r.ident for r in recipients if r.kind == PERSON]
    organizations = [uuid.UUID(r.ident) for r in recipients if r.kind == ORGANIZATION]
    preferences = list(
        (
            await session.scalars(
                select(NotificationPreference).where(
                    (NotificationPreference.subject.in_(people))  # type: ignore[attr-defined]
                    | (
                        NotificationPreference.organization_id.in_(organizations)  # type: ignore[union-attr]
                        & NotificationPreference.email.is_not(None)  # type: ignore[union-attr]
                    )
                )
            )
        ).all()
    )
    addresses: dict[str, str] = {}
    """recipient key of the e-mail → address"""
    staffed: set[uuid.UUID] = set()
    for preference in preferences:
        if preference.organization_id is not None and preference.email:
            staffed.add(preference.organization_id)
        if wants_now(preference, message.kind):
            addresses[f"{PERSON}:{preference.subject}"] = preference.email or ""
    unstaffed = [o for o in organizations if o not in staffed]
    if unstaffed:
        official = await session.execute(
            select(KnownOrganization.id, KnownOrganization.email).where(
                KnownOrganization.id.in_(unstaffed),  # type: ignore[attr-defined]
                KnownOrganization.email.is_not(None),  # type: ignore[union-attr]
            )
        )
        for ident, address in official.all():
            addresses[f"{ORGANIZATION}:{ident}"] = address
    if not addresses:
        return
    email = messages.single(message.title, message.text, url, settings.workspace_url)
    await queue(
        session,
        [
            {
                "id": derived_id(source, key, "email"),
                "recipient": key,
                "source": source[:300],
                "address": address,
                "subject_line": email.subject[:500],
                "text": email.text,
                "html": email.html,
                "created_at": moment,
                "not_before": moment,
            }
            for key, address in addresses.items()
            if address
        ],
    )


def wants_now(preference: NotificationPreference, kind: messages.Kind) -> bool:
    """An e-mail of this kind now: an address, e-mail on, the kind not turned off, no digest."""
    return bool(
        preference.email
        and preference.email_enabled
        and not preference.digest
        and kind.value not in (preference.muted_kinds or [])
    )


async def queue(session: AsyncSession, rows: list[dict[str, object]]) -> None:
    """E-mails to send: each once (its id and its (recipient, source) are unique)."""
    if rows:
        table = EmailMessage.__table__  # type: ignore[attr-defined]
        await session.execute(insert_ignoring_conflicts(session, table), rows)
