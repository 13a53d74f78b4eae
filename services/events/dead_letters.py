"""What this service's consumers gave up on, noted as they give up and counted for regional admins.

Every consumer of the service calls :func:`noter`'s hook when it has dead-lettered a message (see
:attr:`setka_runtime.consumer.GuardedConsumer.on_dead_letter`): a row with the topic, the reason
and its kind, the event's ``ce_*`` attributes and the region of the organization the message
names, when the local copy of the registry knows it. The body is looked into for that, never
kept. :func:`summary` counts the rows of a region (or of no known region) by topic and reason
kind, so a regional admin sees what their systems send that is refused without reading Kafka.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from setka_runtime.consumer import DeadLettered, DeadLetterHook
from setka_runtime.db import Database
from setka_runtime.moments import utc
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from .models import DeadLetter, KnownOrganization

REFERENCES = ("organization", "host")
"""The fields of inbound facts that name an organization (see ``setka_contracts.regional``),
the one a fact is about first."""
LATEST = 10
"""How many of the latest reasons a summary shows."""
SOURCES = 50


def noter(db: Database) -> DeadLetterHook:
    """The hook a consumer calls with each message it dead-lettered."""

    async def note(letter: DeadLettered) -> None:
        async with db.session() as session, session.begin():
            await record(session, letter)

    return note


async def record(session: AsyncSession, letter: DeadLettered) -> None:
    session.add(
        DeadLetter(
            topic=letter.topic[:200],
            reason=letter.reason[:2000],
            reason_kind=letter.kind[:120],
            ce_source=_header(letter.headers, "ce_source"),
            ce_type=_header(letter.headers, "ce_type"),
            ce_id=_header(letter.headers, "ce_id"),
            region_code=await region_of(session, letter.value),
            at=letter.at,
        )
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value[:200] if value else None


async def region_of(session: AsyncSession, body: bytes) -> str | None:
    """The region of the organization a message names (by our id, ИНН, ОГРН or school code), if its body is a
    JSON object naming one the registry's copy knows; None otherwise (a poison message)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    for name in REFERENCES:
        ref = data.get(name)
        if not isinstance(ref, dict):
            continue
        query = None
        ident = ref.get("id")
        if isinstance(ident, str):
            try:
                query = select(KnownOrganization.region_code).where(KnownOrganization.id == uuid.UUID(ident))
            except ValueError:
                query = None
        for column, limit in (("inn", 10), ("ogrn", 13), ("school_code", 40)):
            value = ref.get(column)
            if query is None and isinstance(value, str) and value.strip():
                query = select(KnownOrganization.region_code).where(
                    getattr(KnownOrganization, column) == value.strip()[:limit]
                )
        if query is not None:
            found = await session.scalar(query.limit(1))
            if found:
                return str(found)
    return None


@dataclass(frozen=True)
class ReasonCount:
    topic: str
    reason_kind: str
    count: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class Summary:
    """The dead letters of one region (``region_code``; None: of no known region) since a moment."""

    region_code: str | None
    since: datetime | None
    counts: list[ReasonCount] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    latest: list[DeadLetter] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(c.count for c in self.counts)

    @property
    def first_seen(self) -> datetime | None:
        return min((c.first_seen for c in self.counts), default=None)

    @property
    def last_seen(self) -> datetime | None:
        return max((c.last_seen for c in self.counts), default=None)


async def summary(session: AsyncSession, region_code: str | None, since: datetime | None) -> Summary:
    """Counts by topic and reason kind (most first), the senders, and the latest reasons."""
    where: list[ColumnElement[bool]] = [
        col(DeadLetter.region_code).is_(None)
        if region_code is None
        else col(DeadLetter.region_code) == region_code
    ]
    if since is not None:
        where.append(col(DeadLetter.at) >= utc(since))
    counted = (
        select(
            DeadLetter.topic,
            DeadLetter.reason_kind,
            func.count(),
            func.min(DeadLetter.at),
            func.max(DeadLetter.at),
        )
        .where(*where)
        .group_by(DeadLetter.topic, DeadLetter.reason_kind)
        .order_by(func.count().desc(), DeadLetter.topic, DeadLetter.reason_kind)
    )
    counts = [
        ReasonCount(topic, kind, count, utc(first), utc(last))
        for topic, kind, count, first, last in (await session.execute(counted)).all()
    ]
    sources = (
        await session.scalars(
            select(DeadLetter.ce_source)
            .where(*where, col(DeadLetter.ce_source).is_not(None))
            .group_by(DeadLetter.ce_source)
            .order_by(DeadLetter.ce_source)
            .limit(SOURCES)
        )
    ).all()
    latest = (
        await session.scalars(
            select(DeadLetter)
            .where(*where)
            .order_by(col(DeadLetter.at).desc(), col(DeadLetter.id).desc())
            .limit(LATEST)
        )
    ).all()
    return Summary(
        region_code=region_code,
        since=since,
        counts=counts,
        sources=[s for s in sources if s],
        latest=list(latest),
    )
