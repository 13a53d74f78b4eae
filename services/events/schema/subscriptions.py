"""Subscriptions of the events subgraph: activity changes of a network, live from Kafka."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from setka_runtime.errors import DomainError
from setka_runtime.graphql import identity, reading
from sqlalchemy import select
from strawberry.types import Info

from .. import scopes
from ..live import LiveActivities
from ..models import Activity as ActivityRow
from .types import Activity, to_uuid


@strawberry.type(description="Something happened to an activity: planned, announced, held, cancelled, ...")
class ActivityChange:
    kind: str = strawberry.field(
        description="planned, updated, announced, held, reported, cancelled, postponed, ..."
    )
    occurred_at: datetime
    event_id: strawberry.ID = strawberry.field(
        description="The event's id (ce_id): a client can skip repeats"
    )
    activity: Activity | None = strawberry.field(description="The activity as it is now")


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Changes of the activities of one network (or of every network), as they are"
        " published; of one not yet announced, only to those who may act on it"
    )
    async def activity_changes(
        self, info: Info, network_id: strawberry.ID | None = None
    ) -> AsyncGenerator[ActivityChange, None]:
        live: LiveActivities = info.context["live"]
        network = to_uuid(network_id) if network_id is not None else None
        if network_id is not None and network is None:
            raise DomainError("Это не идентификатор", code="INVALID_ID", field="networkId")
        caller = identity(info)
        visible = scopes.visible_activities(caller)
        unpublished = scopes.unpublished_activities(caller)
        async with live.subscribe(network) as queue:
            while True:
                change = await queue.get()
                # a change made while the activity was still planned is judged as such, even if
                # it is announced by the time it is read
                condition = unpublished if change.kind == "planned" else visible
                query = select(ActivityRow).where(ActivityRow.id == change.activity_id)
                async with reading(info) as session:
                    row = await session.scalar(query if condition is None else query.where(condition))
                if row is None and condition is not None:
                    continue  # not the caller's to see (not yet announced)
                yield ActivityChange(
                    kind=change.kind,
                    occurred_at=change.occurred_at,
                    event_id=strawberry.ID(change.event_id),
                    activity=Activity.of(row) if row else None,
                )
