"""The analytics GraphQL subgraph (Apollo Federation 2): region figures, and the effectiveness
analysis (its types take their fields from the analysis's dataclasses); advice and the audit trail
join from their modules.

Access: aggregate figures, the analysis (:mod:`.disclosure`), indicator definitions and activities
worth repeating are public; the analysis' schools that need attention are told as alerts are (to
signed-in users, the schools in their reach); alerts and recommended partners name schools that
need attention and are for signed-in users (``@authenticated``), alerts worked by those who may
act on their school; the school holidays are public and set by regional admins; the indicators'
targets are set by regional admins and networks' editors and listed with who set them to
signed-in users; the audit trail is for regional admins (``@requiresScopes``), each in their
region. :class:`~setka_runtime.graphql.AccessControl` enforces what the fields declare."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Self

import strawberry
from setka_runtime.graphql import ForeignEntity, SubgraphSchema, batched, costs, identity, reading, to_uuid
from setka_runtime.graphql_derive import ModelType
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.tools import merge_types
from strawberry.types import Info

from . import (
    analysis_enums,  # noqa: F401  (the enumerations, declared once)
    disclosure,
)
from . import analysis_model as am
from .advice_schema import AdviceQuery
from .alert_schema import AlertMutation, AlertQuery
from .analysis import (
    UnknownScope,
    indicator_values,
    parse_scope,
    period_of,
    scope_title,
)
from .audit_schema import AuditQuery
from .calendar_schema import CalendarMutation, CalendarQuery
from .indicators import DEFINITIONS
from .models import Organization as OrganizationRow
from .models import RegionSummary as RegionSummaryRow
from .target_schema import TargetMutation, TargetQuery

ANALYSIS_WEIGHT = 5000
"""The demand-control weight of one effectiveness analysis: 13 indicators over two periods, each a
few aggregate queries over the scope (seconds for the largest region at national scale), so that
one request holds at most a few (GATEWAY_MAX_COST 20,000) and anonymous callers few a minute."""
INDICATORS_WEIGHT = 300
"""One organization's own indicators: about 30 queries."""

Year = Annotated[int | None, strawberry.argument(description="A calendar year, e.g. 2025")]
SchoolYear = Annotated[
    int | None,
    strawberry.argument(
        description="A school year, September to August, by the year it starts in: 2025 for 2025/26 (alone)"
    ),
]
Quarter = Annotated[int | None, strawberry.argument(description="A quarter (1–4) of the year")]
From = Annotated[date | None, strawberry.argument(name="from", description="The first day (with to)")]
To = Annotated[date | None, strawberry.argument(description="The last day, included (with from)")]


def _period(
    year: int | None,
    quarter: int | None,
    start: date | None,
    last: date | None,
    school_year: int | None = None,
) -> am.Period:
    return period_of(year=year, quarter=quarter, start=start, last=last, school_year=school_year)


def _rules(info: Info) -> am.AnalysisRules:
    """The analysis' calendar as the service's settings set it (the defaults in tests)."""
    rules: am.AnalysisRules = info.context.get("analysis_rules") or am.AnalysisRules()
    return rules


@strawberry.federation.type(keys=["regionCode"], description="Network figures of one region")
class RegionSummary(ModelType, model=RegionSummaryRow):
    updated_at: datetime | None  # declared here: a region nothing is known of yet has none

    @classmethod
    def empty(cls, region_code: str) -> RegionSummary:
        """The figures of a region nothing is known of yet: the model's defaults."""
        return cls.of(RegionSummaryRow(region_code=region_code), updated_at=None)

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> RegionSummary:
        return await cls.load(info, str(key["regionCode"]))

    @classmethod
    async def load(cls, info: Info, region_code: str) -> RegionSummary:
        return await batched(info, "region_summary", _summaries_of_regions, region_code)


async def _summaries_of_regions(session: AsyncSession, codes: list[str]) -> list[RegionSummary]:
    """The figures of each region, one query for all of them; zeros for a region with none."""
    rows = await session.scalars(select(RegionSummaryRow).where(RegionSummaryRow.region_code.in_(codes)))
    found = {row.region_code: RegionSummary.of(row) for row in rows}
    return [found.get(code) or RegionSummary.empty(code) for code in codes]


async def _summaries_of_organizations(
    session: AsyncSession, ids: list[uuid.UUID]
) -> list[RegionSummary | None]:
    """The figures of each organization's region, one query for all of them; None for an
    organization analytics has not heard of."""
    query = (
        select(OrganizationRow.id, OrganizationRow.region_code, RegionSummaryRow)
        .outerjoin(RegionSummaryRow, RegionSummaryRow.region_code == OrganizationRow.region_code)
        .where(OrganizationRow.id.in_(ids))  # type: ignore[attr-defined]
    )
    rows = (await session.execute(query)).all()
    found = {
        ident: RegionSummary.of(summary) if summary else RegionSummary.empty(region)
        for ident, region, summary in rows
    }
    return [found.get(ident) for ident in ids]


