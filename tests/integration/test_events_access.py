"""Who may change and see what in the events subgraph, on a real PostgreSQL database.

Writes: each mutation needs one of its roles over the scope it lands in (a coordinator their
municipality, a school representative their organization); a refused write is a GraphQL error
with its code and changes nothing, not even the outbox; a write that is made records exactly one
audit entry with its events. Reads: activities not yet announced are for those who may act on
them, draft plans for the network's editors and its members' representatives; educators'
trainings, deficits and participation are personal data, each caller's within their scope.
"""

from __future__ import annotations

import asyncio
import base64
import json
import tempfile
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from setka_contracts import topics
from setka_contracts.audit import AuditRecorded
from setka_runtime.access import ALL_REGIONS, ANONYMOUS, Identity, Role
from setka_runtime.tables import outbox
from sqlalchemy import select, text

from services.events import app as events
from services.events import documents
from services.events import models as m
from services.events.intake import Intake
from services.events.live import ActivityChange, LiveActivities
from services.events.schema import schema
from services.events.settings import EventsSettings
from tests.conftest import DatabaseFactory
from tests.integration.events_world import NOW, REGION, World, make_world

pytestmark = pytest.mark.integration

AUDIT = AuditRecorded.event_type


def person(role: Role, **scope: Any) -> Identity:
    return Identity(subject=f"test-{role.value}", roles=frozenset({role}), **scope)


ADMIN = person(Role.regional_admin, region_code=ALL_REGIONS)
EXPERT = person(Role.expert, region_code=REGION)
VIEWER = person(Role.viewer)


def coordinator(municipality: uuid.UUID) -> Identity:
    return person(Role.municipal_coordinator, region_code=REGION, municipality_id=str(municipality))


def representative(organization: uuid.UUID) -> Identity:
    return person(Role.school_representative, region_code=REGION, organization_id=str(organization))


@dataclass
class AccessWorld(World):
    intake: Intake | None = None
    """The events service's intake, which the facts entered by hand go through (not running: a
    mutation applies its fact itself)."""


@pytest.fixture(scope="module")
async def world(databases: DatabaseFactory) -> AsyncIterator[World]:
    async for made in make_world(databases, "events_access"):
        service = events.build(
            EventsSettings(database_url=made.db.url, kafka_bootstrap_servers="127.0.0.1:9")
        )
        try:
            yield AccessWorld(
                **{f.name: getattr(made, f.name) for f in fields(made)}, intake=service.context["intake"]
            )
        finally:
            await service.db.dispose()


async def outbox_rows(world: World) -> list[tuple[str, Any]]:
    """The outbox in order: (event type, data), the data with its row's ``_topic`` and ``_id``."""
    async with world.db.session() as session:
        query = select(outbox.c.event_type, outbox.c.payload, outbox.c.topic, outbox.c.event_id)
        rows = (await session.execute(query.order_by(outbox.c.id))).all()
    return [(t, json.loads(p) | {"_topic": topic, "_id": ident}) for t, p, topic, ident in rows]


FILES = documents.attachments(
    EventsSettings(database_url="sqlite+aiosqlite://", documents_dir=tempfile.mkdtemp(prefix="setka-access-"))
)
"""The documents of these tests' activities, in a folder of their own."""
OWN_SETTINGS = frozenset({"markNotificationsRead", "setNotificationPreferences", "forgetMyNotificationData"})
"""A person's own notification settings and data: not writes about the domain, not audited."""
BY_REGIONAL_ADMINS = frozenset(
    {
        "registerSource",
        "grantSource",
        "revokeSource",
        "issueSourceToken",
        "revokeSourceToken",
        "recordAssessmentResult",
        "recordTraining",
        "recordDeficit",
    }
)
"""A regional admin's sources and the facts entered by hand (through a source's grants): made by
test_a_regional_admin_manages_their_regions_sources_and_enters_facts, not by the coordinator."""


async def execute(world: World, caller: Identity, query: str, **variables: Any) -> Any:
    context = {
        "db": world.db,
        "identity": caller,
        "service_name": "events",
        "documents": FILES,
        "intake": world.intake if isinstance(world, AccessWorld) else None,
    }
    return await schema.execute(query, variable_values=variables, context_value=context)


async def read(world: World, caller: Identity, query: str, **variables: Any) -> dict[str, Any]:
    result = await execute(world, caller, query, **variables)
    assert result.errors is None, result.errors
    return result.data


