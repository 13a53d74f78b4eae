"""The events service's GraphQL subgraph (Apollo Federation 2)."""

from __future__ import annotations

import strawberry
from setka_runtime.graphql import reading
from sqlalchemy import func, select
from strawberry.types import Info

from .models import KnownOrganization


@strawberry.type
class EventsStatus:
    known_organizations: int = strawberry.field(
        description="Organizations this service has learned of from the registry's events"
    )


@strawberry.type
class Query:
    @strawberry.field
    async def events_status(self, info: Info) -> EventsStatus:
        async with reading(info) as session:
            count = await session.scalar(select(func.count()).select_from(KnownOrganization))
        return EventsStatus(known_organizations=count or 0)


schema = strawberry.federation.Schema(query=Query)
