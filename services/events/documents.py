"""Documents of the events service: an activity's materials (presentations, programmes, the sign-in
sheet as scanned) and a meeting's minutes (протокол, signed and scanned); the rules of files and
their storage are :mod:`setka_runtime.documents`.

Who sees them: whoever sees the activity (announced and later: everyone; planned: those who may
act on it). Who attaches them: those who may change the activity (its host's people, the editors
of its municipality and region).

**A new kind of owner** (a meeting's minutes, say) is one entry of :data:`OWNERS` (how it is found,
its write scope, who sees it) and a ``documents`` field on its GraphQL type that calls
``documents_field(info, "<kind>", self.id)``; the mutation's enum, the download route and the
event follow from the entry.
"""

from __future__ import annotations

import uuid

from setka_contracts.events import EventsDocumentAttached
from setka_runtime.access import Identity
from setka_runtime.documents import Attachments, OwnerKind, store_from_settings
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from . import scopes
from .models import Activity, Document, Meeting
from .settings import EventsSettings


async def _activity_exists(session: AsyncSession, ident: uuid.UUID) -> bool:
    return await session.get(Activity, ident) is not None


async def _activity_visible(session: AsyncSession, caller: Identity, ident: uuid.UUID) -> bool:
    query = select(Activity.id).where(Activity.id == ident)
    shown = scopes.visible_activities(caller)
    if shown is not None:
        query = query.where(shown)
    return await session.scalar(query) is not None


async def _meeting_exists(session: AsyncSession, ident: uuid.UUID) -> bool:
    return await session.get(Meeting, ident) is not None


async def _meeting_visible(session: AsyncSession, caller: Identity, ident: uuid.UUID) -> bool:
    query = select(Meeting.id).where(Meeting.id == ident, scopes.visible_meetings(caller))
    return await session.scalar(query) is not None


OWNERS: dict[str, OwnerKind] = {
    "activity": OwnerKind(
        exists=_activity_exists,
        scope=lambda session, ident: scopes.activity(ident)(session),
        visible=_activity_visible,
        missing="Такого мероприятия нет",
    ),
    "meeting": OwnerKind(
        exists=_meeting_exists,
        scope=lambda session, ident: scopes.meeting(ident)(session),
        visible=_meeting_visible,
        missing="Такого заседания нет",
    ),
}


def attachments(settings: EventsSettings) -> Attachments:
    return Attachments(
        service=settings.service_name,
        model=Document,
        owners=OWNERS,
        store=store_from_settings(settings),
        event=EventsDocumentAttached,
        max_bytes=settings.documents_max_bytes,
    )
