"""Regional facts entered by hand (a methodologist, a regional admin): assessment results, a
completed training, a diagnosed deficit.

Their source is Setka's own «manual entry» source of the organization's region
(``/setka/manual/<region>``), registered on the first entry with the grants hand entry needs (its
``source_system``, the topics of these facts, its region): the consumer's gate holds it to them as
any source, and a regional admin may revoke them (``revokeSource``) to stop hand entry.

Each becomes a fact of the inbound contract and goes the one way every fact goes
(:mod:`services.events.intake`): kept with the audit entry in one transaction, then applied by the
consumer of its topic — the same validation, versions, grants and reasons as from Kafka — and the
answer says what became of it. Entering a result again with other numbers replaces it (a newer
version); a training or a deficit is replaced when entered again with the same ``externalId``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

import strawberry
from setka_contracts import CloudEvent, topics
from setka_contracts.regional import (
    AssessmentResultPublished,
    DeficitDiagnosed,
    RegionalFact,
    TrainingCompleted,
)
from setka_runtime import audit
from setka_runtime.access import EDITORS
from setka_runtime.errors import DomainError
from setka_runtime.graphql import ValidationError, identity, run_command
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from .. import scopes, sources
from ..intake import Fact, Intake, check, store_in
from ..models import KnownOrganization

SOURCE = "/setka/manual"
"""The ``ce_source`` of facts entered by hand, followed by the region's code."""
TOPICS = (topics.REGIONAL_ASSESSMENTS, topics.REGIONAL_TRAININGS, topics.REGIONAL_DEFICITS)
SOURCE_SYSTEM = "setka-manual"
"""Their ``source_system``: a fact entered by hand is Setka's own record of it."""


@strawberry.type(description="A regional fact entered by hand, and what became of it")
class FactEntered:
    id: strawberry.ID = strawberry.field(description="The fact's CloudEvents id")
    outcome: str = strawberry.field(
        description="applied; repeat (nothing new in it); waiting (it names what Setka does not know yet)"
    )
    reason: str | None = strawberry.field(description="Why it waits, when it does")


FactEntryResult = Annotated[FactEntered | ValidationError, strawberry.union("FactEntryResult")]


@strawberry.input(description="Results of one assessment procedure at one school: a subject, a grade, a year")
class AssessmentResultEntry:
    organization_id: strawberry.ID = strawberry.field(description="The school")
    procedure: str = strawberry.field(description="vpr, oge, ege or regional_diagnostic")
    subject: str
    grade: int
    year: int
    participants: int
    mean_score: float
    share2: float | None = strawberry.field(default=None, description="Share of the mark 2, 0..1")
    share3: float | None = None
    share4: float | None = None
    share5: float | None = None


@strawberry.input(description="A completed course of professional training (курсы повышения квалификации)")
class TrainingEntry:
    educator_id: strawberry.ID
    organization_id: strawberry.ID = strawberry.field(description="The educator's organization")
    course: str
    provider: str
    hours: int
    completed_on: date
    external_id: str | None = strawberry.field(
        default=None, description="The certificate's number: entering it again replaces the training"
    )


@strawberry.input(description="A professional deficit of an educator found by a diagnostic")
class DeficitEntry:
    educator_id: strawberry.ID
    organization_id: strawberry.ID = strawberry.field(description="The educator's organization")
    competency: str
    level: str = strawberry.field(description="low, medium or high")
    diagnosed_on: date
    external_id: str | None = strawberry.field(
        default=None, description="The diagnostic's id of it: entering it again replaces the deficit"
    )