async def write(world: World, caller: Identity, query: str, **variables: Any) -> dict[str, Any]:
    """A mutation that is made: its answer is no ValidationError, and it adds its events and
    exactly one audit entry, naming the caller, the operation and those events."""
    before = await outbox_rows(world)
    data = await read(world, caller, query, **variables)
    (answer,) = data.values()
    assert answer["__typename"] != "ValidationError", answer
    added = (await outbox_rows(world))[len(before) :]
    audits = [d for t, d in added if t == AUDIT]
    assert len(audits) == 1, added
    (audit,) = audits
    assert audit["subject"] == caller.subject and audit["service"] == "events"
    assert audit["_topic"] == AuditRecorded.topic
    caused = sorted((d["_id"], t) for t, d in added if t != AUDIT)
    assert sorted((e["event_id"], e["event_type"]) for e in audit["events"]) == caused
    return answer


KEPT_APART = ("registered_source", "source_grant", "source_credential", "accepted_fact")
"""What changes without an event in the outbox: the sources, their grants and tokens, the facts kept."""


async def kept_apart(world: World) -> list[list[Any]]:
    async with world.db.session() as session:
        return [
            sorted(map(tuple, (await session.execute(text(f"SELECT * FROM {table}"))).all()), key=repr)
            for table in KEPT_APART
        ]


async def refused(world: World, caller: Identity, code: str, query: str, **variables: Any) -> None:
    """A mutation or a read refused with ``code``; the outbox (and so the state) is unchanged, and
    so are the sources and the facts kept to be applied."""
    before, apart = await outbox_rows(world), await kept_apart(world)
    result = await execute(world, caller, query, **variables)
    assert result.errors, result.data
    assert {e.extensions["code"] for e in result.errors} == {code}, result.errors
    assert await outbox_rows(world) == before
    assert await kept_apart(world) == apart


PLAN_ACTIVITY = """mutation($input: PlanActivityInput!) { planActivity(input: $input) {
  __typename ... on Activity { id status } ... on ValidationError { field message } } }"""
HOLD = """mutation($id: ID!) { holdActivity(activityId: $id) {
  __typename ... on Activity { status } ... on ValidationError { message code } } }"""
ANNOUNCE = """mutation($id: ID!) { announceActivity(activityId: $id) {
  __typename ... on Activity { status } ... on ValidationError { message } } }"""
ATTEND = """mutation($a: ID!, $o: ID!, $e: ID) {
  recordAttendance(activityId: $a, organizationId: $o, educatorId: $e, hours: 1) {
  __typename ... on AttendanceRecord { hours } ... on ValidationError { message } } }"""


def activity_input(world: World, *, starts_in: timedelta, host: uuid.UUID | None = None) -> dict[str, Any]:
    starts = NOW + starts_in
    return {
        "title": "Семинар «Смысловое чтение»",
        "activityType": "seminar",
        "format": "in_person",
        "hostOrganizationId": str(host or world.host),
        "networkId": str(world.network) if host in (None, world.host) else None,
        "startsAt": starts.isoformat(),
        "endsAt": (starts + timedelta(hours=2)).isoformat(),
    }


async def planned(world: World, *, starts_in: timedelta, host: uuid.UUID | None = None) -> str:
    answer = await write(
        world, ADMIN, PLAN_ACTIVITY, input=activity_input(world, starts_in=starts_in, host=host)
    )
    return answer["id"]


async def held(world: World) -> str:
    activity = await planned(world, starts_in=timedelta(hours=-3))
    await write(world, ADMIN, HOLD, id=activity)
    return activity


# --- writes ---------------------------------------------------------------------------------------


async def test_a_coordinator_plans_activities_hosted_in_their_municipality_only(world: World) -> None:
    plan = activity_input(world, starts_in=timedelta(days=2))
    await refused(world, coordinator(world.other_municipality), "FORBIDDEN", PLAN_ACTIVITY, input=plan)
    made = await write(world, coordinator(world.municipality), PLAN_ACTIVITY, input=plan)
    assert made["status"] == "planned"
    audit = [d for t, d in await outbox_rows(world) if t == AUDIT][-1]
    assert audit["operation"] == "planActivity" and audit["roles"] == ["municipal_coordinator"]
    assert (audit["region_code"], audit["municipality_id"], audit["organization_ids"]) == (
        REGION,
        str(world.municipality),
        [str(world.host)],
    )
    assert audit["events"][0]["event_type"] == "setka.events.activity.planned.v1"


