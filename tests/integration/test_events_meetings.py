"""Meetings of a network's council or methodological association (issue 18 item 3), on a real
PostgreSQL database and, last, a real broker.

The coordinator schedules a meeting (a time, a place or a link, an agenda, participants who are
members), changes it while it is scheduled, holds it with its minutes or cancels it; records its
decisions (what, who answers for it, by when) and carries a decision into the network's plan: an
item of a draft plan, or a proposal to an agreed one that is accepted like any other — the item
and the decision refer to each other. Members' representatives read their networks' meetings,
educators taking part stay personal data, anonymous callers see nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from setka_contracts import topics
from setka_runtime.access import ANONYMOUS
from setka_runtime.russian import day

from services.events import app as events
from services.events import meetings, plans
from services.events.settings import EventsSettings
from tests.conftest import DatabaseFactory
from tests.helpers import headers_of, read_topic
from tests.integration.events_world import World, make_world
from tests.integration.test_events_access import (
    ADMIN,
    EXPERT,
    VIEWER,
    coordinator,
    outbox_rows,
    read,
    refused,
    representative,
    write,
)
from tests.integration.test_events_planning import ACCEPT, DRAFT, STEP, Net, invalid, network

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def world(databases: DatabaseFactory) -> AsyncIterator[World]:
    async for made in make_world(databases, "events_meetings"):
        yield made


RESULT = "__typename ... on ValidationError { field message code }"
MEETING_FIELDS = """id kind title status startsAt place onlineLink agenda minutes statusReason heldAt
  interactionGroup { id } participants { organizationId educatorId }"""
SCHEDULE = f"""mutation($i: ScheduleMeetingInput!) {{ scheduleMeeting(input: $i) {{ {RESULT}
  ... on Meeting {{ {MEETING_FIELDS} }} }} }}"""
CHANGE = f"""mutation($i: ChangeMeetingInput!) {{ changeMeeting(input: $i) {{ {RESULT}
  ... on Meeting {{ {MEETING_FIELDS} }} }} }}"""
HOLD = f"""mutation($m: ID!, $t: String!) {{ holdMeeting(meetingId: $m, minutes: $t) {{ {RESULT}
  ... on Meeting {{ id status minutes heldAt }} }} }}"""
CANCEL = f"""mutation($m: ID!, $r: String!) {{ cancelMeeting(meetingId: $m, reason: $r) {{ {RESULT}
  ... on Meeting {{ id status statusReason }} }} }}"""
DECIDE = f"""mutation($i: RecordMeetingDecisionInput!) {{ recordMeetingDecision(input: $i) {{ {RESULT}
  ... on MeetingDecision {{ id number text dueOn responsibleOrganizationId }} }} }}"""
DECISION_LINKS = """id planItem { id title kind dueOn responsibleOrganizationId expectedResult decisionId
  decision { id } } proposal { id status organizationId decisionId itemId }"""
PLAN_DECISION = f"""mutation($d: ID!, $k: String!, $t: String) {{
  planMeetingDecision(decisionId: $d, kind: $k, title: $t) {{ {RESULT} ... on MeetingDecision {{
  {DECISION_LINKS} }} }} }}"""
MEETING = f"""query($m: ID!) {{ meeting(id: $m) {{ {MEETING_FIELDS}
  decisions {{ number text dueOn {DECISION_LINKS} }} }} }}"""
MEETINGS = """query($n: ID!, $s: String) { meetings(networkId: $n, status: $s) { id title status } }"""
NETWORK_MEETINGS = """query($n: ID!) { _entities(representations: [{__typename: "Network", id: $n}]) {
  ... on Network { meetings { id } } } }"""
DUE = """query($n: ID, $d: Date) { decisionsDue(networkId: $n, dueBy: $d) { text dueOn meeting { id } } }"""


def at(days: float) -> str:
    return (datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)).isoformat()


def schedule_input(net: Net, world: World, **rest: Any) -> dict[str, Any]:
    return {
        "networkId": str(net.id),
        "kind": "council",
        "title": "Заседание совета сети № 1",
        "startsAt": at(-1),
        "place": "Управление образования, каб. 12",
        "agenda": ["О плане на год", "Об итогах диагностики"],
        "participants": [
            {"organizationId": str(net.centre)},
            {"organizationId": str(world.host), "educatorId": str(world.educator)},
        ],
    } | rest


async def scheduled(world: World, net: Net, **rest: Any) -> dict[str, Any]:
    return await write(world, coordinator(world.municipality), SCHEDULE, i=schedule_input(net, world, **rest))


async def held_with_decision(world: World, net: Net, due: str, responsible: uuid.UUID) -> tuple[str, str]:
    """A held meeting and its decision, due then, of the responsible member."""
    ours = coordinator(world.municipality)
    meeting = await scheduled(world, net)
    await write(world, ours, HOLD, m=meeting["id"], t="Слушали. Решили.")
    decision = await write(
        world,
        ours,
        DECIDE,
        i={
            "meetingId": meeting["id"],
            "text": "Провести семинар по формирующему оцениванию",
            "responsibleOrganizationId": str(responsible),
            "dueOn": due,
        },
    )
    return meeting["id"], decision["id"]


async def types_since(world: World, before: int) -> list[str]:
    return [t for t, _ in (await outbox_rows(world))[before:] if not t.startswith("setka.audit")]


# -- the meeting's lifecycle ----------------------------------------------------------------------


async def test_a_coordinator_schedules_changes_and_holds_a_meeting_with_its_minutes(world: World) -> None:
    net = await network(world)
    ours = coordinator(world.municipality)
    before = len(await outbox_rows(world))
    meeting = await scheduled(world, net, startsAt=at(2), interactionGroupId=str(net.group))
    assert (meeting["kind"], meeting["status"], meeting["agenda"]) == (
        "council",
        "scheduled",
        ["О плане на год", "Об итогах диагностики"],
    )
    assert meeting["interactionGroup"] == {"id": str(net.group)}
    assert meeting["participants"] == [
        {"organizationId": str(net.centre), "educatorId": None},
        {"organizationId": str(world.host), "educatorId": str(world.educator)},
    ]
    # a meeting not yet begun is not held
    early = await invalid(world, ours, HOLD, m=meeting["id"], t="Протокол")
    assert (early["code"], early["field"]) == ("HELD_BEFORE_START", "meetingId")
    assert early["message"].startswith("Заседание начнётся ")

    changed = await write(
        world,
        ours,
        CHANGE,
        i={
            "meetingId": meeting["id"],
            "kind": "methodological_association",
            "title": "Заседание РМО учителей математики",
            "startsAt": at(-0.1),
            "onlineLink": "https://vks.example.org/rmo",
            "agenda": ["Взаимопосещение уроков", "  ", "Разное"],
            "participants": [{"organizationId": str(net.supported)}, {"organizationId": str(net.supported)}],
        },
    )
    assert (changed["kind"], changed["place"], changed["onlineLink"]) == (
        "methodological_association",
        None,
        "https://vks.example.org/rmo",
    )
    assert changed["agenda"] == ["Взаимопосещение уроков", "Разное"]
    assert changed["participants"] == [{"organizationId": str(net.supported), "educatorId": None}]
    assert changed["interactionGroup"] is None

    minutes = "Слушали: руководителя РМО.\n\n\n\nПостановили: провести взаимопосещения.  "
    held = await write(world, ours, HOLD, m=meeting["id"], t=minutes)
    assert held["status"] == "held" and held["heldAt"]
    assert held["minutes"] == "Слушали: руководителя РМО.\n\nПостановили: провести взаимопосещения."
    again = await invalid(world, ours, HOLD, m=meeting["id"], t="ещё раз")
    assert again["message"] == "Провести можно только назначенное заседание, а это заседание — проведено"
    late = await invalid(
        world,
        ours,
        CHANGE,
        i={
            "meetingId": meeting["id"],
            "kind": "council",
            "title": "x",
            "startsAt": at(1),
            "place": "там",
            "agenda": ["a"],
        },
    )
    assert late["code"] == "MEETING_NOT_SCHEDULED"
    assert await types_since(world, before) == [
        "setka.events.meeting.scheduled.v1",
        "setka.events.meeting.changed.v1",
        "setka.events.meeting.held.v1",
    ]
    recorded = (await outbox_rows(world))[-2][1]
    assert recorded["meeting_id"] == meeting["id"] and recorded["minutes"] == held["minutes"]


async def test_a_meeting_is_refused_with_the_field_at_fault(world: World) -> None:
    net = await network(world)
    ours = coordinator(world.municipality)
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"kind": "party"}, "kind", "UNKNOWN_CHOICE"),
        ({"title": "   "}, "title", "EMPTY"),
        ({"place": None}, "place", "PLACE_OR_LINK_REQUIRED"),
        ({"onlineLink": "vks.example.org"}, "onlineLink", "LINK_FORMAT"),
        ({"agenda": [" "]}, "agenda", "AGENDA_EMPTY"),
        ({"endsAt": at(-2)}, "endsAt", "END_NOT_AFTER_START"),
        ({"startsAt": "2030-01-01T10:00:00"}, "startsAt", "TIME_ZONE_REQUIRED"),
        ({"participants": [{"organizationId": str(world.outsider)}]}, "participants", "NOT_A_MEMBER"),
        (
            {"participants": [{"organizationId": str(net.centre), "educatorId": str(world.educator)}]},
            "participants",
            "EDUCATOR_NOT_EMPLOYED",
        ),
        ({"interactionGroupId": str(uuid.uuid4())}, "interactionGroupId", "GROUP_NOT_FOUND"),
        ({"networkId": str(uuid.uuid4())}, "networkId", "NETWORK_NOT_FOUND"),
    ]
    for change, field, code in cases:
        caller = ADMIN if field == "networkId" else ours
        answer = await invalid(world, caller, SCHEDULE, i=schedule_input(net, world, **change))
        assert (answer["field"], answer["code"]) == (field, code), change
    outsider = await invalid(
        world,
        ours,
        SCHEDULE,
        i=schedule_input(net, world, participants=[{"organizationId": str(world.outsider)}]),
    )
    yesterday = day((datetime.now(UTC) - timedelta(days=1)).date())
    assert outsider["message"] == f"Чужая не входит в сеть «Сеть совместного планирования» на {yesterday}"


async def test_a_scheduled_meeting_is_cancelled_with_a_reason(world: World) -> None:
    net = await network(world)
    ours = coordinator(world.municipality)
    meeting = await scheduled(world, net, startsAt=at(5))
    assert (await invalid(world, ours, CANCEL, m=meeting["id"], r=" "))["field"] == "reason"
    cancelled = await write(world, ours, CANCEL, m=meeting["id"], r="Карантин")
    assert (cancelled["status"], cancelled["statusReason"]) == ("cancelled", "Карантин")
    assert (await invalid(world, ours, CANCEL, m=meeting["id"], r="ещё"))["code"] == "MEETING_NOT_SCHEDULED"
    assert (await invalid(world, ours, HOLD, m=meeting["id"], t="—"))["code"] == "MEETING_NOT_SCHEDULED"
    decided = await invalid(
        world,
        ours,
        DECIDE,
        i={
            "meetingId": meeting["id"],
            "text": "x",
            "responsibleOrganizationId": str(net.centre),
            "dueOn": "2099-01-01",
        },
    )
    assert decided["message"] == "Решения записывают в проведённое заседание, а это заседание — отменено"
    missing = await invalid(world, ADMIN, CANCEL, m=str(uuid.uuid4()), r="нет")
    assert missing["code"] == "MEETING_NOT_FOUND"


# -- decisions and the plan -----------------------------------------------------------------------


async def test_decisions_are_numbered_and_checked(world: World) -> None:
    net = await network(world)
    ours = coordinator(world.municipality)
    meeting = await scheduled(world, net)
    decision = {
        "meetingId": meeting["id"],
        "text": "Подготовить аналитическую справку",
        "responsibleOrganizationId": str(net.centre),
        "dueOn": "2099-05-01",
    }
    early = await invalid(world, ours, DECIDE, i=decision)
    assert early["code"] == "MEETING_NOT_HELD"
    await write(world, ours, HOLD, m=meeting["id"], t="Протокол № 1")
    first = await write(world, ours, DECIDE, i=decision)
    second = await write(world, ours, DECIDE, i=decision | {"text": "Заключить договоры"})
    assert (first["number"], second["number"]) == (1, 2)
    outsider = await invalid(
        world, ours, DECIDE, i=decision | {"responsibleOrganizationId": str(world.outsider)}
    )
    assert (outsider["field"], outsider["code"]) == ("responsibleOrganizationId", "NOT_A_MEMBER")
    past = await invalid(world, ours, DECIDE, i=decision | {"dueOn": "2020-01-01"})
    assert (past["field"], past["code"]) == ("dueOn", "DUE_BEFORE_MEETING")
    assert (await invalid(world, ours, DECIDE, i=decision | {"text": ""}))["field"] == "text"
    seen = (await read(world, ours, MEETING, m=meeting["id"]))["meeting"]
    assert [(d["number"], d["text"]) for d in seen["decisions"]] == [
        (1, "Подготовить аналитическую справку"),
        (2, "Заключить договоры"),
    ]
    due = (await read(world, ours, DUE, n=str(net.id), d="2099-05-01"))["decisionsDue"]
    assert [d["text"] for d in due] == ["Подготовить аналитическую справку", "Заключить договоры"]
    assert (await read(world, ours, DUE, n=str(net.id), d="2099-04-30"))["decisionsDue"] == []


async def test_a_decision_becomes_an_item_of_a_draft_plan_linked_both_ways(world: World) -> None:
    net = await network(world)
    ours = coordinator(world.municipality)
    _, decision = await held_with_decision(world, net, "2061-03-01", net.centre)
    none = await invalid(world, ours, PLAN_DECISION, d=decision, k="task", t=None)
    assert (none["code"], none["field"]) == ("NO_PLAN_FOR_DUE_DATE", "decisionId")
    assert "сначала составьте план" in none["message"]
    plan = await write(world, ours, DRAFT, n=str(net.id), y=2060, p="school_year")
    before = len(await outbox_rows(world))
    planned = await write(world, ours, PLAN_DECISION, d=decision, k="task", t="Семинар по оцениванию")
    item = planned["planItem"]
    assert (item["title"], item["kind"], item["dueOn"], item["responsibleOrganizationId"]) == (
        "Семинар по оцениванию",
        "task",
        "2061-03-01",
        str(net.centre),
    )
    assert item["decisionId"] == decision and item["decision"] == {"id": decision}
    assert item["expectedResult"].startswith("Решение заседания «Заседание совета сети № 1» от ")
    assert planned["proposal"] is None
    assert await types_since(world, before) == [
        "setka.events.plan.item_added.v1",
        "setka.events.meeting.decision_planned.v1",
    ]
    added, carried = [d for _, d in (await outbox_rows(world))[before:]][:2]
    assert added["decision_id"] == decision and added["plan_id"] == plan["id"]
    assert (carried["decision_id"], carried["item_id"], carried["proposal_id"]) == (
        decision,
        item["id"],
        None,
    )
    again = await invalid(world, ours, PLAN_DECISION, d=decision, k="task", t=None)
    assert again["code"] == "DECISION_IN_PLAN"


async def test_a_decision_for_an_agreed_plan_goes_through_a_proposal(world: World) -> None:
    net = await network(world)
    ours = coordinator(world.municipality)
    plan = await write(world, ours, DRAFT, n=str(net.id), y=2062, p="calendar_year")
    await write(
        world,
        ours,
        "mutation($i: AddPlanItemInput!) { addPlanItem(input: $i) { __typename } }",
        i={"planId": plan["id"], "title": "Совещание", "dueOn": "2062-01-20"},
    )
    await write(world, ours, STEP.format(step="agreePlan"), p=plan["id"])
    _, decision = await held_with_decision(world, net, "2062-04-01", world.host)
    # the item's kind is checked by the plan's rules
    unknown_kind = await invalid(world, ours, PLAN_DECISION, d=decision, k="meeting", t=None)
    assert unknown_kind["field"] == "kind"
    proposed = await write(world, ours, PLAN_DECISION, d=decision, k="activity", t=None)
    proposal = proposed["proposal"]
    assert (proposal["status"], proposal["organizationId"], proposal["decisionId"]) == (
        "pending",
        str(world.host),
        decision,
    )
    assert proposed["planItem"] is None
    pending = await invalid(world, ours, PLAN_DECISION, d=decision, k="activity", t=None)
    assert pending["code"] == "DECISION_PROPOSED"
    # the coordinator accepts it as any other proposal: the item refers to the decision
    accepted = await write(world, ours, ACCEPT, p=proposal["id"], r="По решению совета")
    seen = (
        await read(
            world,
            ours,
            MEETING,
            m=(await read(world, ours, DUE, n=str(net.id), d="2062-04-01"))["decisionsDue"][0]["meeting"][
                "id"
            ],
        )
    )["meeting"]
    (linked,) = seen["decisions"]
    assert linked["planItem"]["id"] == accepted["itemId"]
    assert linked["planItem"]["decision"] == {"id": decision}
    assert linked["proposal"]["status"] == "accepted"

    # a member that proposes nothing for itself (methodological support) is refused by the plan's rule
    _, other = await held_with_decision(world, net, "2062-05-01", net.methodologist)
    refused_member = await invalid(world, ours, PLAN_DECISION, d=other, k="task", t=None)
    assert (refused_member["code"], refused_member["field"]) == ("NOT_A_PROPOSING_MEMBER", "organizationId")


# -- who sees and does what -----------------------------------------------------------------------


async def test_editors_schedule_members_read_anonymous_sees_nothing(world: World) -> None:
    net = await network(world)
    ours = coordinator(world.municipality)
    other = coordinator(world.other_municipality)
    for caller, code in (
        (other, "FORBIDDEN"),
        (representative(net.centre), "FORBIDDEN"),
        (EXPERT, "FORBIDDEN"),
        (VIEWER, "FORBIDDEN"),
        (ANONYMOUS, "UNAUTHENTICATED"),
    ):
        await refused(world, caller, code, SCHEDULE, i=schedule_input(net, world))
    meeting = await write(world, ADMIN, SCHEDULE, i=schedule_input(net, world))
    for caller in (other, representative(net.centre), ANONYMOUS):
        await refused(
            world,
            caller,
            "FORBIDDEN" if caller is not ANONYMOUS else "UNAUTHENTICATED",
            HOLD,
            m=meeting["id"],
            t="Протокол",
        )
    await write(world, ours, HOLD, m=meeting["id"], t="Протокол")
    decision = await write(
        world,
        ours,
        DECIDE,
        i={
            "meetingId": meeting["id"],
            "text": "Решение",
            "responsibleOrganizationId": str(net.centre),
            "dueOn": "2099-01-01",
        },
    )
    await refused(
        world, representative(net.centre), "FORBIDDEN", PLAN_DECISION, d=decision["id"], k="task", t=None
    )

    def ids(data: dict[str, Any]) -> list[str]:
        return [m["id"] for m in data["meetings"]]

    # members' representatives of the network, its editors and the region's expert read it
    for caller in (ours, ADMIN, representative(net.centre), representative(world.host), EXPERT):
        assert ids(await read(world, caller, MEETINGS, n=str(net.id), s=None)) == [meeting["id"]], caller
        assert (await read(world, caller, MEETING, m=meeting["id"]))["meeting"] is not None
    # an outsider's representative, another municipality's coordinator, anonymous: nothing
    for caller in (representative(world.outsider), other, ANONYMOUS, VIEWER):
        assert ids(await read(world, caller, MEETINGS, n=str(net.id), s=None)) == [], caller
        assert (await read(world, caller, MEETING, m=meeting["id"]))["meeting"] is None
        assert (await read(world, caller, DUE, n=str(net.id), d=None))["decisionsDue"] == []
    assert ids(await read(world, ours, MEETINGS, n=str(net.id), s="cancelled")) == []
    through = await read(world, ours, NETWORK_MEETINGS, n=str(net.id))
    assert through["_entities"] == [{"meetings": [{"id": meeting["id"]}]}]

    # which educator takes part is personal data: the host's, for those in the host's scope
    def educators(data: dict[str, Any]) -> list[str | None]:
        return [p["educatorId"] for p in data["meeting"]["participants"]]

    assert educators(await read(world, ours, MEETING, m=meeting["id"])) == [None, str(world.educator)]
    assert educators(await read(world, representative(world.host), MEETING, m=meeting["id"])) == [
        None,
        str(world.educator),
    ]
    assert educators(await read(world, representative(net.centre), MEETING, m=meeting["id"])) == [None, None]
    assert educators(await read(world, EXPERT, MEETING, m=meeting["id"])) == [None, None]


# -- over the broker --------------------------------------------------------------------------------


@pytest.fixture
async def flow_world(databases: DatabaseFactory) -> AsyncIterator[World]:
    async for made in make_world(databases, "events_meetings_flow"):
        yield made


async def test_meeting_events_leave_through_the_relay_and_the_broker(broker: Any, flow_world: World) -> None:
    """Each meeting's events in order under its key; the decision's item under its plan's."""
    world = flow_world
    net = await network(world)
    async with world.db.session() as session, session.begin():
        plan = await plans.draft_plan(session, plans.DraftPlan(net.id, 2063, "План"))
        meeting = await meetings.schedule_meeting(
            session,
            meetings.ScheduleMeeting(
                network_id=net.id,
                kind="council",
                title="Совет сети",
                starts_at=datetime.now(UTC) - timedelta(hours=2),
                agenda=["О плане"],
                participants=[meetings.Participant(net.centre)],
                place="Актовый зал",
            ),
        )
        await meetings.hold_meeting(session, meeting.id, "Протокол")
        decision = await meetings.record_decision(
            session, meetings.RecordDecision(meeting.id, "Семинар", net.centre, date(2063, 3, 1))
        )
        await meetings.plan_decision(session, decision.id, by="coordinator")
    settings = {
        "kafka_bootstrap_servers": broker.bootstrap,
        "consumer_backoff_seconds": 0.05,
        "consumer_graceful_seconds": 2,
        "outbox_poll_seconds": 0.2,
    }
    producer = events.build(EventsSettings(database_url=world.db.url, **settings))
    async with producer.running():
        await asyncio.wait_for(producer.connected.wait(), 60)
        records = await read_topic(broker.bootstrap, topics.EVENTS, at_least=6, timeout=60)

    def of(key: uuid.UUID) -> list[str]:
        """One aggregate's events, in order (its key keeps them in one partition)."""
        return [headers_of(r)["ce_type"] for r in records if r.key == str(key).encode()]

    assert of(meeting.id) == [
        "setka.events.meeting.scheduled.v1",
        "setka.events.meeting.held.v1",
        "setka.events.meeting.decision_made.v1",
        "setka.events.meeting.decision_planned.v1",
    ]
    assert of(plan.id) == ["setka.events.plan.drafted.v1", "setka.events.plan.item_added.v1"]