async def enter(
    info: Info, model: type[RegionalFact], data: dict[str, Any], organization_id: strawberry.ID
) -> FactEntered | ValidationError:
    """Keep the fact (with the audit entry) if the caller may write about the organization, then
    apply it with the consumer of its topic and tell what became of it."""
    intake: Intake = info.context["intake"]
    caller = identity(info)
    data = {
        "source_system": SOURCE_SYSTEM,
        "external_id": str(uuid.uuid4()),
        **{name: value for name, value in data.items() if value is not None},
        "recorded_at": datetime.now(UTC).isoformat(),
    }

    async def keep(session: AsyncSession) -> tuple[Fact, str]:
        organization = await session.get(KnownOrganization, uuid.UUID(str(organization_id)))
        assert organization is not None  # the scope has found it
        source = await manual_source(session, organization.region_code)
        event = CloudEvent(type=model.event_type, source=source, data=data)
        checked = check(event.headers(), event.body(), intake.models, snils_key=intake.snils_key)
        if isinstance(checked, str):
            raise DomainError(f"Факт не принят: {checked}", code="FACT_INVALID")
        await store_in(session, [checked], sender=caller.subject)
        audit.note(
            session,
            kind=model.event_type,
            key=checked.item.data.key(),
            ident=event.id,
            note=f"введён вручную (источник {source}) об организации {organization.id}, применяется как факт"
            " из региональной системы",
        )
        return checked, event.id

    result = await run_command(info, lambda kept: kept, keep, scope=scopes.organizations(organization_id))
    if isinstance(result, ValidationError):
        return result
    fact, event_id = result
    intake.arrived.set()
    outcome = (await intake.settle([fact.key]))[fact.key]
    if outcome.outcome == "rejected":
        return ValidationError(field=None, message=f"Факт не принят: {outcome.reason}", code="FACT_REJECTED")
    return FactEntered(id=strawberry.ID(event_id), outcome=outcome.outcome, reason=outcome.reason or None)


async def manual_source(session: AsyncSession, region_code: str) -> str:
    """The ce_source of hand entry in the region, registered with its grants on first use (a
    source whose grants an admin has changed since is left as it is)."""
    ce_source = f"{SOURCE}/{region_code}"
    if await sources.region_of(session, ce_source) is None:
        await sources.register(
            session,
            ce_source=ce_source,
            region_code=region_code,
            title=f"Ввод вручную (регион {region_code})",
            grants={
                sources.GrantKind.source_system: [SOURCE_SYSTEM],
                sources.GrantKind.topic: list(TOPICS),
                sources.GrantKind.region: [region_code],
            },
        )
    return ce_source


def _organization(organization_id: strawberry.ID) -> dict[str, str]:
    return {"id": str(organization_id)}


@strawberry.type
class FactMutation:
    @strawberry.federation.mutation(
        description="Enter a school's results of an assessment procedure by hand (a regional admin or a"
        " municipal coordinator of the school): applied as the assessment centre's facts are",
        requires_scopes=[[role.value] for role in EDITORS],
    )
    async def record_assessment_result(self, info: Info, input: AssessmentResultEntry) -> FactEntryResult:
        shares = {
            mark: value
            for mark, value in (
                ("2", input.share2),
                ("3", input.share3),
                ("4", input.share4),
                ("5", input.share5),
            )
            if value is not None
        }
        data = {
            "organization": _organization(input.organization_id),
            "procedure": input.procedure,
            "subject": input.subject,
            "grade": input.grade,
            "year": input.year,
            "participants": input.participants,
            "mean_score": input.mean_score,
            "mark_shares": shares,
            "external_id": "/".join(
                str(part)
                for part in (input.procedure, input.organization_id, input.subject, input.grade, input.year)
            ),
        }
        return await enter(info, AssessmentResultPublished, data, input.organization_id)

    @strawberry.federation.mutation(
        description="Enter an educator's completed training by hand (the editors of the educator's"
        " organization): applied as the course system's facts are",
        requires_scopes=[[role.value] for role in EDITORS],
    )
    async def record_training(self, info: Info, input: TrainingEntry) -> FactEntryResult:
        data = {
            "educator_id": str(input.educator_id),
            "organization": _organization(input.organization_id),
            "course": input.course,
            "provider": input.provider,
            "hours": input.hours,
            "completed_on": input.completed_on.isoformat(),
            "external_id": input.external_id,
        }
        return await enter(info, TrainingCompleted, data, input.organization_id)

    @strawberry.federation.mutation(
        description="Enter an educator's diagnosed professional deficit by hand (the editors of the"
        " educator's organization): applied as the diagnostic system's facts are",
        requires_scopes=[[role.value] for role in EDITORS],
    )
    async def record_deficit(self, info: Info, input: DeficitEntry) -> FactEntryResult:
        data = {
            "educator_id": str(input.educator_id),
            "organization": _organization(input.organization_id),
            "competency": input.competency,
            "level": input.level,
            "diagnosed_on": input.diagnosed_on.isoformat(),
            "external_id": input.external_id,
        }
        return await enter(info, DeficitDiagnosed, data, input.organization_id)