async def test_attendance_is_recorded_by_the_participant_or_the_host(world: World) -> None:
    activity = await held(world)
    ours, theirs = coordinator(world.municipality), coordinator(world.other_municipality)
    # the other municipality's coordinator covers neither the host nor this participant
    await refused(world, theirs, "FORBIDDEN", ATTEND, a=activity, o=str(world.host), e=str(world.educator))
    await write(world, ours, ATTEND, a=activity, o=str(world.host), e=str(world.educator))
    # the outsider's side records their own school's attendance of another's activity ...
    await write(world, theirs, ATTEND, a=activity, o=str(world.outsider), e=None)
    await write(world, representative(world.outsider), ATTEND, a=activity, o=str(world.outsider), e=None)
    # ... and so does the host's side, who knows who came
    await write(world, representative(world.host), ATTEND, a=activity, o=str(world.outsider), e=None)
    # a school that is neither the host nor the participant does not
    await refused(
        world, representative(world.former), "FORBIDDEN", ATTEND, a=activity, o=str(world.outsider), e=None
    )


async def test_a_school_representative_changes_only_what_their_organization_hosts(world: World) -> None:
    activity = await planned(world, starts_in=timedelta(hours=-1))
    await refused(world, representative(world.outsider), "FORBIDDEN", HOLD, id=activity)
    answer = await write(world, representative(world.host), HOLD, id=activity)
    assert answer["status"] == "held"
    # plans are the editors': a representative may not draft one, whatever their organization
    draft = 'mutation($n: ID!) { draftPlan(networkId: $n, year: 2031, title: "План") { __typename } }'
    await refused(world, representative(world.host), "FORBIDDEN", draft, n=str(world.network))


async def test_anonymous_callers_experts_and_viewers_change_nothing(world: World) -> None:
    activity = await planned(world, starts_in=timedelta(hours=-1))
    plan = activity_input(world, starts_in=timedelta(days=1))
    await refused(world, ANONYMOUS, "UNAUTHENTICATED", PLAN_ACTIVITY, input=plan)
    await refused(world, ANONYMOUS, "UNAUTHENTICATED", HOLD, id=activity)
    for caller in (EXPERT, VIEWER):
        await refused(world, caller, "FORBIDDEN", PLAN_ACTIVITY, input=plan)
        await refused(world, caller, "FORBIDDEN", HOLD, id=activity)


async def test_an_unknown_id_is_out_of_scope_but_a_validation_error_for_an_admin_of_every_region(
    world: World,
) -> None:
    unknown = str(uuid.uuid4())
    await refused(world, coordinator(world.municipality), "FORBIDDEN", HOLD, id=unknown)
    before = await outbox_rows(world)
    answer = (await read(world, ADMIN, HOLD, id=unknown))["holdActivity"]
    assert answer["__typename"] == "ValidationError" and answer["code"] == "ACTIVITY_NOT_FOUND", answer
    assert answer["message"] == "Такого мероприятия нет"
    malformed = (await read(world, ADMIN, HOLD, id="not-an-id"))["holdActivity"]
    assert malformed["__typename"] == "ValidationError"
    assert await outbox_rows(world) == before  # a refused write is not audited