@strawberry.federation.type(keys=["id"])
class Organization(ForeignEntity):
    """An organization of the registry (which owns it), with what analytics knows of it."""

    @strawberry.field(
        description="Figures of the organization's region; null while analytics has not heard of it"
    )
    async def region_summary(self, info: Info) -> RegionSummary | None:
        ident = to_uuid(self.id)
        if ident is None:
            return None
        return await batched(info, "organization_region_summary", _summaries_of_organizations, ident)

    @strawberry.field(
        description="The organization's own indicators for a year, a quarter, a school year or the days "
        "from–to (as a school: did it take part, its educators, its results); null while analytics has not "
        "heard of it",
        directives=costs(INDICATORS_WEIGHT),
    )
    async def indicators(
        self,
        info: Info,
        year: Year = None,
        quarter: Quarter = None,
        from_: From = None,
        to: To = None,
        school_year: SchoolYear = None,
    ) -> list[IndicatorValue] | None:
        period, ident = _period(year, quarter, from_, to, school_year), to_uuid(self.id)
        if ident is None:
            return None
        scope = am.Scope(am.ScopeKind.school, str(ident))
        async with reading(info) as session:
            try:
                await scope_title(session, scope)
            except UnknownScope:
                return None
            await disclosure.check_school(session, identity(info), scope)
            found = await indicator_values(session, scope, period, rules=_rules(info))
            return [IndicatorValue.present(value) for value in found]


@strawberry.type(description="Parts of a figure: e.g. per activity type (type:…) or per process (process:…)")
class BreakdownEntry:
    key: str
    value: float


@strawberry.type(description="An indicator of the effectiveness analysis: what it means and how it is judged")
class IndicatorDefinition(
    ModelType,
    model=am.IndicatorDefinition,
    describe={
        "title": "The indicator's name, in Russian",
        "definition": "How it is computed, in plain Russian words",
        "unit": "%, на школу, ч, балл, п.п., …",
        "suggestion": "Setka's own number («предложение Setka»), offered to those who set targets: never "
        "a target, never judged against",
        "expected_result": "The expected result it measures, quoted from a regulation",
        "regulation": "The regulation and its section the expected result is quoted from",
        "formula": "The formula, in Russian: what is divided by what",
        "sources": "Where its data comes from, in Russian",
        "data_due": "When its data for a period is in, in Russian (before then the figure is provisional)",
    },
):
    pass


@strawberry.type(
    description="The target an indicator is judged against and where it came from: the region or network "
    "that set it (a network's beats its region's), for which year, in which role and when"
)
class AppliedTarget(
    ModelType,
    model=am.AppliedTarget,
    describe={
        "scope_key": "The region's code or the network's id",
        "scope_title": "The region's or network's name",
        "year": "The calendar year, or the year the school year starts in",
        "set_by_role": "regional_admin or municipal_coordinator",
    },
):
    source: str = strawberry.field(description="Where the target came from, in Russian")

    @classmethod
    def present(cls, target: am.AppliedTarget) -> Self:
        return cls.of(target, source=target.source())


@strawberry.type(
    description="The supported schools' results against matched comparison schools (a difference in "
    "differences of standardised results, in standard deviations), with its confidence interval"
)
class ResultComparison(
    ModelType,
    model=am.ResultComparison,
    describe={
        "estimate": "The difference in differences; null below the minimum number of schools",
        "low": "The interval's lower bound; null without an estimate",
        "high": "The interval's upper bound; null without an estimate",
        "supported_schools": "Supported schools in networks with results in both years and a comparison",
        "comparison_schools": "Comparison schools outside networks matched to them",
        "significant": "Whether the interval excludes 0",
        "level": "The interval's confidence level (0.95)",
    },
):
    pass


@strawberry.type(description="One indicator for the period, next to the previous period's value")
class IndicatorValue(
    ModelType,
    model=am.IndicatorValue,
    retype={
        "definition": IndicatorDefinition,
        "breakdown": list[BreakdownEntry],
        "target": AppliedTarget | None,
        "comparison": ResultComparison | None,
    },
    describe={
        "value": "The figure for the period; null when there is nothing to compute it from (the note says "
        "why: «нет данных: …»), never 0 for nothing recorded",
        "previous": "The figure for the previous period",
        "numerator": "What the figure is made of, where it is a share or a mean",
        "denominator": "What the figure is taken of, where it is a share or a mean",
        "schools": "How many schools stand behind the figure (how far to trust it)",
        "note": "What a reader should know about the figure, in Russian",
        "target": "The target its region or network set; null when nobody did (only the trend is shown)",
        "comparison": "For the results' indicators: the interval and the schools on each side",
    },
):
    @classmethod
    def present(cls, value: am.IndicatorValue) -> Self:
        parts = [BreakdownEntry(key=key, value=part) for key, part in value.breakdown.items()]
        target = None if value.target is None else AppliedTarget.present(value.target)
        comparison = None if value.comparison is None else ResultComparison.of(value.comparison)
        return cls.of(
            value,
            definition=IndicatorDefinition.of(value.definition),
            breakdown=parts,
            target=target,
            comparison=comparison,
        )


