"""Joint planning (issue 18), on a real PostgreSQL database and, last, a real broker.

Members of a network propose items for themselves and the coordinator accepts or declines each
with a reason; an agreed plan is amended in numbered versions that stay readable; tasks (items
that are not activities) are marked done by their responsible organization or an editor; a plan
covers a calendar or a school year. Each rule is shown through the subgraph with the callers it
allows and refuses, and with the events it records in the outbox; then the events go through
the relay and the broker into analytics' read model of plans.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from setka_contracts.events import PlanStatus
from setka_contracts.registry import (
    InteractionGroupFormed,
    MemberJoined,
    NetworkCreated,
    OrganizationRegistered,
)
from setka_runtime.access import ANONYMOUS, Identity
from setka_runtime.db import Database
from sqlalchemy import text

from services.analytics import app as analytics
from services.analytics.settings import AnalyticsSettings
from services.events import app as events
from services.events import plans
from services.events.settings import EventsSettings
from tests.conftest import DatabaseFactory
from tests.helpers import eventually
from tests.integration.events_world import NOW, REGION, World, make_world, registry_says
from tests.integration.test_events_access import (
    ADMIN,
    EXPERT,
    PLAN_ACTIVITY,
    VIEWER,
    coordinator,
    outbox_rows,
    read,
    refused,
    representative,
    write,
)

pytestmark = pytest.mark.integration

TODAY = NOW.date()


@pytest.fixture(scope="module")
async def world(databases: DatabaseFactory) -> AsyncIterator[World]:
    async for made in make_world(databases, "events_planning"):
        yield made


@dataclass
class Net:
    """A network of the world's municipality of its own (so each test's plans are alone in it):
    the world's host is a partner; a centre, a supported school and a methodological service are
    members too; an interaction group of the centre and the supported school."""

    id: uuid.UUID
    centre: uuid.UUID
    supported: uuid.UUID
    methodologist: uuid.UUID
    group: uuid.UUID


async def network(world: World) -> Net:
    net = Net(*(uuid.uuid4() for _ in range(5)))
    roles = {net.centre: "centre", net.supported: "supported", net.methodologist: "methodological_support"}
    await registry_says(
        world.db,
        *(
            OrganizationRegistered(
                organization_id=org,
                full_name=f"Участник ({role})",
                short_name=f"Участник ({role})",
                kind="methodological_service" if role == "methodological_support" else "school",
                region_code=REGION,
                municipality_id=world.municipality,
                registered_at=NOW,
            )
            for org, role in roles.items()
        ),
        NetworkCreated(
            network_id=net.id,
            name="Сеть совместного планирования",
            level="municipal",
            region_code=REGION,
            municipality_id=world.municipality,
            governing_body_id=world.outsider,
            started_on=date(2020, 1, 1),
        ),
        *(
            MemberJoined(
                network_id=net.id,
                membership_id=uuid.uuid4(),
                organization_id=org,
                role=role,
                joined_on=date(2020, 1, 1),
            )
            for org, role in {**roles, world.host: "partner"}.items()
        ),
        InteractionGroupFormed(
            group_id=net.group,
            network_id=net.id,
            name="РМО учителей математики",
            purpose="взаимопосещение уроков",
            organization_ids=[net.centre, net.supported],
        ),
    )
    return net


# -- the operations -----------------------------------------------------------------------------

RESULT = "__typename ... on ValidationError { field message }"
DRAFT = f"""mutation($n: ID!, $y: Int!, $p: String!) {{ draftPlan(networkId: $n, year: $y, title: "План",
  period: $p) {{ {RESULT} ... on Plan {{ id period startsOn endsOn version }} }} }}"""
ADD = f"""mutation($i: AddPlanItemInput!) {{ addPlanItem(input: $i) {{ {RESULT}
  ... on PlanItem {{ id kind dueOn }} }} }}"""
PROPOSE = f"""mutation($i: ProposePlanItemInput!) {{ proposePlanItem(input: $i) {{ {RESULT}
  ... on PlanProposal {{ id status organizationId kind interactionGroup {{ id }} plan {{ id }} }} }} }}"""
DECIDED = "... on PlanProposal { id status itemId decisionReason decidedAt item { id proposalId } }"
ACCEPT = f"""mutation($p: ID!, $r: String) {{ acceptPlanProposal(proposalId: $p, reason: $r) {{ {RESULT}
  {DECIDED} }} }}"""
DECLINE = f"""mutation($p: ID!, $r: String!) {{ declinePlanProposal(proposalId: $p, reason: $r) {{
  {RESULT} {DECIDED} }} }}"""
AMEND = f"""mutation($i: AmendPlanInput!) {{ amendPlan(input: $i) {{ {RESULT}
  ... on Plan {{ id version }} }} }}"""
DONE = f"""mutation($i: ID!, $n: String, $d: String) {{
  markPlanItemDone(itemId: $i, note: $n, documentUrl: $d) {{ {RESULT}
  ... on PlanItem {{ id done doneAt doneNote doneDocumentUrl }} }} }}"""
STEP = "mutation($p: ID!) {{ {step}(planId: $p) {{ __typename }} }}"
PLAN = """query($p: ID!) { plan(id: $p) { id version items { id title dueOn kind done withdrawnAt }
  proposals { id status organizationId decisionReason }
  versions { number author reason amendedAt items { itemId version title dueOn kind responsibleOrganizationId
    item { id withdrawnAt } } }
  progress { items done overdue due periodElapsed } } }"""


async def invalid(world: World, caller: Identity, query: str, **variables: Any) -> dict[str, Any]:
    """A mutation a rule refuses: its answer is a ValidationError, and nothing is recorded."""
    before = await outbox_rows(world)
    data = await read(world, caller, query, **variables)
    (answer,) = data.values()
    assert answer["__typename"] == "ValidationError", answer
    assert await outbox_rows(world) == before
    return answer


async def drafted(
    world: World, net: Net, year: int, *items: dict[str, Any], period: str = "calendar_year"
) -> str:
    plan = await write(world, coordinator(world.municipality), DRAFT, n=str(net.id), y=year, p=period)
    for item in items:
        await write(world, coordinator(world.municipality), ADD, i={"planId": plan["id"], **item})
    return str(plan["id"])


async def step(world: World, plan: str, *steps: str) -> None:
    for name in steps:
        await write(world, coordinator(world.municipality), STEP.format(step=name), p=plan)


async def plan_seen(world: World, caller: Identity, plan: str) -> dict[str, Any] | None:
    return (await read(world, caller, PLAN, p=plan))["plan"]


async def added_events(world: World, before: int) -> list[tuple[str, dict[str, Any]]]:
    """The events recorded since ``before`` rows, without the audit entries."""
    return [(t, d) for t, d in (await outbox_rows(world))[before:] if not t.startswith("setka.audit")]


def item(title: str, due: str, **rest: Any) -> dict[str, Any]:
    return {"title": title, "dueOn": due, **rest}


# -- periods ------------------------------------------------------------------------------------


async def test_a_school_year_plan_runs_from_september_to_august(world: World) -> None:
    net = await network(world)
    ours = coordinator(world.municipality)
    plan = await write(world, ours, DRAFT, n=str(net.id), y=2041, p="school_year")
    assert (plan["period"], plan["startsOn"], plan["endsOn"], plan["version"]) == (
        "school_year",
        "2041-09-01",
        "2042-08-31",
        1,
    )
    refused_due = await invalid(world, ours, ADD, i={"planId": plan["id"], **item("Август", "2041-08-31")})
    assert refused_due == {
        "__typename": "ValidationError",
        "field": "dueOn",
        "message": "Срок пункта должен быть в 2041/42 учебном году (01.09.2041–31.08.2042)",
    }
    await invalid(world, ours, ADD, i={"planId": plan["id"], **item("Сентябрь", "2042-09-01")})
    for due in ("2041-09-01", "2042-08-31"):
        await write(world, ours, ADD, i={"planId": plan["id"], **item(f"Пункт {due}", due)})

    # the network's plans do not overlap, whatever their periods
    same = await invalid(world, ours, DRAFT, n=str(net.id), y=2041, p="calendar_year")
    assert same["message"] == "У сети уже есть план на 2041 год"
    overlapping = await invalid(world, ours, DRAFT, n=str(net.id), y=2042, p="calendar_year")
    assert overlapping == {
        "__typename": "ValidationError",
        "field": "year",
        "message": "План сети на 2041/42 уже охватывает часть 2042",
    }
    unknown = await invalid(world, ours, DRAFT, n=str(net.id), y=2044, p="quarter")
    assert unknown["field"] == "period"
    await write(world, ours, DRAFT, n=str(net.id), y=2043, p="calendar_year")
    assert (await invalid(world, ours, DRAFT, n=str(net.id), y=2042, p="school_year"))["field"] == "year"

    seen = await plan_seen(world, ours, plan["id"])
    assert seen is not None
    assert [i["dueOn"] for i in seen["items"]] == ["2041-09-01", "2042-08-31"]
    assert seen["progress"] == {"items": 2, "done": 0, "overdue": 0, "due": 0, "periodElapsed": 0.0}


# -- proposals ----------------------------------------------------------------------------------


async def test_members_propose_items_for_themselves_on_a_draft_or_an_agreed_plan(world: World) -> None:
    net = await network(world)
    plan = await drafted(world, net, 2045, item("Совещание", "2045-01-20"))

    def proposal(organization: uuid.UUID, title: str = "Открытый урок", **rest: Any) -> dict[str, Any]:
        return {
            "planId": plan,
            "organizationId": str(organization),
            "title": title,
            "dueOn": "2045-03-01",
        } | rest

    ours = representative(world.host)
    made = await write(world, ours, PROPOSE, i=proposal(world.host, interactionGroupId=str(net.group)))
    assert (made["status"], made["organizationId"], made["kind"]) == ("pending", str(world.host), "activity")
    assert made["interactionGroup"] == {"id": str(net.group)} and made["plan"] == {"id": plan}
    # a representative proposes for their own organization only; editors of the network for any member
    await refused(world, ours, "FORBIDDEN", PROPOSE, i=proposal(net.supported))
    await write(world, coordinator(world.municipality), PROPOSE, i=proposal(net.supported, kind="task"))
    await write(world, ADMIN, PROPOSE, i=proposal(net.centre))
    await refused(world, coordinator(world.other_municipality), "FORBIDDEN", PROPOSE, i=proposal(net.centre))
    for caller in (EXPERT, VIEWER):
        await refused(world, caller, "FORBIDDEN", PROPOSE, i=proposal(net.centre))
    await refused(world, ANONYMOUS, "UNAUTHENTICATED", PROPOSE, i=proposal(net.centre))
    # only the centre, partners and supported schools propose, and within the plan's year
    for organization in (world.outsider, net.methodologist):
        answer = await invalid(world, representative(organization), PROPOSE, i=proposal(organization))
        assert answer["field"] == "organizationId"
        assert "не центр, не партнёр и не сопровождаемая школа сети" in answer["message"]
    late = await invalid(world, ours, PROPOSE, i=proposal(world.host, dueOn="2046-01-10"))
    assert late["message"] == "Срок пункта должен быть в 2045 году"
    foreign = await invalid(world, ours, PROPOSE, i=proposal(world.host, interactionGroupId=str(net.id)))
    assert foreign["message"] == "Такой группы взаимодействия нет в реестре"
    other = uuid.uuid4()
    await registry_says(
        world.db,
        InteractionGroupFormed(group_id=other, network_id=world.network, name="Чужая группа", purpose="-"),
    )
    answer = await invalid(world, ours, PROPOSE, i=proposal(world.host, interactionGroupId=str(other)))
    assert answer == {
        "__typename": "ValidationError",
        "field": "interactionGroupId",
        "message": "Группа взаимодействия относится к другой сети",
    }

    # the plan is drawn up jointly: members' representatives see the draft and its proposals
    seen = await plan_seen(world, representative(net.centre), plan)
    assert seen is not None and len(seen["proposals"]) == 3
    for caller in (representative(world.outsider), ANONYMOUS, EXPERT, coordinator(world.other_municipality)):
        assert await plan_seen(world, caller, plan) is None, caller

    await step(world, plan, "agreePlan")
    assert len((await plan_seen(world, ANONYMOUS, plan) or {})["proposals"]) == 3
    await write(world, representative(net.centre), PROPOSE, i=proposal(net.centre, "Мастер-класс"))
    await step(world, plan, "startPlan", "closePlan")
    closed = await invalid(world, ours, PROPOSE, i=proposal(world.host))
    assert closed["message"] == "Пункты предлагают в черновик или в согласованный план, а этот план — закрыт"


async def test_the_coordinator_accepts_or_declines_each_proposal_with_a_reason(world: World) -> None:
    net = await network(world)
    ours = coordinator(world.municipality)
    plan = await drafted(world, net, 2047, item("Совещание", "2047-01-20"))
    proposals = []
    for organization, kind in ((world.host, "activity"), (net.centre, "task"), (net.supported, "activity")):
        made = await write(
            world,
            representative(organization),
            PROPOSE,
            i={
                "planId": plan,
                "organizationId": str(organization),
                "title": f"Предложение {kind}",
                "dueOn": "2047-04-01",
                "kind": kind,
            },
        )
        proposals.append(made["id"])
    first, second, third = proposals

    for caller in (representative(world.host), coordinator(world.other_municipality), EXPERT):
        await refused(world, caller, "FORBIDDEN", ACCEPT, p=first, r=None)
        await refused(world, caller, "FORBIDDEN", DECLINE, p=second, r="нет")
    before = len(await outbox_rows(world))
    accepted = await write(world, ours, ACCEPT, p=first, r="Включено в план")
    assert (accepted["status"], accepted["decisionReason"]) == ("accepted", "Включено в план")
    assert accepted["decidedAt"] and accepted["item"] == {"id": accepted["itemId"], "proposalId": first}
    assert (await invalid(world, ours, ACCEPT, p=first, r=None))["message"] == "Предложение уже принято"
    assert (await invalid(world, ADMIN, DECLINE, p=first, r="поздно"))["field"] == "proposalId"
    assert (await invalid(world, ours, DECLINE, p=second, r="  "))["field"] == "reason"
    declined = await write(world, ours, DECLINE, p=second, r="Договоры заключает управление образования")
    assert (declined["status"], declined["itemId"]) == ("declined", None)
    assert declined["decisionReason"] == "Договоры заключает управление образования"
    recorded = await added_events(world, before)
    assert [t for t, _ in recorded] == [
        "setka.events.plan.item_added.v1",
        "setka.events.plan.proposal_accepted.v1",
        "setka.events.plan.proposal_declined.v1",
    ]
    added, accepted_event, declined_event = (d for _, d in recorded)
    assert (added["proposal_id"], added["version"], added["responsible_organization_id"]) == (
        first,
        1,
        str(world.host),
    )
    assert accepted_event["item_id"] == accepted["itemId"] and accepted_event["reason"] == "Включено в план"
    assert declined_event["reason"] == "Договоры заключает управление образования"
    assert {d["_topic"] for _, d in recorded} == {"setka.events"}

    # accepted after an amendment, an item is of the plan's current version only
    await step(world, plan, "agreePlan")
    seen = await plan_seen(world, ours, plan)
    assert seen is not None
    meeting = next(i for i in seen["items"] if i["title"] == "Совещание")
    change = {"itemId": meeting["id"], "title": "Совещание", "kind": "activity", "dueOn": "2047-02-20"}
    await write(world, ours, AMEND, i={"planId": plan, "reason": "Перенос совещания", "changes": [change]})
    late = await write(world, ours, ACCEPT, p=third, r=None)
    seen = await plan_seen(world, ours, plan)
    assert seen is not None
    first_version, second_version = seen["versions"]
    assert late["itemId"] not in {i["itemId"] for i in first_version["items"]}
    assert {i["itemId"]: i["version"] for i in second_version["items"]}[late["itemId"]] == 2
    statuses = {p["id"]: (p["status"], p["decisionReason"]) for p in seen["proposals"]}
    assert statuses == {
        first: ("accepted", "Включено в план"),
        second: ("declined", "Договоры заключает управление образования"),
        third: ("accepted", None),
    }


# -- amendments ---------------------------------------------------------------------------------


async def test_an_agreed_plan_is_amended_in_versions_that_stay_readable(world: World) -> None:
    net = await network(world)
    ours = coordinator(world.municipality)
    plan = await drafted(
        world,
        net,
        2049,
        item("Семинар", "2049-03-01"),
        item("Заключить договоры", "2049-05-01", kind="task", responsibleOrganizationId=str(world.host)),
        item("Конференция", "2049-10-01"),
    )
    seen = await plan_seen(world, ours, plan)
    assert seen is not None
    seminar, contracts, conference = (i["id"] for i in seen["items"])

    def edit(ident: str, title: str, due: str, kind: str = "activity", **rest: Any) -> dict[str, Any]:
        return {"itemId": ident, "title": title, "kind": kind, "dueOn": due} | rest

    changes = {
        "planId": plan,
        "reason": "Приказ № 12",
        "changes": [edit(seminar, "Семинар-практикум", "2049-04-01")],
    }
    draft_amended = await invalid(world, ours, AMEND, i=changes)
    assert (
        draft_amended["message"]
        == "Поправки вносят в согласованный план (черновик правят), а этот план — черновик"
    )
    await step(world, plan, "agreePlan")
    for caller in (representative(world.host), coordinator(world.other_municipality), VIEWER):
        await refused(world, caller, "FORBIDDEN", AMEND, i=changes | {"withdrawnItemIds": [conference]})
    assert (await invalid(world, ours, AMEND, i={"planId": plan, "reason": "ничего"}))["field"] == "changes"
    assert (await invalid(world, ours, AMEND, i=changes | {"reason": " "}))["field"] == "reason"
    twice = changes | {"withdrawnItemIds": [seminar]}
    assert (await invalid(world, ours, AMEND, i=twice))["message"] == (
        "В поправке каждый пункт изменяют или исключают один раз"
    )
    outside = changes | {"changes": [edit(seminar, "Семинар", "2050-01-15")]}
    assert (await invalid(world, ours, AMEND, i=outside))["field"] == "dueOn"
    stranger = await drafted(world, await network(world), 2049, item("Чужой пункт", "2049-02-01"))
    strangers = (await plan_seen(world, ours, stranger) or {})["items"]
    foreign = changes | {"withdrawnItemIds": [strangers[0]["id"]]}
    assert (await invalid(world, ours, AMEND, i=foreign))["field"] == "withdrawnItemIds"

    before = len(await outbox_rows(world))
    amended = await write(world, ours, AMEND, i=changes | {"withdrawnItemIds": [conference]})
    assert amended["version"] == 2
    task = edit(contracts, "Заключить договоры о сетевой форме", "2049-06-01", "task")
    task["responsibleOrganizationId"] = str(net.centre)
    await write(world, ADMIN, AMEND, i={"planId": plan, "reason": "Решение совета сети", "changes": [task]})
    again = await invalid(
        world, ours, AMEND, i={"planId": plan, "reason": "ещё", "withdrawnItemIds": [conference]}
    )
    assert again["message"] == "Пункт «Конференция» уже исключён"

    recorded = await added_events(world, before)
    assert [t for t, _ in recorded] == ["setka.events.plan.amended.v1"] * 2
    first, second = (d for _, d in recorded)
    assert (first["version"], first["author"], first["reason"]) == (2, ours.subject, "Приказ № 12")
    assert first["withdrawn_item_ids"] == [conference]
    assert [(c["item_id"], c["title"], c["due_on"]) for c in first["changed_items"]] == [
        (seminar, "Семинар-практикум", "2049-04-01")
    ]
    assert (
        second["version"],
        second["author"],
        second["changed_items"][0]["responsible_organization_id"],
    ) == (
        3,
        ADMIN.subject,
        str(net.centre),
    )

    seen = await plan_seen(world, ANONYMOUS, plan)
    assert seen is not None and seen["version"] == 3
    assert [(i["title"], i["dueOn"]) for i in seen["items"]] == [
        ("Семинар-практикум", "2049-04-01"),
        ("Заключить договоры о сетевой форме", "2049-06-01"),
    ]
    versions = {v["number"]: v for v in seen["versions"]}

    def shown(number: int) -> list[tuple[str, str, int, str | None]]:
        return [
            (i["title"], i["dueOn"], i["version"], i["responsibleOrganizationId"])
            for i in versions[number]["items"]
        ]

    host, centre = str(world.host), str(net.centre)
    assert shown(1) == [
        ("Семинар", "2049-03-01", 1, None),
        ("Заключить договоры", "2049-05-01", 1, host),
        ("Конференция", "2049-10-01", 1, None),
    ]
    assert shown(2) == [
        ("Семинар-практикум", "2049-04-01", 2, None),
        ("Заключить договоры", "2049-05-01", 1, host),
    ]
    assert shown(3) == [
        ("Семинар-практикум", "2049-04-01", 2, None),
        ("Заключить договоры о сетевой форме", "2049-06-01", 3, centre),
    ]
    assert (versions[1]["reason"], versions[1]["amendedAt"], versions[1]["author"]) == (None, None, None)
    assert versions[2]["reason"] == "Приказ № 12" and versions[2]["amendedAt"]
    withdrawn = next(i for i in versions[1]["items"] if i["itemId"] == conference)
    assert withdrawn["item"]["withdrawnAt"]
    starts = datetime(2049, 3, 10, 9, tzinfo=UTC)
    for_withdrawn = {
        "title": "Конференция",
        "activityType": "conference",
        "format": "in_person",
        "hostOrganizationId": str(world.host),
        "networkId": str(net.id),
        "planItemId": conference,
        "startsAt": starts.isoformat(),
        "endsAt": (starts + timedelta(hours=2)).isoformat(),
    }
    linked = await invalid(world, ours, PLAN_ACTIVITY, input=for_withdrawn)
    assert linked["message"] == "Пункт плана исключён поправкой к плану"
    # who amended a plan is shown to those who sign in, not to anonymous callers
    assert [v["author"] for v in seen["versions"]] == [None, None, None]
    signed_in = await plan_seen(world, EXPERT, plan)
    assert [v["author"] for v in (signed_in or {})["versions"]] == [None, ours.subject, ADMIN.subject]

    # an item done stays: it is not withdrawn, nor does it change its kind
    await step(world, plan, "startPlan")
    await write(world, ours, DONE, i=contracts, n="Договоры подписаны", d=None)
    done = {"planId": plan, "reason": "ошибка", "withdrawnItemIds": [contracts]}
    assert "выполнен, исключить его нельзя" in (await invalid(world, ours, AMEND, i=done))["message"]
    retyped = {"planId": plan, "reason": "ошибка", "changes": [edit(contracts, "Договоры", "2049-06-01")]}
    assert "выполнен: его вид не меняется" in (await invalid(world, ours, AMEND, i=retyped))["message"]


# -- tasks ---------------------------------------------------------------------------------------


async def test_a_task_is_marked_done_by_its_responsible_organization_or_an_editor(world: World) -> None:
    net = await network(world)
    ours = coordinator(world.municipality)
    plan = await drafted(world, net, 2051)
    orphan = item("Подготовить аналитическую справку", "2051-06-01", kind="task")
    assert (await invalid(world, ours, ADD, i={"planId": plan, **orphan}))[
        "field"
    ] == "responsibleOrganizationId"
    ids = {}
    for name, rest in (
        ("report", {"kind": "task", "responsibleOrganizationId": str(world.host)}),
        ("contracts", {"kind": "task", "responsibleOrganizationId": str(net.centre)}),
        ("seminar", {"responsibleOrganizationId": str(world.host)}),
    ):
        ids[name] = (await write(world, ours, ADD, i={"planId": plan, **item(name, "2051-03-01", **rest)}))[
            "id"
        ]
    host = representative(world.host)
    draft_done = await invalid(world, host, DONE, i=ids["report"], n="готово", d=None)
    assert draft_done["message"] == "Пункты выполняют в согласованном плане, а этот план — черновик"
    await step(world, plan, "agreePlan")

    for caller in (
        representative(net.centre),
        representative(world.outsider),
        coordinator(world.other_municipality),
    ):
        await refused(world, caller, "FORBIDDEN", DONE, i=ids["report"], n="готово", d=None)
    await refused(world, EXPERT, "FORBIDDEN", DONE, i=ids["report"], n="готово", d=None)
    assert (await invalid(world, host, DONE, i=ids["report"], n=" ", d=None))["field"] == "note"
    assert (await invalid(world, host, DONE, i=ids["report"], n=None, d="ftp://docs"))[
        "field"
    ] == "documentUrl"
    before = len(await outbox_rows(world))
    url = "https://edu.example.ru/docs/spravka-2051.pdf"
    done = await write(world, host, DONE, i=ids["report"], n=None, d=url)
    assert (done["done"], done["doneDocumentUrl"], done["doneNote"]) == (True, url, None) and done["doneAt"]
    assert (await invalid(world, ours, DONE, i=ids["report"], n="ещё", d=None))["message"].startswith(
        "Пункт уже отмечен выполненным "
    )
    await write(world, ours, DONE, i=ids["contracts"], n="Договоры с партнёрами подписаны", d=None)
    activity = await invalid(world, host, DONE, i=ids["seminar"], n="провели", d=None)
    assert activity["message"] == "Пункт-мероприятие выполнен, когда проведено одно из его мероприятий"
    # a task is not carried out by activities of the calendar
    starts = datetime(2051, 3, 10, 9, tzinfo=UTC)
    task_activity = {
        "title": "Семинар",
        "activityType": "seminar",
        "format": "in_person",
        "hostOrganizationId": str(world.host),
        "networkId": str(net.id),
        "planItemId": ids["report"],
        "startsAt": starts.isoformat(),
        "endsAt": (starts + timedelta(hours=2)).isoformat(),
    }
    linked = await invalid(world, host, PLAN_ACTIVITY, input=task_activity)
    assert linked["message"] == "Этот пункт плана — задача: её отмечают выполненной, а не проводят"

    recorded = await added_events(world, before)
    assert [t for t, _ in recorded] == ["setka.events.plan.item_done.v1"] * 2
    report, contracts = (d for _, d in recorded)
    assert (report["item_id"], report["organization_id"], report["document_url"], report["note"]) == (
        ids["report"],
        str(world.host),
        url,
        None,
    )
    assert contracts["note"] == "Договоры с партнёрами подписаны" and contracts["plan_id"] == plan
    seen = await plan_seen(world, ANONYMOUS, plan)
    assert seen is not None
    assert seen["progress"] == {"items": 3, "done": 2, "overdue": 0, "due": 0, "periodElapsed": 0.0}
    assert {i["title"]: i["done"] for i in seen["items"]} == {
        "report": True,
        "contracts": True,
        "seminar": False,
    }


# -- the events, over a real broker into analytics --------------------------------------------


async def rows(url: str, sql: str) -> list[Any]:
    db = Database(url)
    try:
        async with db.session() as session:
            return list((await session.execute(text(sql))).all())
    finally:
        await db.dispose()


@pytest.fixture
async def flow_world(databases: DatabaseFactory) -> AsyncIterator[World]:
    async for made in make_world(databases, "events_planning_flow"):
        yield made


async def test_planning_events_reach_analytics_over_the_broker(
    broker: Any, databases: DatabaseFactory, flow_world: World
) -> None:
    """Made in the events service, the events leave through its outbox relay and the broker;
    analytics keeps the plan's period, each item's kind and latest due day, the day a task was
    done and which items were withdrawn; the proposals themselves it reads past."""
    world = flow_world
    analytics_url = databases.create("analytics_planning_flow", migrate="analytics")
    net = await network(world)
    today = TODAY
    year = today.year if today.month >= 9 else today.year - 1
    due = date(year + 1, 8, 31)
    async with world.db.session() as session, session.begin():
        plan = await plans.draft_plan(
            session, plans.DraftPlan(net.id, year, "План на учебный год", "school_year")
        )
        seminar = await plans.add_plan_item(session, plans.AddPlanItem(plan.id, "Семинар", due))
        report = await plans.add_plan_item(
            session, plans.AddPlanItem(plan.id, "Справка", due, world.host, kind="task")
        )
        await plans.advance_plan(session, plan.id, PlanStatus.agreed)
        proposal = await plans.propose_plan_item(
            session, plans.ProposePlanItem(plan.id, net.centre, "Договоры", due, kind="task"), proposer="rep"
        )
        accepted = await plans.accept_proposal(session, proposal.id, None, decider="coordinator")
        declined = await plans.propose_plan_item(
            session, plans.ProposePlanItem(plan.id, world.host, "Лишнее", due), proposer="rep"
        )
        await plans.decline_proposal(session, declined.id, "не нужно", decider="coordinator")
        await plans.amend_plan(
            session,
            plans.AmendPlan(
                plan.id,
                "Перенос",
                changes=[
                    plans.ChangePlanItem(report.id, "Справка", "task", date(year + 1, 6, 1), world.host)
                ],
                withdrawn_item_ids=[seminar.id],
            ),
            author="coordinator",
        )
        await plans.mark_item_done(session, report.id, "готово", None, by="rep")
    settings = {
        "kafka_bootstrap_servers": broker.bootstrap,
        "consumer_backoff_seconds": 0.05,
        "consumer_graceful_seconds": 2,
        "outbox_poll_seconds": 0.2,
    }
    producer = events.build(EventsSettings(database_url=world.db.url, **settings))
    consumer = analytics.build(AnalyticsSettings(database_url=analytics_url, **settings))
    async with producer.running(), consumer.running():
        await asyncio.wait_for(producer.connected.wait(), 60)

        async def projected() -> list[Any]:
            found = await rows(analytics_url, "SELECT id, kind, due_on, done_on, withdrawn FROM plan_item")
            done = [r for r in found if r.done_on is not None]
            return found if len(found) == 3 and done else []

        items = {r.id: r for r in await eventually(projected, timeout=90)}
    assert await rows(analytics_url, "SELECT period, status FROM plan") == [("school_year", "agreed")]
    assert (items[seminar.id].kind, items[seminar.id].withdrawn) == ("activity", True)
    report_row = items[report.id]
    assert (report_row.kind, report_row.due_on, report_row.done_on, report_row.withdrawn) == (
        "task",
        date(year + 1, 6, 1),
        today,
        False,
    )
    assert (items[accepted.item_id].kind, items[accepted.item_id].withdrawn) == ("task", False)