async def test_every_mutation_is_audited_once_for_an_editor_in_scope(world: World) -> None:
    """Each mutation of the subgraph, by the network's municipal coordinator."""
    ours = coordinator(world.municipality)
    start = len(await outbox_rows(world))
    network = str(world.network)
    plan = await write(
        world,
        ours,
        'mutation($n: ID!) { draftPlan(networkId: $n, year: 2030, title: "План 2030") {'
        " __typename ... on Plan { id } ... on ValidationError { message } } }",
        n=network,
    )
    host = str(world.host)
    task = {"kind": "task", "responsibleOrganizationId": host, "title": "Заключить договоры"}
    item = await write(
        world,
        ours,
        "mutation($i: AddPlanItemInput!) { addPlanItem(input: $i) { __typename ... on PlanItem { id } } }",
        i={"planId": plan["id"], "dueOn": "2030-03-01", **task},
    )
    propose = (
        "mutation($i: ProposePlanItemInput!) { proposePlanItem(input: $i) { __typename"
        " ... on PlanProposal { id } } }"
    )
    proposals = [
        await write(
            world,
            ours,
            propose,
            i={"planId": plan["id"], "organizationId": host, "title": title, "dueOn": "2030-04-01"},
        )
        for title in ("Открытый урок", "Мастер-класс")
    ]
    await write(
        world,
        ours,
        "mutation($p: ID!) { acceptPlanProposal(proposalId: $p) { __typename } }",
        p=proposals[0]["id"],
    )
    await write(
        world,
        ours,
        'mutation($p: ID!) { declinePlanProposal(proposalId: $p, reason: "Повтор") { __typename } }',
        p=proposals[1]["id"],
    )
    for step in ("agreePlan", "startPlan"):
        await write(world, ours, f"mutation($p: ID!) {{ {step}(planId: $p) {{ __typename }} }}", p=plan["id"])
    await write(
        world,
        ours,
        "mutation($i: AmendPlanInput!) { amendPlan(input: $i) { __typename } }",
        i={
            "planId": plan["id"],
            "reason": "Перенос",
            "changes": [{"itemId": item["id"], "dueOn": "2030-03-15", **task}],
        },
    )
    await write(
        world,
        ours,
        'mutation($i: ID!) { markPlanItemDone(itemId: $i, note: "Подписаны") { __typename } }',
        i=item["id"],
    )
    meeting_input = {
        "networkId": network,
        "kind": "council",
        "title": "Совет сети",
        "startsAt": (NOW - timedelta(hours=2)).isoformat(),
        "place": "Управление образования",
        "agenda": ["О плане"],
        "participants": [{"organizationId": host}],
    }
    meeting_result = "__typename ... on Meeting { id }"
    meetings = [
        await write(
            world,
            ours,
            f"mutation($i: ScheduleMeetingInput!) {{ scheduleMeeting(input: $i) {{ {meeting_result} }} }}",
            i=meeting_input,
        )
        for _ in range(2)
    ]
    await write(
        world,
        ours,
        "mutation($i: ChangeMeetingInput!) { changeMeeting(input: $i) { __typename } }",
        i={**{k: v for k, v in meeting_input.items() if k != "networkId"}, "meetingId": meetings[0]["id"]},
    )
    await write(
        world,
        ours,
        'mutation($m: ID!) { cancelMeeting(meetingId: $m, reason: "Перенос") { __typename } }',
        m=meetings[1]["id"],
    )
    await write(
        world,
        ours,
        'mutation($m: ID!) { holdMeeting(meetingId: $m, minutes: "Протокол") { __typename } }',
        m=meetings[0]["id"],
    )
    decision = await write(
        world,
        ours,
        "mutation($i: RecordMeetingDecisionInput!) { recordMeetingDecision(input: $i) { __typename"
        " ... on MeetingDecision { id } } }",
        i={
            "meetingId": meetings[0]["id"],
            "text": "Семинар",
            "responsibleOrganizationId": host,
            "dueOn": "2030-06-01",
        },
    )
    await write(
        world,
        ours,
        "mutation($d: ID!) { planMeetingDecision(decisionId: $d) { __typename } }",
        d=decision["id"],
    )
    await write(world, ours, "mutation($p: ID!) { closePlan(planId: $p) { __typename } }", p=plan["id"])

    past = await write(world, ours, PLAN_ACTIVITY, input=activity_input(world, starts_in=timedelta(hours=-3)))
    await write(world, ours, HOLD, id=past["id"])
    await write(world, ours, ATTEND, a=past["id"], o=str(world.host), e=str(world.educator))
    await write(
        world,
        ours,
        "mutation($a: ID!, $o: ID!) { giveFeedback(activityId: $a, rating: 5, organizationId: $o)"
        " { __typename } }",
        a=past["id"],
        o=str(world.former),
    )
    await write(
        world,
        ours,
        'mutation($a: ID!) { addMaterial(activityId: $a, title: "Слайды", url: "https://example.org/s")'
        " { __typename } }",
        a=past["id"],
    )
    await write(
        world,
        ours,
        'mutation($a: ID!) { reportActivity(activityId: $a, report: "Прошло") { __typename } }',
        a=past["id"],
    )

    future = await write(world, ours, PLAN_ACTIVITY, input=activity_input(world, starts_in=timedelta(days=5)))
    await write(world, ours, ANNOUNCE, id=future["id"])
    await write(
        world,
        ours,
        "mutation($i: AttachEventsDocumentInput!) { attachEventsDocument(input: $i) { __typename } }",
        i={
            "ownerKind": "activity",
            "ownerId": future["id"],
            "fileName": "Программа.pdf",
            "contentBase64": base64.b64encode(b"%PDF-1.7\n% programme\n%%EOF\n").decode(),
        },
    )
    await write(
        world,
        ours,
        "mutation($a: ID!, $o: ID!) { registerParticipant(activityId: $a, organizationId: $o)"
        " { __typename } }",
        a=future["id"],
        o=str(world.host),
    )
    await write(
        world,
        ours,
        'mutation($a: ID!) { postponeActivity(activityId: $a, reason: "Карантин") { __typename } }',
        a=future["id"],
    )
    await write(
        world,
        ours,
        'mutation($a: ID!) { cancelActivity(activityId: $a, reason: "Отменено") { __typename } }',
        a=future["id"],
    )
    mobility = {
        "kind": "teachers",
        "homeOrganizationId": str(world.host),
        "hostOrganizationId": str(world.former),
        "networkId": network,
        "programme": "Стажировка",
        "participants": 2,
        "startsOn": "2026-02-01",
        "endsOn": "2026-02-10",
        "hours": 12,
    }
    mutation = (
        "mutation($i: RecordMobilityInput!) { recordMobility(input: $i) {"
        " __typename ... on MobilityRecord { id } } }"
    )
    await refused(world, coordinator(world.other_municipality), "FORBIDDEN", mutation, i=mobility)
    recorded = await write(world, ours, mutation, i=mobility)
    correct = "mutation($i: CorrectMobilityInput!) { correctMobility(input: $i) { __typename } }"
    corrected = {"mobilityId": recorded["id"], "participants": 3}
    await refused(world, coordinator(world.other_municipality), "FORBIDDEN", correct, i=corrected)
    await write(world, ours, correct, i=corrected)
    delete = 'mutation($m: ID!) { deleteMobility(mobilityId: $m, reason: "по ошибке") { __typename } }'
    await refused(world, coordinator(world.other_municipality), "FORBIDDEN", delete, m=recorded["id"])
    await write(world, ours, delete, m=recorded["id"])

    audited = Counter(d["operation"] for t, d in (await outbox_rows(world))[start:] if t == AUDIT)
    mutations = schema._schema.mutation_type
    expected = set(mutations.fields) - OWN_SETTINGS - BY_REGIONAL_ADMINS if mutations is not None else set()
    assert set(audited) == expected, audited


