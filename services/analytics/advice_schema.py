"""GraphQL of the advice analytics gives methodologists: recommended partners, activities worth
repeating, alerts. ``AdviceQuery`` is merged into the subgraph's ``Query``; the resolvers are thin
adapters over :mod:`.recommendations` and the ``alert`` table (:mod:`.alerts` keeps it).

Recommended partners and alerts name the schools that need attention and why (their risk factors,
their educators' deficits by competency): they are for signed-in users (``@authenticated``), each
for the schools in their scope (:func:`advised`); activities worth repeating are public."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import strawberry
from setka_contracts.analytics import AlertRule
from setka_runtime.access import PARTICIPANTS, AccessDenied, Identity
from setka_runtime.errors import DomainError
from setka_runtime.graphql import costs, identity, reading, sized, to_uuid
from setka_runtime.graphql_derive import ModelType
from setka_runtime.reach import READERS, Reach
from sqlalchemy import and_, or_, select
from sqlmodel import col
from strawberry.types import Info

from . import recommendations
from .analysis_model import Period
from .models import Alert as AlertRow
from .models import Network, Organization

MAX_PARTNERS = 50
"""Most partners one request may ask for."""
MAX_ALERTS = 500
"""Most alerts one request answers, newest first."""
NOTHING = uuid.UUID(int=0)
"""Stands for a filter id that is not a UUID: it matches nothing instead of being ignored."""


def _aware(moment: datetime) -> datetime:
    """A stored moment with its offset (SQLite keeps none; what it keeps is UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@strawberry.type(description="Why a partner was recommended, and the points it gave")
class RecommendationReason(
    ModelType,
    model=recommendations.Reason,
    retype={"kind": str},
    describe={"kind": recommendations.ReasonKind, "text": "In Russian, for the methodologist"},
):
    pass


@strawberry.type(description="A partner recommended to a supported school, with the reasons")
class PartnerRecommendation(
    ModelType,
    model=recommendations.Recommendation,
    retype={"reasons": list[RecommendationReason], "resource_ids": list[strawberry.ID]},
    describe={
        "organization_id": "The partner (an organization of the registry)",
        "name": "The partner's short name",
        "score": "The sum of the reasons' points",
        "resource_ids": "The partner's resources that answer a need of the school",
    },
):
    @classmethod
    def present(cls, found: recommendations.Recommendation) -> PartnerRecommendation:
        return cls.of(
            found,
            reasons=[RecommendationReason.of(reason) for reason in found.reasons],
            resource_ids=[strawberry.ID(str(ident)) for ident in found.resource_ids],
        )


@strawberry.type(description="A network's activity that was well attended and well rated")
class ActivityWorthRepeating(
    ModelType,
    model=recommendations.ActivityWorthRepeating,
    retype={"reasons": list[str]},
    describe={
        "participants": "Attendance records: educators, or organizations as a whole",
        "organizations": "Organizations that took part",
        "hours": "Hours of attendance in all",
        "ratings": "How many ratings its mean is of",
        "reasons": "In Russian, for the methodologist",
    },
):
    @classmethod
    def present(cls, found: recommendations.ActivityWorthRepeating) -> ActivityWorthRepeating:
        return cls.of(found, starts_at=_aware(found.starts_at), reasons=list(found.reasons))


@strawberry.type(description="An alert for the network's coordinators (сигнал), open until resolved")
class Alert(
    ModelType,
    model=AlertRow,
    exclude=["details"],
    describe={
        "rule": AlertRule,
        "subject_id": "What it is about: the school, the plan item, the deficit or the activity",
        "organization_id": "The school, the item's responsible organization, the deficit's "
        "organization or the activity's host",
    },
):
    since_on: date | None = strawberry.field(
        description="The day the rule counts from: the school's last activity in the network (or "
        "its joining), the item's due day, the day of diagnosis, the day the activity was held"
    )
    threshold_days: int | None = strawberry.field(description="The rule's N days, when it has one")

    @classmethod
    def present(cls, row: AlertRow) -> Alert:
        since = row.details.get("since_on")
        return cls.of(
            row,
            raised_at=_aware(row.raised_at),
            resolved_at=_aware(row.resolved_at) if row.resolved_at else None,
            since_on=date.fromisoformat(since) if since else None,
            threshold_days=row.details.get("threshold_days"),
        )


def advised(caller: Identity) -> Reach:
    """The schools whose needs a caller is told of: a regional admin's region, a coordinator's
    municipality, a school representative's own school, an expert's or a viewer's region."""
    return Reach.of(caller, PARTICIPANTS, regional=READERS)


def _filter_id(value: object) -> uuid.UUID | None:
    return (to_uuid(value) or NOTHING) if value else None


@strawberry.type
class AdviceQuery:
    @strawberry.federation.field(
        authenticated=True,
        description="Partners for a supported school in your scope, best first: how their resources and held "
        "activities answer its risk factors and its educators' deficits, then a centre, the same "
        f"network, the same municipality, their rating (≤ {MAX_PARTNERS})",
        directives=[*costs(200), *sized(10, argument="limit")],
    )
    async def recommended_partners(
        self, info: Info, organization_id: strawberry.ID, limit: int | None = 10
    ) -> list[PartnerRecommendation]:
        school = to_uuid(organization_id)
        if school is None:
            return []
        caller = identity(info)
        async with reading(info) as session:
            within = advised(caller).organizations(col(Organization.id), Organization)
            if within is not None and not await session.scalar(
                select(col(Organization.id)).where(col(Organization.id) == school, within)
            ):
                raise AccessDenied(
                    f"The needs of organization {school} are outside your scope ({caller.scope_text()})"
                )
            found = await recommendations.recommend_partners(
                session,
                school,
                today=date.today(),
                limit=min(max(10 if limit is None else limit, 0), MAX_PARTNERS),
            )
        return [PartnerRecommendation.present(item) for item in found]

    @strawberry.field(
        description="A network's activities of a year (this year unless given) that were well "
        "attended and well rated, best rated first",
        directives=costs(100),
    )
    async def activities_worth_repeating(
        self, info: Info, network_id: strawberry.ID, year: int | None = None
    ) -> list[ActivityWorthRepeating]:
        year = date.today().year if year is None else year
        if not 2000 <= year <= 2100:
            raise DomainError("year must be between 2000 and 2100", field="year")
        network = to_uuid(network_id)
        if network is None:
            return []
        async with reading(info) as session:
            found = await recommendations.activities_worth_repeating(session, network, Period.year(year))
        return [ActivityWorthRepeating.present(item) for item in found]

    @strawberry.federation.field(
        authenticated=True,
        description=f"Alerts about the schools and networks in your scope, newest first (≤ {MAX_ALERTS}):"
        " of a network, of an organization, open ones (the default) or resolved ones",
        directives=sized(MAX_ALERTS),
    )
    async def alerts(
        self,
        info: Info,
        network_id: strawberry.ID | None = None,
        organization_id: strawberry.ID | None = None,
        open: bool | None = True,
    ) -> list[Alert]:
        query = select(AlertRow)
        if (network := _filter_id(network_id)) is not None:
            query = query.where(AlertRow.network_id == network)
        if (organization := _filter_id(organization_id)) is not None:
            query = query.where(AlertRow.organization_id == organization)
        reach = advised(identity(info))
        by_school = reach.organizations(col(AlertRow.organization_id), Organization)
        if by_school is not None:
            by_network = reach.networks(col(AlertRow.network_id), Network)
            query = query.where(or_(by_school, and_(col(AlertRow.organization_id).is_(None), by_network)))
        if open is not None:
            resolved = col(AlertRow.resolved_at)
            query = query.where(resolved.is_(None) if open else resolved.is_not(None))
        query = query.order_by(col(AlertRow.raised_at).desc(), col(AlertRow.id)).limit(MAX_ALERTS)
        async with reading(info) as session:
            rows = await session.scalars(query)
            return [Alert.present(row) for row in rows]
