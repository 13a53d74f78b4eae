"""Who is shown what of an analysis (the visibility policy of docs/methodology.md, enforced here
for the subgraph and the report routes alike).

The figures: a figure over one or two schools is those schools' own results, whoever asks. So a
caller whose roles cover the analysed scope (:func:`covers`: a regional admin's region, a
coordinator's municipality, a school representative's school, an expert's or a viewer's region)
sees every figure, and anyone else — an anonymous caller, a caller of another region — sees:

* no analysis of one school, and none of a group of fewer than ``min_schools`` schools that took
  part in a network in the period (an error: sign in, or it is outside your scope);
* in a larger group, no figure that stands on fewer than ``min_schools`` schools (its value,
  previous value, numerator, denominator, breakdown and interval withheld, with a note saying why).

The schools that need attention name schools and why, as alerts do, so they follow the alerts'
rule (:func:`.advice_schema.advised`): a signed-in caller is shown the schools of the list that
are in their reach — the schools whose alerts they are shown — and no other; an anonymous caller
is shown none. A school's own figures (``Organization.indicators``) are for those whose reach
covers the school (:func:`check_school`).

``min_schools`` is the setting ``ANALYTICS_DISCLOSURE_MIN_SCHOOLS`` (5 unless set).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from setka_runtime.access import PARTICIPANTS, AccessDenied, Identity
from setka_runtime.reach import READERS, Reach
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from .analysis import build_analysis, scope_title
from .analysis_model import (
    Analysis,
    AnalysisRules,
    IndicatorValue,
    Period,
    SchoolAttention,
    Scope,
    ScopeKind,
    Status,
    Trend,
)
from .indicators import Frame
from .models import Network, Organization

MIN_SCHOOLS = 5
"""How many schools a figure shown outside the caller's scope must stand on, unless set."""
WITHHELD_NOTE = "Скрыто: показатель рассчитан менее чем по {k} школам, а вы не отвечаете за эту территорию"


def reach(caller: Identity) -> Reach:
    """The places whose analysis a caller sees whole, and the schools they are told of in the list
    of schools that need attention: the same reach as the alerts they are shown."""
    return Reach.of(caller, PARTICIPANTS, regional=READERS)


async def told_of(
    session: AsyncSession, caller: Identity, schools: list[SchoolAttention]
) -> list[SchoolAttention]:
    """The schools of the attention list the caller may be told of (see the module's text)."""
    within = reach(caller)
    if within.everything:
        return schools
    if within.nothing or not schools:
        return []
    condition = within.organizations(col(Organization.id), Organization)
    query = select(col(Organization.id)).where(
        col(Organization.id).in_([school.organization_id for school in schools])
    )
    if condition is not None:
        query = query.where(condition)
    shown = set(await session.scalars(query))
    return [school for school in schools if school.organization_id in shown]


async def covers(session: AsyncSession, caller: Identity, scope: Scope) -> bool:
    """Whether the analysed scope is within the caller's reach."""
    within = reach(caller)
    if within.everything:
        return True
    if within.nothing:
        return False
    if scope.kind == ScopeKind.region:
        return within.region_code == scope.key
    if scope.kind == ScopeKind.school:
        condition = within.organizations(col(Organization.id), Organization)
        query = select(col(Organization.id)).where(col(Organization.id) == scope.id)
    elif scope.kind == ScopeKind.network:
        condition = within.networks(col(Network.id), Network)
        query = select(col(Network.id)).where(col(Network.id) == scope.id)
    else:
        if within.municipality_id is not None and within.municipality_id == scope.id:
            return True
        condition = col(Organization.region_code) == within.region_code
        query = select(col(Organization.id)).where(col(Organization.municipality_id) == scope.id)
    return await session.scalar(query.where(condition).limit(1)) is not None


def _refused(caller: Identity, why: str) -> AccessDenied:
    if not caller.authenticated:
        return AccessDenied(f"Sign in to see {why}", code="UNAUTHENTICATED")
    return AccessDenied(f"{why[0].upper()}{why[1:]} is outside your scope ({caller.scope_text()})")


async def check_school(session: AsyncSession, caller: Identity, scope: Scope) -> None:
    """Raise AccessDenied unless the caller may see one school's own figures (the school is known)."""
    if not await covers(session, caller, scope):
        raise _refused(caller, f"the figures of school {scope.key}")


def _withheld(value: IndicatorValue, min_schools: int) -> IndicatorValue:
    if value.schools >= min_schools:
        return value
    return dataclasses.replace(
        value,
        value=None,
        previous=None,
        numerator=None,
        denominator=None,
        breakdown={},
        comparison=None,
        trend=Trend.unknown,
        status=Status.no_data,
        note=WITHHELD_NOTE.format(k=min_schools),
    )


async def analysis_for(
    session: AsyncSession,
    caller: Identity,
    scope: Scope,
    period: Period,
    *,
    min_schools: int,
    now: datetime | None = None,
    rules: AnalysisRules | None = None,
) -> Analysis:
    """The analysis of ``scope`` in ``period`` as ``caller`` may see it (see the module's text);
    an unknown scope is :class:`UnknownScope` whoever asks."""
    await scope_title(session, scope)
    if await covers(session, caller, scope):
        analysis = await build_analysis(session, scope, period, now=now, rules=rules)
        attention = await told_of(session, caller, analysis.schools_needing_attention)
        return dataclasses.replace(analysis, schools_needing_attention=attention)
    if scope.kind == ScopeKind.school:
        raise _refused(caller, f"the analysis of school {scope.key}")
    now = now or datetime.now(UTC)
    members = Frame(scope, period, now.date()).member_schools().subquery()
    schools = await session.scalar(select(func.count()).select_from(members)) or 0
    if schools < min_schools:
        raise _refused(
            caller,
            f"the analysis of a group of {schools} schools (fewer than {min_schools} took part in the"
            " period, so its figures are theirs)",
        )
    analysis = await build_analysis(session, scope, period, now=now, rules=rules)
    return dataclasses.replace(
        analysis,
        indicators=[_withheld(value, min_schools) for value in analysis.indicators],
        schools_needing_attention=await told_of(session, caller, analysis.schools_needing_attention),
    )