@strawberry.type(name="AnalysisScope", description="Whose interaction is analysed")
class Scope(ModelType, model=am.Scope, describe={"key": "The id, or the region's code"}):
    pass


@strawberry.type(name="AnalysisPeriod", description="Days from start up to, not including, end")
class Period(ModelType, model=am.Period, describe={"end": "The first day after the period"}):
    @strawberry.field(description="The period's last day")
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @strawberry.field(description="The period as a reader sees it: first and last day")
    def label(self) -> str:
        return am.Period(self.start, self.end).label()


@strawberry.type(description="A supported school that needs attention, and why")
class SchoolAttention(ModelType, model=am.SchoolAttention, describe={"reasons": "In Russian"}):
    @strawberry.field(description="The organization, with what the other subgraphs know of it")
    def organization(self) -> Organization:
        return Organization(id=self.organization_id)


@strawberry.type(description="The effectiveness analysis of network interaction for a period")
class EffectivenessAnalysis(
    ModelType,
    model=am.Analysis,
    exclude=["rules"],
    retype={
        "scope": Scope,
        "period": Period,
        "previous_period": Period,
        "indicators": list[IndicatorValue],
        "schools_needing_attention": list[SchoolAttention],
    },
    describe={"scope_title": "What the scope is called, in Russian"},
):
    @classmethod
    def present(cls, analysis: am.Analysis) -> Self:
        return cls.of(
            analysis,
            scope=Scope.of(analysis.scope),
            period=Period.of(analysis.period),
            previous_period=Period.of(analysis.previous_period),
            indicators=[IndicatorValue.present(value) for value in analysis.indicators],
            schools_needing_attention=[
                SchoolAttention.of(school) for school in analysis.schools_needing_attention
            ],
        )


@strawberry.type
class RegionQuery:
    @strawberry.field(description="Figures of every region that has any")
    async def region_summaries(self, info: Info) -> list[RegionSummary]:
        async with reading(info) as session:
            rows = await session.scalars(select(RegionSummaryRow).order_by(RegionSummaryRow.region_code))
            return [RegionSummary.of(row) for row in rows]

    @strawberry.field(description="Figures of one region (zeros when nothing is known yet)")
    async def region_summary(self, info: Info, region_code: str) -> RegionSummary:
        return await RegionSummary.load(info, region_code)


@strawberry.type
class EffectivenessQuery:
    @strawberry.field(description="Every indicator of the effectiveness analysis, as defined")
    def indicator_definitions(self) -> list[IndicatorDefinition]:
        return [IndicatorDefinition.of(definition) for definition in DEFINITIONS.values()]

    @strawberry.field(
        description="The effectiveness analysis of a school, network, municipality or region for a year, a "
        "quarter, a school year or the days from–to: each indicator against the same period a year before "
        "and its target, and the supported schools that need attention (those in your reach, as alerts)",
        directives=costs(ANALYSIS_WEIGHT),
    )
    async def effectiveness_analysis(
        self,
        info: Info,
        scope: am.ScopeKind,
        id: Annotated[str, strawberry.argument(description="The id, or the region's code (e.g. 39)")],
        year: Year = None,
        quarter: Quarter = None,
        from_: From = None,
        to: To = None,
        school_year: SchoolYear = None,
    ) -> EffectivenessAnalysis:
        chosen, period = parse_scope(scope, id), _period(year, quarter, from_, to, school_year)
        async with reading(info) as session:
            analysis = await disclosure.analysis_for(
                session,
                identity(info),
                chosen,
                period,
                min_schools=info.context.get("min_schools", disclosure.MIN_SCHOOLS),
                rules=_rules(info),
            )
        return EffectivenessAnalysis.present(analysis)


Query = merge_types(
    "Query",
    (RegionQuery, EffectivenessQuery, AdviceQuery, AlertQuery, CalendarQuery, TargetQuery, AuditQuery),
)
"""Every root field, by domain; another domain's queries join by naming their type here."""

Mutation = merge_types("Mutation", (AlertMutation, CalendarMutation, TargetMutation))
"""Every write: working alerts, the school holidays their rules count around, the targets."""

schema = SubgraphSchema(
    query=Query,
    mutation=Mutation,
    types=[RegionSummary, Organization],
)
