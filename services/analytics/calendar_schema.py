"""GraphQL of the school holidays the alert rules count around (:mod:`.school_calendar`): anyone
reads a region's breaks (a public fact); a regional admin sets their region's breaks of a school
year (``@requiresScopes``, then the region as the write's scope in ``run_command``, audited)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry
from setka_contracts.analytics import BreakKind
from setka_runtime.access import Role, Target
from setka_runtime.errors import DomainError
from setka_runtime.graphql import ValidationError, identity, reading, run_command
from setka_runtime.graphql_derive import ModelType, choices
from setka_runtime.moments import aware
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from . import school_calendar
from .alert_schema import now_of, source_of
from .models import SchoolBreak as SchoolBreakRow

SchoolYear = Annotated[
    int, strawberry.argument(description="The year the school year starts in: 2025 for 2025/26")
]


@strawberry.type(description="A school holiday (каникулы) of a region's school year, both days included")
class SchoolBreak(
    ModelType,
    model=SchoolBreakRow,
    exclude=["set_by"],
    describe={
        "school_year": "The year the school year starts in: 2025 for 2025/26",
        "kind": BreakKind,
        "ends_on": "The last day of the break (included)",
        "set_at": "When the year's breaks were set",
    },
):
    @classmethod
    def present(cls, row: SchoolBreakRow) -> SchoolBreak:
        return cls.of(row, set_at=aware(row.set_at))


@strawberry.type(description="A region's breaks of one school year")
class SchoolYearBreaks:
    region_code: str
    school_year: int = strawberry.field(description="The year the school year starts in")
    breaks: list[SchoolBreak] = strawberry.field(description="By first day")


SchoolYearBreaksResult = Annotated[
    SchoolYearBreaks | ValidationError, strawberry.union("SchoolYearBreaksResult")
]


@strawberry.input(description="One break of a school year")
class SchoolBreakInput:
    kind: str = strawberry.field(description=choices(BreakKind))
    starts_on: date = strawberry.field(description="The first day of the break")
    ends_on: date = strawberry.field(description="The last day of the break (included)")

    def to_break(self) -> school_calendar.Break:
        try:
            kind = BreakKind(self.kind.strip())
        except ValueError:
            raise DomainError(
                f"Неизвестный вид каникул «{self.kind}»; выберите одно из: {choices(BreakKind)}",
                code="UNKNOWN_CHOICE",
                field="breaks",
            ) from None
        return school_calendar.Break(kind, self.starts_on, self.ends_on)


@strawberry.type
class CalendarQuery:
    @strawberry.field(
        description="A region's school holidays, by first day: of one school year, or of every year "
        "known (the idle-school alert does not count their days)"
    )
    async def school_breaks(
        self,
        info: Info,
        region_code: str,
        school_year: Annotated[
            int | None,
            strawberry.argument(description="The year the school year starts in: 2025 for 2025/26"),
        ] = None,
    ) -> list[SchoolBreak]:
        async with reading(info) as session:
            rows = await school_calendar.breaks_of(session, region_code.strip(), school_year)
        return [SchoolBreak.present(row) for row in rows]


@strawberry.type
class CalendarMutation:
    @strawberry.federation.mutation(
        description="Set your region's school holidays of a school year (autumn, winter, spring, summer; "
        "each once): they replace the year's earlier breaks. The idle-school alert does not count "
        "their days",
        requires_scopes=[[Role.regional_admin.value]],
    )
    async def set_school_breaks(
        self, info: Info, region_code: str, school_year: SchoolYear, breaks: list[SchoolBreakInput]
    ) -> SchoolYearBreaksResult:
        caller, now, source = identity(info), now_of(info), source_of(info)

        async def region(session: AsyncSession) -> Target:
            return Target.of(region_code.strip())

        async def action(session: AsyncSession) -> SchoolYearBreaks:
            rows = await school_calendar.set_breaks(
                session,
                region_code,
                school_year,
                [given.to_break() for given in breaks],
                by=caller.subject or "",
                at=now,
                source=source,
            )
            return SchoolYearBreaks(
                region_code=rows[0].region_code if rows else region_code.strip(),
                school_year=school_year,
                breaks=[SchoolBreak.present(row) for row in rows],
            )

        return await run_command(
            info, lambda shown: shown, action, scope=region, roles=(Role.regional_admin,)
        )
