"""The notifier's part of the events subgraph: a person's list, marking read, preferences, and
erasing their own notification data.

Every field is the signed-in person's own (any role; the token's subject and organization), so
none has a scope beyond the caller; they are not audited (they change only the caller's settings
and data).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from setka_runtime.access import AccessDenied, Identity, Role
from setka_runtime.errors import DomainError
from setka_runtime.graphql import PageInfo, ValidationError, identity, transaction
from strawberry.types import Info

from . import people
from .messages import KIND_TITLES, Kind
from .models import Notification as NotificationRow
from .models import NotificationPreference
from .settings import NotificationSettings

SIGNED_IN = [[role.value] for role in Role]
"""``@requiresScopes``: any role (a token with no role of Setka is refused)."""


def _caller(info: Info) -> Identity:
    caller = identity(info)
    if not caller.authenticated:
        raise AccessDenied("Войдите, чтобы видеть свои уведомления", code="UNAUTHENTICATED")
    return caller


def _settings(info: Info) -> NotificationSettings:
    return info.context.get("notification_settings") or NotificationSettings()


@strawberry.type(description="One thing a person or their organization was told")
class Notification:
    id: strawberry.ID
    kind: str = strawberry.field(description="plan_agreed, activity_announced, alert_raised, …")
    title: str
    text: str
    link: str | None = strawberry.field(description="Its page in the workspace")
    created_at: datetime
    read: bool = strawberry.field(description="Whether the caller has marked it read")
    for_organization: bool = strawberry.field(description="Said to the caller's organization, not to them")

    @classmethod
    def of(cls, row: NotificationRow, read: bool) -> Notification:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            title=row.title,
            text=row.text,
            link=row.link,
            created_at=row.created_at,
            read=read,
            for_organization=row.recipient_kind == "organization",
        )


@strawberry.type
class NotificationEdge:
    cursor: str
    node: Notification


@strawberry.type
class NotificationConnection:
    edges: list[NotificationEdge]
    page_info: PageInfo
    unread_count: int = strawberry.field(description="The caller's unread notifications, all pages")


@strawberry.type
class NotificationKindSetting:
    kind: str
    title: str = strawberry.field(description="The kind, in Russian")
    enabled: bool


@strawberry.type(description="A person's notification settings")
class NotificationPreferences:
    email: str | None = strawberry.field(description="The address known from their sign-in, if any")
    email_available: bool = strawberry.field(description="Whether this installation sends e-mail at all")
    email_enabled: bool
    digest: bool = strawberry.field(description="One e-mail a day instead of one per notification")
    digest_hour: int
    kinds: list[NotificationKindSetting]

    @classmethod
    def of(
        cls, row: NotificationPreference | None, settings: NotificationSettings
    ) -> NotificationPreferences:
        muted = set(row.muted_kinds or []) if row else set()
        return cls(
            email=row.email if row else None,
            email_available=settings.email_on,
            email_enabled=row.email_enabled if row else True,
            digest=row.digest if row else False,
            digest_hour=settings.digest_hour,
            kinds=[
                NotificationKindSetting(kind=k.value, title=KIND_TITLES[k], enabled=k.value not in muted)
                for k in Kind
            ],
        )


@strawberry.type
class NotificationsMarked:
    marked: int = strawberry.field(description="How many were marked read now")
    unread_count: int


MarkResult = Annotated[NotificationsMarked | ValidationError, strawberry.union("MarkNotificationsReadResult")]
PreferencesResult = Annotated[
    NotificationPreferences | ValidationError, strawberry.union("NotificationPreferencesResult")
]


@strawberry.input
class NotificationPreferencesInput:
    email_enabled: bool
    digest: bool
    muted_kinds: list[str] = strawberry.field(default_factory=list, description="Kinds turned off")


@strawberry.type
class NotificationQuery:
    @strawberry.federation.field(
        description="The caller's notifications (theirs and their organization's), newest first",
        requires_scopes=SIGNED_IN,
    )
    async def my_notifications(
        self, info: Info, first: int = 20, after: str | None = None, unread_only: bool = False
    ) -> NotificationConnection:
        caller = _caller(info)
        async with transaction(info) as session:
            preference = await people.remember(session, caller)
            found = await people.page(
                session, caller, preference, first=first, after=after, unread_only=unread_only
            )
        edges = [
            NotificationEdge(cursor=people.encode_cursor(row), node=Notification.of(row, read))
            for row, read in found.rows
        ]
        return NotificationConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=found.more, end_cursor=edges[-1].cursor if edges else None),
            unread_count=found.unread,
        )

    @strawberry.federation.field(description="The caller's notification settings", requires_scopes=SIGNED_IN)
    async def my_notification_preferences(self, info: Info) -> NotificationPreferences:
        caller = _caller(info)
        async with transaction(info) as session:
            preference = await people.remember(session, caller)
            return NotificationPreferences.of(preference, _settings(info))


@strawberry.type
class NotificationMutation:
    @strawberry.federation.mutation(
        description="Mark the caller's notifications read: those of ids, or all of them",
        requires_scopes=SIGNED_IN,
    )
    async def mark_notifications_read(
        self, info: Info, ids: list[strawberry.ID] | None = None, all: bool = False
    ) -> MarkResult:
        caller = _caller(info)
        try:
            if ids is None and not all:
                raise DomainError("Укажите уведомления или «все»", code="NOTHING_TO_MARK", field="ids")
            chosen: list[uuid.UUID] | None = None
            if not all:
                chosen = []
                for ident in ids or []:
                    try:
                        chosen.append(uuid.UUID(str(ident)))
                    except ValueError:
                        raise DomainError(
                            f"{ident} — не идентификатор уведомления", code="INVALID_ID", field="ids"
                        ) from None
            async with transaction(info) as session:
                preference = await people.remember(session, caller)
                marked = await people.mark_read(session, caller, chosen)
                found = await people.page(session, caller, preference, first=1, after=None, unread_only=True)
        except DomainError as error:
            return ValidationError.of(error)
        return NotificationsMarked(marked=marked, unread_count=found.unread)

    @strawberry.federation.mutation(
        description="Set which notifications the caller gets by e-mail, and how", requires_scopes=SIGNED_IN
    )
    async def set_notification_preferences(
        self, info: Info, input: NotificationPreferencesInput
    ) -> PreferencesResult:
        caller = _caller(info)
        try:
            async with transaction(info) as session:
                preference = await people.set_preferences(
                    session,
                    caller,
                    email_enabled=input.email_enabled,
                    digest=input.digest,
                    muted_kinds=list(input.muted_kinds),
                )
                return NotificationPreferences.of(preference, _settings(info))
        except DomainError as error:
            return ValidationError.of(error)

    @strawberry.federation.mutation(
        description="Erase the caller's own notification data: their e-mail address, preferences, read "
        "marks, personal notifications and e-mails (confirm: true). E-mail stays off, and the address is "
        "not learned again, until they turn it on; their organization's notifications stay",
        requires_scopes=SIGNED_IN,
    )
    async def forget_my_notification_data(self, info: Info, confirm: bool) -> PreferencesResult:
        caller = _caller(info)
        try:
            if not confirm:
                raise DomainError(
                    "Подтвердите удаление своих данных уведомлений",
                    code="CONFIRMATION_REQUIRED",
                    field="confirm",
                )
            async with transaction(info) as session:
                preference = await people.forget_on_request(session, caller)
                return NotificationPreferences.of(preference, _settings(info))
        except DomainError as error:
            return ValidationError.of(error)
