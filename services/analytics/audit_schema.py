"""GraphQL of the audit trail: who changed what, for regional admins. ``AuditQuery`` is merged into
the subgraph's ``Query``; the entries are those :func:`.projections.audit_recorded` keeps.

Two checks guard it. The field declares ``@requiresScopes([["regional_admin"]])``, which the
gateway (and the subgraph itself) enforce before anything runs; the resolver then applies the
domain scope: a regional admin sees the entries of their region — those whose write landed there
or whose author acts there — and an admin of every region (``*``) sees all of them.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from setka_contracts.audit import AuditedEvent, AuditRecorded
from setka_runtime.access import ALL_REGIONS, AccessDenied, Identity, Role
from setka_runtime.errors import DomainError
from setka_runtime.graphql import PageInfo, identity, paged, reading
from setka_runtime.graphql_derive import ModelType
from setka_runtime.moments import utc
from sqlalchemy import or_, select, tuple_
from sqlmodel import col
from strawberry.types import Info

from .models import AuditEntry as AuditEntryRow

DEFAULT_PAGE = 100
MAX_PAGE = 500
"""Most entries one page holds."""


@strawberry.type(description="An event a write caused: its id, type and the aggregate it changed")
class AuditEntryEvent(ModelType, model=AuditedEvent, retype={"event_id": strawberry.ID}):
    pass


@strawberry.type(
    description="One write through a subgraph: who made it and in what scope, where it landed, "
    "what it changed and when"
)
class AuditEntry(
    ModelType,
    model=AuditRecorded,
    retype={
        "actor_municipality_id": strawberry.ID | None,
        "actor_organization_id": strawberry.ID | None,
        "municipality_id": strawberry.ID | None,
        "organization_ids": list[strawberry.ID],
        "events": list[AuditEntryEvent],
    },
):
    @classmethod
    def present(cls, row: AuditEntryRow) -> AuditEntry:
        return cls.of(
            row,
            at=utc(row.at),
            actor_municipality_id=_id(row.actor_municipality_id),
            actor_organization_id=_id(row.actor_organization_id),
            municipality_id=_id(row.municipality_id),
            organization_ids=[strawberry.ID(ident) for ident in row.organization_ids],
            events=[
                AuditEntryEvent(
                    event_id=strawberry.ID(str(event.get("event_id", ""))),
                    event_type=str(event.get("event_type", "")),
                    key=str(event.get("key", "")),
                    note=_text(event.get("note")),
                )
                for event in row.events
            ],
        )


def _text(value: object) -> str | None:
    return str(value) if value else None


def _id(value: str | None) -> strawberry.ID | None:
    return strawberry.ID(value) if value else None


@strawberry.type
class AuditEntryEdge:
    cursor: str
    node: AuditEntry


@strawberry.type(description="A page of the audit trail, newest first")
class AuditEntryConnection:
    edges: list[AuditEntryEdge]
    page_info: PageInfo


def encode_cursor(row: AuditEntryRow) -> str:
    return base64.urlsafe_b64encode(f"{utc(row.at).isoformat()}|{row.entry_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        moment, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return utc(datetime.fromisoformat(moment)), uuid.UUID(ident)
    except ValueError as exc:
        raise DomainError(
            "Неверный курсор: начните с первой страницы", code="INVALID_CURSOR", field="after"
        ) from exc


def visible_region(caller: Identity, asked: str | None) -> str | None:
    """The region whose entries ``caller`` may see (None: every region's), narrowed to ``asked``;
    :class:`AccessDenied` unless the caller is a regional admin whose scope covers it."""
    if not caller.authenticated:
        raise AccessDenied("Sign in to see the audit trail", code="UNAUTHENTICATED")
    if Role.regional_admin not in caller.roles or caller.region_code is None:
        raise AccessDenied("The audit trail is for regional admins")
    if caller.region_code == ALL_REGIONS:
        return asked
    if asked is not None and asked != caller.region_code:
        raise AccessDenied(f"region {asked} is outside your scope ({caller.scope_text()})")
    return caller.region_code


@strawberry.type
class AuditQuery:
    @strawberry.federation.field(
        requires_scopes=[[Role.regional_admin.value]],
        description="The audit trail, newest first, a page at a time (≤ "
        f"{MAX_PAGE} entries): every write through a subgraph. A regional admin sees the entries "
        "of their region (the write landed there, or its author acts there); an admin of every "
        "region sees all of them",
        directives=paged(),
    )
    async def audit_trail(
        self,
        info: Info,
        region_code: Annotated[
            str | None,
            strawberry.argument(
                description="Only the entries of this region (the write's or its author's); "
                "another region than the caller's is refused"
            ),
        ] = None,
        subject: Annotated[str | None, strawberry.argument(description="Only this person's writes")] = None,
        operation: Annotated[
            str | None, strawberry.argument(description="Only this mutation, e.g. updateOrganization")
        ] = None,
        since: Annotated[datetime | None, strawberry.argument(description="From this moment on")] = None,
        until: Annotated[
            datetime | None, strawberry.argument(description="Before this moment (not included)")
        ] = None,
        first: Annotated[
            int, strawberry.argument(description=f"How many entries (1–{MAX_PAGE})")
        ] = DEFAULT_PAGE,
        after: Annotated[
            str | None, strawberry.argument(description="The endCursor of the previous page")
        ] = None,
    ) -> AuditEntryConnection:
        region = visible_region(identity(info), region_code)
        at, entry_id = col(AuditEntryRow.at), col(AuditEntryRow.entry_id)
        query = select(AuditEntryRow)
        if region is not None:
            query = query.where(
                or_(col(AuditEntryRow.region_code) == region, col(AuditEntryRow.actor_region_code) == region)
            )
        if subject is not None:
            query = query.where(col(AuditEntryRow.subject) == subject)
        if operation is not None:
            query = query.where(col(AuditEntryRow.operation) == operation)
        if since is not None:
            query = query.where(at >= utc(since, field="since"))
        if until is not None:
            query = query.where(at < utc(until, field="until"))
        if after:
            query = query.where(tuple_(at, entry_id) < decode_cursor(after))
        limit = max(1, min(first, MAX_PAGE))
        query = query.order_by(at.desc(), entry_id.desc()).limit(limit + 1)
        async with reading(info) as session:
            rows = list((await session.scalars(query)).all())
        edges = [
            AuditEntryEdge(cursor=encode_cursor(row), node=AuditEntry.present(row)) for row in rows[:limit]
        ]
        return AuditEntryConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > limit, end_cursor=edges[-1].cursor if edges else None
            ),
        )