SOURCE = "__typename ... on RegionalSource { ceSource topics regions tokens { id revokedAt } }" + (
    " ... on ValidationError { code message }"
)
REGISTER_SOURCE = f"mutation($i: RegisterSourceInput!) {{ registerSource(input: $i) {{ {SOURCE} }} }}"
GRANT_SOURCE = f"mutation($i: SourceGrantInput!) {{ grantSource(input: $i) {{ {SOURCE} }} }}"
REVOKE_SOURCE = f"mutation($i: SourceGrantInput!) {{ revokeSource(input: $i) {{ {SOURCE} }} }}"
ISSUE_TOKEN = """mutation($s: String!) { issueSourceToken(ceSource: $s) { __typename
  ... on IssuedSourceToken { token tokenId } ... on ValidationError { code message } } }"""
REVOKE_TOKEN = (
    f"mutation($s: String!, $t: ID) {{ revokeSourceToken(ceSource: $s, tokenId: $t) {{ {SOURCE} }} }}"
)
FACT = "__typename ... on FactEntered { id outcome reason } ... on ValidationError { code message }"
RECORD_RESULT = f"mutation($i: AssessmentResultEntry!) {{ recordAssessmentResult(input: $i) {{ {FACT} }} }}"
RECORD_TRAINING = f"mutation($i: TrainingEntry!) {{ recordTraining(input: $i) {{ {FACT} }} }}"
RECORD_DEFICIT = f"mutation($i: DeficitEntry!) {{ recordDeficit(input: $i) {{ {FACT} }} }}"


