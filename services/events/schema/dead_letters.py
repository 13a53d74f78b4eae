"""``deadLetterSummary``: what the region's systems sent that the events service refused, counted by
reason (see :mod:`..dead_letters`). For the regional admin of the region and admins of every
region; letters whose region cannot be told are counted apart, for admins of every region only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from setka_runtime.access import ALL_REGIONS, AccessDenied, Identity, Role
from setka_runtime.errors import DomainError
from setka_runtime.graphql import identity, reading
from setka_runtime.moments import utc
from strawberry.types import Info

from .. import dead_letters
from ..models import DeadLetter


@strawberry.type(description="Dead letters of one topic with one kind of reason")
class DeadLetterCount:
    topic: str = strawberry.field(description="The topic the messages came from, e.g. regional.assessments")
    reason_kind: str = strawberry.field(description="The reason without its particulars (ids, numbers)")
    count: int
    first_seen: datetime
    last_seen: datetime


@strawberry.type(description="One dead letter: when, where from and why (never the message itself)")
class DeadLetterReason:
    at: datetime
    topic: str
    reason: str
    reason_kind: str
    ce_type: str | None = strawberry.field(description="The event's type, as the sender gave it")
    ce_source: str | None = strawberry.field(description="The sending system (ce_source)")
    ce_id: str | None = strawberry.field(description="The sender's id of the event")

    @classmethod
    def of(cls, row: DeadLetter) -> DeadLetterReason:
        return cls(
            at=utc(row.at),
            topic=row.topic,
            reason=row.reason,
            reason_kind=row.reason_kind,
            ce_type=row.ce_type,
            ce_source=row.ce_source,
            ce_id=row.ce_id,
        )


@strawberry.type(
    description="Messages the events service dead-lettered, counted by topic and reason: a region's "
    "(the organization a message names is there) or, in undetermined, those whose region cannot be told"
)
class DeadLetterSummary:
    region_code: str | None = strawberry.field(description="None: the bucket «регион не определён»")
    since: datetime | None
    total: int
    first_seen: datetime | None
    last_seen: datetime | None
    counts: list[DeadLetterCount] = strawberry.field(description="By topic and reason kind, most first")
    sources: list[str] = strawberry.field(description="The sending systems (ce_source) among them")
    latest: list[DeadLetterReason] = strawberry.field(
        description=f"The latest {dead_letters.LATEST}, newest first"
    )
    undetermined: DeadLetterSummary | None = strawberry.field(
        description="The letters whose region cannot be told (a message that is not JSON, an "
        "organization not known): for admins of every region; none for a regional admin"
    )

    @classmethod
    def of(
        cls, summary: dead_letters.Summary, undetermined: DeadLetterSummary | None = None
    ) -> DeadLetterSummary:
        return cls(
            region_code=summary.region_code,
            since=utc(summary.since) if summary.since else None,
            total=summary.total,
            first_seen=summary.first_seen,
            last_seen=summary.last_seen,
            counts=[
                DeadLetterCount(
                    topic=c.topic,
                    reason_kind=c.reason_kind,
                    count=c.count,
                    first_seen=c.first_seen,
                    last_seen=c.last_seen,
                )
                for c in summary.counts
            ],
            sources=summary.sources,
            latest=[DeadLetterReason.of(row) for row in summary.latest],
            undetermined=undetermined,
        )


def check_reader(caller: Identity, region_code: str) -> bool:
    """Whether ``caller`` may see the region's dead letters; True when they may also see those of
    no known region (an admin of every region). :class:`AccessDenied` otherwise."""
    if not caller.authenticated:
        raise AccessDenied("Sign in to see dead letters", code="UNAUTHENTICATED")
    if Role.regional_admin not in caller.roles or caller.region_code is None:
        raise AccessDenied("Dead letters are for regional admins")
    if caller.region_code == ALL_REGIONS:
        return True
    if region_code != caller.region_code:
        raise AccessDenied(f"region {region_code} is outside your scope ({caller.scope_text()})")
    return False


@strawberry.type
class DeadLetterQuery:
    @strawberry.federation.field(
        requires_scopes=[[Role.regional_admin.value]],
        description="What the region's systems sent that was refused (dead-lettered), counted by topic "
        "and reason, with the senders and the latest reasons; for the region's admin and admins of "
        "every region, who also get the letters of no known region (undetermined)",
    )
    async def dead_letter_summary(
        self,
        info: Info,
        region_code: Annotated[str, strawberry.argument(description="The region, e.g. 39")],
        since: Annotated[
            datetime | None, strawberry.argument(description="From this moment on; none: all kept")
        ] = None,
    ) -> DeadLetterSummary:
        code = region_code.strip()
        if not code or len(code) > 3:
            raise DomainError("Неверный код региона", code="INVALID_REGION", field="regionCode")
        everything = check_reader(identity(info), code)
        async with reading(info) as session:
            mine = await dead_letters.summary(session, code, since)
            unknown = await dead_letters.summary(session, None, since) if everything else None
        return DeadLetterSummary.of(mine, DeadLetterSummary.of(unknown) if unknown is not None else None)
