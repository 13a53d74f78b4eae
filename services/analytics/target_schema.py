"""GraphQL of the indicators' targets (:mod:`.targets`): a region's admin sets and clears their
region's, a network's editors (its region's admin, its municipality's coordinator) the network's
(``@requiresScopes``, then the region or network as the write's scope in ``run_command``, audited).
Reading what a region or network decided, with who set it and when, is for signed-in users
(``@authenticated``: it names people by id); the analysis shows each applied target's source by
role, publicly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry
from setka_runtime.access import EDITORS, Role, Target
from setka_runtime.graphql import ValidationError, identity, reading, run_command
from setka_runtime.graphql_derive import ModelType, choices
from setka_runtime.moments import aware
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from . import (
    analysis_enums,  # noqa: F401  (the enumerations, declared once)
    targets,
)
from . import analysis_model as am
from .alert_schema import now_of
from .analysis import parse_scope
from .indicators import DEFINITIONS
from .models import IndicatorTarget as IndicatorTargetRow

ScopeId = Annotated[str, strawberry.argument(description="The region's code (e.g. 39) or the network's id")]
IndicatorId = Annotated[str, strawberry.argument(description="The indicator's id, e.g. coverage")]
TargetYear = Annotated[
    int,
    strawberry.argument(
        description="The calendar year, or the year a school year starts in (2025 for 2025/26)"
    ),
]
Kind = Annotated[am.YearKind, strawberry.argument(description="A calendar year (default) or a school year")]


@strawberry.type(
    description="A target a region or network set for an indicator and year, and who set it when"
)
class IndicatorTarget(
    ModelType,
    model=IndicatorTargetRow,
    exclude=["region_code", "year_kind", "scope_kind", "indicator"],
    describe={
        "scope_key": "The region's code or the network's id",
        "year": "The calendar year, or the year the school year starts in",
        "value": "The value to reach (or not to exceed, when lower is better)",
        "set_by": "Who set it: the person's id (subject)",
        "set_by_role": "In which role: regional_admin or municipal_coordinator",
        "set_at": "When it was set",
    },
):
    scope_kind: am.ScopeKind
    indicator_id: str
    indicator_title: str = strawberry.field(description="The indicator's name, in Russian")
    year_kind: am.YearKind
    year_label: str = strawberry.field(description="«2025 год» or «2025/26 учебный год»")

    @classmethod
    def present(cls, row: IndicatorTargetRow) -> IndicatorTarget:
        kind = am.YearKind(row.year_kind)
        return cls.of(
            row,
            set_at=aware(row.set_at),
            scope_kind=am.ScopeKind(row.scope_kind),
            indicator_id=row.indicator,
            indicator_title=DEFINITIONS[row.indicator].title,
            year_kind=kind,
            year_label=am.year_label(kind, row.year),
        )


@strawberry.type(
    description="A target removed: the indicator is judged by its trend only, unless its region set one"
)
class ClearedIndicatorTarget:
    indicator_id: str
    year_kind: am.YearKind
    year: int
    cleared: bool = strawberry.field(description="False when there was no such target")


IndicatorTargetResult = Annotated[
    IndicatorTarget | ValidationError, strawberry.union("IndicatorTargetResult")
]
ClearedIndicatorTargetResult = Annotated[
    ClearedIndicatorTarget | ValidationError, strawberry.union("ClearedIndicatorTargetResult")
]

WHO = [[Role.regional_admin.value], [Role.municipal_coordinator.value]]


def _landing(scope: am.ScopeKind, key: str) -> Callable[[AsyncSession], Awaitable[Target]]:
    """Where the write lands (checked first, so a malformed or unknown scope is a ValidationError)."""

    async def landing(session: AsyncSession) -> Target:
        return await targets.where_it_lands(session, parse_scope(scope, key))

    return landing


@strawberry.type
class TargetQuery:
    @strawberry.federation.field(
        description="The targets a region or network set for its indicators (of one year, calendar or "
        "school, or every year), with who set each and when",
        authenticated=True,
    )
    async def indicator_targets(
        self,
        info: Info,
        scope: Annotated[
            am.ScopeKind, strawberry.argument(description=f"{choices(am.ScopeKind)}: region or network")
        ],
        id: ScopeId,
        year: Annotated[int | None, strawberry.argument(description="One year only")] = None,
    ) -> list[IndicatorTarget]:
        chosen = parse_scope(scope, id)
        async with reading(info) as session:
            rows = await targets.targets_of(session, chosen, year)
        return [IndicatorTarget.present(row) for row in rows]


@strawberry.type
class TargetMutation:
    @strawberry.federation.mutation(
        description="Set your region's or network's target of an indicator for a calendar or school year "
        "(it replaces an earlier one): the analysis judges the indicator against it; a network's target "
        "beats its region's",
        requires_scopes=WHO,
    )
    async def set_indicator_target(
        self,
        info: Info,
        scope: am.ScopeKind,
        id: ScopeId,
        indicator_id: IndicatorId,
        year: TargetYear,
        value: float,
        year_kind: Kind = am.YearKind.calendar,
    ) -> IndicatorTargetResult:
        caller, now = identity(info), now_of(info)

        async def action(session: AsyncSession) -> IndicatorTargetRow:
            chosen = parse_scope(scope, id)
            key = targets.check_key(chosen, indicator_id, year_kind, year)
            landing = await targets.where_it_lands(session, chosen)
            return await targets.set_target(
                session,
                key,
                value,
                by=caller.subject or "",
                role=targets.acting_role(caller, landing),
                at=now,
            )

        return await run_command(
            info, IndicatorTarget.present, action, scope=_landing(scope, id), roles=EDITORS
        )

    @strawberry.federation.mutation(
        description="Remove your region's or network's target of an indicator for a year: the indicator is "
        "then judged by its trend only (or by its region's target, for a network)",
        requires_scopes=WHO,
    )
    async def clear_indicator_target(
        self,
        info: Info,
        scope: am.ScopeKind,
        id: ScopeId,
        indicator_id: IndicatorId,
        year: TargetYear,
        year_kind: Kind = am.YearKind.calendar,
    ) -> ClearedIndicatorTargetResult:
        async def action(session: AsyncSession) -> ClearedIndicatorTarget:
            key = targets.check_key(parse_scope(scope, id), indicator_id, year_kind, year)
            cleared = await targets.clear_target(session, key)
            return ClearedIndicatorTarget(
                indicator_id=key.indicator, year_kind=key.year_kind, year=key.year, cleared=cleared
            )

        return await run_command(info, lambda shown: shown, action, scope=_landing(scope, id), roles=EDITORS)
