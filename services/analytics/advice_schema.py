"""GraphQL of the advice analytics gives methodologists: recommended partners and activities worth
repeating. ``AdviceQuery`` is merged into the subgraph's ``Query``; the resolvers are thin adapters
over :mod:`.recommendations`. Alerts have their own module (:mod:`.alert_schema`).

Recommended partners and alerts name the schools that need attention and why (their risk factors,
their educators' deficits by competency): they are for signed-in users (``@authenticated``), each
for the schools in their scope (:func:`advised`); activities worth repeating are public."""

from __future__ import annotations

from datetime import UTC, date, datetime

import strawberry
from setka_runtime.access import PARTICIPANTS, AccessDenied, Identity
from setka_runtime.errors import DomainError
from setka_runtime.graphql import costs, identity, reading, sized, to_uuid
from setka_runtime.graphql_derive import ModelType
from setka_runtime.reach import READERS, Reach
from sqlalchemy import select
from sqlmodel import col
from strawberry.types import Info

from . import recommendations
from .analysis_model import Period
from .models import Organization

MAX_PARTNERS = 50
"""Most partners one request may ask for."""


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


def advised(caller: Identity, *, acting: bool = False) -> Reach:
    """The schools whose needs a caller is told of: a regional admin's region, a coordinator's
    municipality, a school representative's own school, an expert's or a viewer's region.
    ``acting``: those whose alerts the caller works (acknowledges, assigns, …): the same without
    the read-only roles (experts and viewers)."""
    return Reach.of(caller, PARTICIPANTS, regional=() if acting else READERS)


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
            raise DomainError("Год — от 2000 до 2100", code="YEAR_OUT_OF_RANGE", field="year")
        network = to_uuid(network_id)
        if network is None:
            return []
        async with reading(info) as session:
            found = await recommendations.activities_worth_repeating(session, network, Period.year(year))
        return [ActivityWorthRepeating.present(item) for item in found]