async def admin_write(
    world: World, caller: Identity, query: str, **variables: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A regional admin's write that is made: exactly one audit entry, naming the caller, the
    operation and the region; the answer, and the changes the entry names."""
    before = len(await outbox_rows(world))
    data = await read(world, caller, query, **variables)
    ((operation, answer),) = data.items()
    assert answer["__typename"] != "ValidationError", answer
    audits = [d for t, d in (await outbox_rows(world))[before:] if t == AUDIT]
    assert len(audits) == 1, audits
    (entry,) = audits
    assert (entry["operation"], entry["subject"], entry["service"]) == (operation, caller.subject, "events")
    assert (entry["roles"], entry["region_code"]) == (["regional_admin"], REGION)
    return answer, entry["events"]


async def rows_of(world: World, table: str) -> int:
    async with world.db.session() as session:
        return int((await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_a_regional_admin_manages_their_regions_sources_and_enters_facts(world: World) -> None:
    """Each of a regional admin's writes about sources and facts: made by the admin of the region,
    audited with what changed; refused to the admin of another region, and nothing changes."""
    ours = person(Role.regional_admin, region_code=REGION)
    theirs = Identity(subject="test-admin-08", roles=frozenset({Role.regional_admin}), region_code="08")
    start = len(await outbox_rows(world))
    ce_source = "/regional/rcoi-39-access"

    registration = {
        "ceSource": ce_source,
        "regionCode": REGION,
        "title": "РЦОИ Калининградской области",
        "sourceSystems": ["rcoi-39"],
        "topics": [topics.REGIONAL_ASSESSMENTS],
        "regions": [REGION],
    }
    await refused(world, theirs, "FORBIDDEN", REGISTER_SOURCE, i=registration)
    source, (change,) = await admin_write(world, ours, REGISTER_SOURCE, i=registration)
    assert (source["ceSource"], source["regions"]) == (ce_source, [REGION])
    assert (change["event_type"], change["key"]) == ("source-registered", ce_source)
    assert f"регион {REGION}" in change["note"] and "rcoi-39" in change["note"], change

    grant = {"ceSource": ce_source, "kind": "topic", "values": [topics.REGIONAL_TRAININGS]}
    await refused(world, theirs, "FORBIDDEN", GRANT_SOURCE, i=grant)
    source, (change,) = await admin_write(world, ours, GRANT_SOURCE, i=grant)
    assert source["topics"] == sorted([topics.REGIONAL_ASSESSMENTS, topics.REGIONAL_TRAININGS])
    assert (change["event_type"], change["key"]) == ("source-granted", ce_source)
    assert f"разрешено: темы {topics.REGIONAL_TRAININGS}" in change["note"], change
    # nor may the region's own admin let its source write about another region
    apart = await kept_apart(world)
    outside = await read(world, ours, GRANT_SOURCE, i={**grant, "kind": "region", "values": ["08"]})
    assert outside["grantSource"]["code"] == "REGION_OUTSIDE_SCOPE", outside
    assert await kept_apart(world) == apart

    await refused(world, theirs, "FORBIDDEN", REVOKE_SOURCE, i=grant)
    source, (change,) = await admin_write(world, ours, REVOKE_SOURCE, i=grant)
    assert source["topics"] == [topics.REGIONAL_ASSESSMENTS]
    assert (change["event_type"], change["key"]) == ("source-revoked", ce_source)
    assert f"отозвано: темы {topics.REGIONAL_TRAININGS}" in change["note"], change

    await refused(world, theirs, "FORBIDDEN", ISSUE_TOKEN, s=ce_source)
    issued, (change,) = await admin_write(world, ours, ISSUE_TOKEN, s=ce_source)
    assert (change["event_type"], change["key"]) == ("source-token-issued", ce_source)
    assert issued["tokenId"] in change["note"] and issued["token"] not in json.dumps(change)

    await refused(world, theirs, "FORBIDDEN", REVOKE_TOKEN, s=ce_source, t=issued["tokenId"])
    source, (change,) = await admin_write(world, ours, REVOKE_TOKEN, s=ce_source, t=issued["tokenId"])
    assert [t["revokedAt"] is not None for t in source["tokens"]] == [True]
    assert (change["event_type"], change["key"]) == ("source-token-revoked", ce_source)
    assert issued["tokenId"] in change["note"], change

    host, educator = str(world.host), str(world.educator)
    facts = (
        (
            RECORD_RESULT,
            {
                "organizationId": host,
                "procedure": "vpr",
                "subject": "математика",
                "grade": 5,
                "year": 2025,
                "participants": 24,
                "meanScore": 3.9,
                "share2": 0.1,
                "share3": 0.3,
                "share4": 0.4,
                "share5": 0.2,
            },
            "assessment_result",
        ),
        (
            RECORD_TRAINING,
            {
                "educatorId": educator,
                "organizationId": host,
                "course": "Наставничество",
                "provider": "КОИРО",
                "hours": 24,
                "completedOn": "2025-02-01",
                "externalId": "КПК-access",
            },
            "training",
        ),
        (
            RECORD_DEFICIT,
            {
                "educatorId": educator,
                "organizationId": host,
                "competency": "Оценивание",
                "level": "high",
                "diagnosedOn": "2025-02-01",
                "externalId": "Д-access",
            },
            "deficit",
        ),
    )
    for query, entry, table in facts:
        await refused(world, theirs, "FORBIDDEN", query, i=entry)
        before = await rows_of(world, table)
        entered, changes = await admin_write(world, ours, query, i=entry)
        assert entered["outcome"] == "applied", entered
        assert await rows_of(world, table) == before + 1
        (fact,) = [change for change in changes if change["event_id"] == entered["id"]]
        assert fact["event_type"].startswith("setka.regional."), fact
        assert "введён вручную (источник /setka/manual/39)" in fact["note"] and host in fact["note"]
        # the region's source of hand entry is registered with the first fact, and audited with it
        assert {c["event_type"] for c in changes if c is not fact} <= {"source-registered"}

    audited = {d["operation"] for t, d in (await outbox_rows(world))[start:] if t == AUDIT}
    assert audited == BY_REGIONAL_ADMINS


# --- reads ----------------------------------------------------------------------------------------

SEEN = """query($id: ID!, $host: ID!, $net: ID!) {
  activity(id: $id) { id }
  activities(first: 200) { edges { node { id } } }
  _entities(representations: [
    {__typename: "Organization", id: $host}, {__typename: "Network", id: $net}]) {
    ... on Organization { activities(first: 200) { edges { node { id } } } }
    ... on Network { calendar(first: 200) { edges { node { id } } } }
  }
}"""


async def sees(world: World, caller: Identity, activity: str) -> bool:
    """Whether the caller sees the activity, and then in every place it is shown."""
    data = await read(world, caller, SEEN, id=activity, host=str(world.host), net=str(world.network))
    places = [
        data["activity"] is not None,
        activity in {e["node"]["id"] for e in data["activities"]["edges"]},
        *(
            activity in {e["node"]["id"] for e in (place.get("activities") or place["calendar"])["edges"]}
            for place in data["_entities"]
        ),
    ]
    assert len(set(places)) == 1, places
    return places[0]


async def test_an_activity_is_public_once_announced(world: World) -> None:
    activity = await planned(world, starts_in=timedelta(days=3))
    hidden = (
        ANONYMOUS,
        VIEWER,
        EXPERT,
        representative(world.outsider),
        coordinator(world.other_municipality),
    )
    for caller in hidden:
        assert not await sees(world, caller, activity), caller
    for caller in (ADMIN, coordinator(world.municipality), representative(world.host)):
        assert await sees(world, caller, activity), caller
    await write(world, representative(world.host), ANNOUNCE, id=activity)
    for caller in hidden:
        assert await sees(world, caller, activity), caller


async def test_a_draft_plan_is_its_networks_editors_and_members_until_agreed(world: World) -> None:
    ours = coordinator(world.municipality)
    plan = await write(
        world,
        ours,
        'mutation($n: ID!) { draftPlan(networkId: $n, year: 2031, title: "План") { __typename'
        " ... on Plan { id } } }",
        n=str(world.network),
    )
    item = await write(
        world,
        ours,
        "mutation($i: AddPlanItemInput!) { addPlanItem(input: $i) { __typename ... on PlanItem { id } } }",
        i={"planId": plan["id"], "title": "Совещание", "dueOn": "2031-02-01"},
    )
    query = """query($p: ID!, $net: ID!, $item: ID!) {
      plan(id: $p) { id } plans(year: 2031) { id }
      _entities(representations: [{__typename: "Network", id: $net}, {__typename: "PlanItem", id: $item}]) {
        ... on Network { plans(year: 2031) { id } } ... on PlanItem { id } } }"""
    variables = {"p": plan["id"], "net": str(world.network), "item": item["id"]}

    def shown(data: dict[str, Any]) -> list[bool]:
        network, found_item = data["_entities"]
        return [
            data["plan"] is not None,
            bool(data["plans"]),
            bool(network["plans"]),
            found_item is not None,
        ]

    for caller in (ANONYMOUS, EXPERT, representative(world.outsider), coordinator(world.other_municipality)):
        assert shown(await read(world, caller, query, **variables)) == [False] * 4, caller
    # the plan is drawn up jointly: a member's representative sees the draft (to propose items)
    for caller in (ours, representative(world.host)):
        assert shown(await read(world, caller, query, **variables)) == [True] * 4, caller
    await write(world, ours, "mutation($p: ID!) { agreePlan(planId: $p) { __typename } }", p=plan["id"])
    assert shown(await read(world, ANONYMOUS, query, **variables)) == [True] * 4


async def test_activity_changes_are_not_streamed_to_the_public_before_the_announcement(world: World) -> None:
    quiet = await planned(world, starts_in=timedelta(days=4))
    public = await planned(world, starts_in=timedelta(days=4, hours=1))
    await write(world, ADMIN, ANNOUNCE, id=public)
    live = LiveActivities("127.0.0.1:1", "unused", world.db, client_id="test")

    async def first_change(caller: Identity) -> str:
        context = {"db": world.db, "identity": caller, "live": live}
        stream = await schema.subscribe(
            "subscription { activityChanges { kind activity { id } } }", context_value=context
        )
        assert not isinstance(stream, type(None))
        waiting = asyncio.ensure_future(stream.__anext__())  # type: ignore[union-attr]
        for _ in range(1000):  # until the subscription has subscribed
            if live._subscribers:
                break
            await asyncio.sleep(0.01)
        for activity, kind in ((quiet, "planned"), (public, "announced")):
            live.publish(
                ActivityChange(
                    kind=kind,
                    activity_id=uuid.UUID(activity),
                    network_id=world.network,
                    occurred_at=datetime.now(UTC),
                    event_id=str(uuid.uuid4()),
                )
            )
        result = await asyncio.wait_for(waiting, 10)
        await stream.aclose()  # type: ignore[union-attr]
        assert result.errors is None, result.errors
        return result.data["activityChanges"]["activity"]["id"]

    assert await first_change(ANONYMOUS) == public
    assert await first_change(representative(world.host)) == quiet


async def test_trainings_and_deficits_are_personal_data_within_the_callers_scope(world: World) -> None:
    async with world.db.session() as session, session.begin():
        for organization in (world.host, world.outsider):
            common = {
                "educator_id": world.educator,
                "organization_id": organization,
                "source_system": "test",
                "external_id": f"access-{organization}",
            }
            session.add(
                m.Training(course="Курс", provider="ИРО", hours=36, completed_on=date(2026, 1, 1), **common)
            )
            session.add(
                m.Deficit(competency="Оценивание", level="high", diagnosed_on=date(2026, 1, 1), **common)
            )
    query = "{ trainings { organizationId } deficits { organizationId } }"

    async def organizations_seen(caller: Identity) -> set[str]:
        data = await read(world, caller, query)
        trainings = {r["organizationId"] for r in data["trainings"]}
        assert trainings == {r["organizationId"] for r in data["deficits"]}
        return trainings

    host, outsider = str(world.host), str(world.outsider)
    assert await organizations_seen(ADMIN) == {host, outsider}
    assert await organizations_seen(person(Role.regional_admin, region_code=REGION)) == {host, outsider}
    assert await organizations_seen(person(Role.regional_admin, region_code="08")) == set()
    assert await organizations_seen(coordinator(world.municipality)) == {host}
    assert await organizations_seen(representative(world.outsider)) == {outsider}
    await refused(world, ANONYMOUS, "UNAUTHENTICATED", query)
    for caller in (EXPERT, VIEWER):
        await refused(world, caller, "FORBIDDEN", "{ trainings { id } }")
        await refused(world, caller, "FORBIDDEN", "{ deficits { id } }")


async def test_an_educators_participation_is_personal_data_an_organizations_is_public(world: World) -> None:
    activity = await held(world)
    await write(world, ADMIN, ATTEND, a=activity, o=str(world.host), e=str(world.educator))
    by_educator = (
        "query($e: ID!) { participation(educatorId: $e) { activities } }",
        "query($e: ID!) { activities(participantEducatorId: $e) { edges { node { id } } } }",
    )
    for query in by_educator:
        await refused(world, ANONYMOUS, "UNAUTHENTICATED", query, e=str(world.educator))
        for caller in (EXPERT, representative(world.outsider), coordinator(world.other_municipality)):
            await refused(world, caller, "FORBIDDEN", query, e=str(world.educator))
        for caller in (representative(world.host), coordinator(world.municipality), ADMIN):
            assert await read(world, caller, query, e=str(world.educator))
    public = await read(
        world,
        ANONYMOUS,
        "query($o: ID!) { participation(organizationId: $o) { activities } }",
        o=str(world.host),
    )
    assert public["participation"]["activities"] >= 1
