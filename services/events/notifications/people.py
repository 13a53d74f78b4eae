"""A person's side: their address and preferences, their list of notifications, marking read.

A person is known by the token's subject. Their address comes from the identity provider's
``email`` claim, learned when they call these operations, and is kept only here, with their
preferences (issue 18's erasure of a person deletes their row and their read marks). A person may
erase their own notification data (:func:`forget_on_request`); their address is then not learned
again until they turn e-mail on.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from setka_runtime.access import Identity
from setka_runtime.errors import DomainError
from setka_runtime.moments import aware
from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .delivery import ORGANIZATION, PERSON
from .messages import Kind
from .models import EmailMessage, Notification, NotificationPreference, NotificationRead

MAX_PAGE = 100


async def remember(session: AsyncSession, caller: Identity) -> NotificationPreference | None:
    """The caller's preferences, creating them (with the defaults) when their token carries an
    address; the address and organization follow the token."""
    assert caller.subject is not None
    preference = await session.get(NotificationPreference, caller.subject)
    organization = uuid.UUID(caller.organization_id) if caller.organization_id else None
    if preference is None:
        if not caller.email:
            return None
        preference = NotificationPreference(
            subject=caller.subject, email=caller.email, organization_id=organization
        )
        session.add(preference)
        await session.flush()
        return preference
    if preference.email is None and not preference.email_enabled:
        return preference  # e-mail off and no address (their data erased on request): none learned
    if caller.email and (preference.email != caller.email or preference.organization_id != organization):
        preference.email = caller.email
        preference.organization_id = organization
        preference.updated_at = datetime.now(UTC)
    return preference


async def set_preferences(
    session: AsyncSession, caller: Identity, *, email_enabled: bool, digest: bool, muted_kinds: list[str]
) -> NotificationPreference:
    unknown = sorted(set(muted_kinds) - {k.value for k in Kind})
    if unknown:
        raise DomainError(
            f"Неизвестные виды уведомлений: {', '.join(unknown)}",
            code="UNKNOWN_NOTIFICATION_KIND",
            field="mutedKinds",
        )
    assert caller.subject is not None
    preference = await remember(session, caller)
    if preference is None:
        preference = NotificationPreference(
            subject=caller.subject,
            organization_id=uuid.UUID(caller.organization_id) if caller.organization_id else None,
        )
        session.add(preference)
    preference.email_enabled = email_enabled
    if email_enabled and preference.email is None and caller.email:
        preference.email = caller.email  # turned on again after their data was erased
    preference.digest = digest
    preference.muted_kinds = sorted(set(muted_kinds))
    preference.updated_at = datetime.now(UTC)
    await session.flush()
    return preference


def _mine(caller: Identity) -> object:
    assert caller.subject is not None
    mine = [and_(Notification.recipient_kind == PERSON, Notification.recipient == caller.subject)]
    if caller.organization_id:
        mine.append(
            and_(
                Notification.recipient_kind == ORGANIZATION, Notification.recipient == caller.organization_id
            )
        )
    return or_(*mine)


def _read(caller: Identity) -> object:
    return exists().where(
        NotificationRead.notification_id == Notification.id, NotificationRead.subject == caller.subject
    )


@dataclass
class Page:
    rows: list[tuple[Notification, bool]]
    more: bool
    unread: int


def encode_cursor(row: Notification) -> str:
    return base64.urlsafe_b64encode(f"{aware(row.created_at).isoformat()}|{row.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        moment, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return aware(datetime.fromisoformat(moment)), uuid.UUID(ident)
    except ValueError as exc:
        raise DomainError(
            "Неверный курсор: начните с первой страницы", code="INVALID_CURSOR", field="after"
        ) from exc


async def page(
    session: AsyncSession,
    caller: Identity,
    preference: NotificationPreference | None,
    *,
    first: int,
    after: str | None,
    unread_only: bool,
) -> Page:
    """The caller's notifications, newest first (theirs and their organization's, less the kinds
    they turned off)."""
    if not 1 <= first <= MAX_PAGE:
        raise DomainError(f"first — от 1 до {MAX_PAGE}", code="PAGE_SIZE", field="first")
    where = [_mine(caller)]
    if preference is not None and preference.muted_kinds:
        where.append(Notification.kind.not_in(preference.muted_kinds))  # type: ignore[attr-defined]
    read = _read(caller)
    unread = await session.scalar(select(func.count()).select_from(Notification).where(*where, ~read))  # type: ignore[operator]
    if unread_only:
        where.append(~read)  # type: ignore[operator]
    if after:
        moment, ident = decode_cursor(after)
        where.append(
            or_(
                Notification.created_at < moment,
                and_(Notification.created_at == moment, Notification.id < ident),  # type: ignore[arg-type]
            )
        )
    rows = (
        await session.execute(
            select(Notification, read.label("read"))
            .where(*where)
            .order_by(Notification.created_at.desc(), Notification.id.desc())  # type: ignore[attr-defined]
            .limit(first + 1)
        )
    ).all()
    return Page(
        rows=[(row[0], bool(row[1])) for row in rows[:first]], more=len(rows) > first, unread=unread or 0
    )


async def mark_read(session: AsyncSession, caller: Identity, ids: list[uuid.UUID] | None) -> int:
    """Mark the caller's notifications read: those of ``ids``, or all when None; return how many
    were marked now (another's notification or an unknown id is not marked)."""
    query = select(Notification.id).where(_mine(caller), ~_read(caller))  # type: ignore[operator]
    if ids is not None:
        query = query.where(Notification.id.in_(ids))  # type: ignore[attr-defined]
    found = list((await session.scalars(query)).all())
    now = datetime.now(UTC)
    for ident in found:
        session.add(NotificationRead(notification_id=ident, subject=caller.subject or "", read_at=now))
    await session.flush()
    return len(found)


async def forget(session: AsyncSession, subject: str) -> None:
    """Erase a person here: their address and preferences, their read marks, what was said to them."""
    await session.execute(delete(NotificationRead).where(NotificationRead.subject == subject))
    await session.execute(delete(NotificationPreference).where(NotificationPreference.subject == subject))
    personal = select(Notification.id).where(
        Notification.recipient_kind == PERSON, Notification.recipient == subject
    )
    await session.execute(delete(NotificationRead).where(NotificationRead.notification_id.in_(personal)))  # type: ignore[attr-defined]
    await session.execute(
        delete(Notification).where(Notification.recipient_kind == PERSON, Notification.recipient == subject)
    )
    await session.execute(delete(EmailMessage).where(EmailMessage.recipient == f"{PERSON}:{subject}"))


async def forget_on_request(session: AsyncSession, caller: Identity) -> NotificationPreference:
    """The person's own request to erase their notification data: :func:`forget`, then a row that
    keeps e-mail off and no address, so that their next visit does not learn it again from the
    token (until they turn e-mail on). Their organization's notifications stay its own."""
    assert caller.subject is not None
    await forget(session, caller.subject)
    preference = NotificationPreference(
        subject=caller.subject,
        organization_id=uuid.UUID(caller.organization_id) if caller.organization_id else None,
        email=None,
        email_enabled=False,
    )
    session.add(preference)
    await session.flush()
    return preference
