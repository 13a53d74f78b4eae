"""Cross-service fields are declared by the subgraph that owns their data, as fields of the other
services' entities; each resolves for a whole batch of ``_entities`` with one SQL statement."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from setka_contracts import CloudEvent
from setka_contracts.registry import OrganizationRegistered
from setka_runtime.access import ALL_REGIONS, Identity, Role, sign_internal
from setka_runtime.consumer import Item
from setka_runtime.db import Database
from sqlalchemy import event, select

from services.analytics import app as analytics
from services.analytics.models import RegionSummary
from services.analytics.projections import organizations_registered
from services.analytics.settings import AnalyticsSettings
from services.events import app as events
from services.events.models import Activity as ActivityRow
from services.events.models import Plan as PlanRow
from services.events.models import PlanAmendment as PlanAmendmentRow
from services.events.models import PlanItem as PlanItemRow
from services.events.models import PlanItemRevision as PlanItemRevisionRow
from services.events.models import PlanProposal as PlanProposalRow
from services.events.settings import EventsSettings

pytestmark = pytest.mark.integration

UNKNOWN = "00000000-0000-0000-0000-000000000000"
SECRET = "entity-fields-test-internal-token-secret"
ADMIN = Identity(subject="test-admin", roles=frozenset({Role.regional_admin}), region_code=ALL_REGIONS)


def as_admin(app: Any) -> Any:
    """``app`` asked by an admin of every region (planned activities and draft plans are not
    public), with the internal token the gateway would send."""

    async def asked(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            token = f"Bearer {sign_internal(ADMIN, SECRET)}".encode()
            scope = {**scope, "headers": [*scope["headers"], (b"authorization", token)]}
        await app(scope, receive, send)

    return asked


async def ask(app: Any, query: str, variables: dict[str, Any] | None = None) -> Any:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://subgraph"
    ) as client:
        response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements the database is sent inside the block."""
    sent: list[str] = []

    def record(*arguments: Any) -> None:
        sent.append(arguments[2])

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


def entities(selection: str, variables: str = "") -> str:
    """A query of ``_entities`` for representations ``$r`` (and ``variables``, declared)."""
    return f"query($r: [_Any!]!{variables}) {{ _entities(representations: $r) {{ {selection} }} }}"


def registration(organization: uuid.UUID, region: str, kind: str = "school") -> Item:
    data = OrganizationRegistered(
        organization_id=organization,
        full_name="МБОУ СОШ (тест)",
        short_name="СОШ (тест)",
        kind=kind,
        region_code=region,
        registered_at=datetime.now(UTC),
    )
    cloud = CloudEvent(type=data.event_type, source="/test", data=data.model_dump(mode="json"))
    return Item(data=data, event=cloud, value=b"", headers={})


# --- analytics: Organization.regionSummary ------------------------------------------------------


@pytest.fixture
async def analytics_app(service_databases: dict[str, str]) -> AsyncIterator[tuple[Any, Database]]:
    service = analytics.build(AnalyticsSettings(database_url=service_databases["analytics"]))
    yield service.asgi(analytics.schema), service.db
    await service.db.dispose()


async def test_an_organizations_region_summary_comes_from_analytics_own_projection(
    analytics_app: tuple[Any, Database],
) -> None:
    app, db = analytics_app
    kaliningrad = [uuid.uuid4() for _ in range(3)]
    kalmykia = uuid.uuid4()
    async with db.session() as session, session.begin():
        await organizations_registered(
            session,
            [
                registration(kaliningrad[0], "39"),
                registration(kaliningrad[1], "39", kind="kindergarten"),
                registration(kalmykia, "08"),
            ],
        )
    async with db.session() as session, session.begin():
        # a later batch, with an organization already known (kept as first registered)
        await organizations_registered(
            session, [registration(kaliningrad[2], "39"), registration(kalmykia, "39")]
        )

    asked = [kalmykia, *kaliningrad, UNKNOWN, "not-a-uuid"]
    with statements(db) as sent:
        data = await ask(
            app,
            entities("... on Organization { id regionSummary { regionCode organizations schools } }"),
            {"r": [{"__typename": "Organization", "id": str(i)} for i in asked]},
        )
    found = data["_entities"]
    assert [e["id"] for e in found] == [str(i) for i in asked]
    assert found[0]["regionSummary"]["regionCode"] == "08"
    assert [e["regionSummary"]["regionCode"] for e in found[1:4]] == ["39", "39", "39"]
    # an organization is counted once, in the region it was first registered in
    assert found[1]["regionSummary"] == {"regionCode": "39", "organizations": 3, "schools": 2}
    assert found[4]["regionSummary"] is None and found[5]["regionSummary"] is None
    assert len(sent) == 1, sent


async def test_an_organization_of_a_region_without_figures_has_zeros(
    analytics_app: tuple[Any, Database],
) -> None:
    app, db = analytics_app
    organization = uuid.uuid4()
    async with db.session() as session, session.begin():
        await organizations_registered(session, [registration(organization, "77")])
        await session.execute(RegionSummary.__table__.delete())
    data = await ask(
        app,
        entities("... on Organization { regionSummary { regionCode organizations updatedAt } }"),
        {"r": [{"__typename": "Organization", "id": str(organization)}]},
    )
    assert data["_entities"] == [
        {"regionSummary": {"regionCode": "77", "organizations": 0, "updatedAt": None}}
    ]


# --- events: Organization.activities, Network.plans and .calendar, references ---------------------


@dataclass
class Calendar:
    app: Any
    db: Database
    first: uuid.UUID
    second: uuid.UUID
    idle: uuid.UUID
    network: uuid.UUID
    other_network: uuid.UUID
    activities: dict[str, uuid.UUID]


ACTIVITY_PAGE = (
    "edges { cursor node { id title status host { id } network { id } } } pageInfo { hasNextPage endCursor }"
)


@pytest.fixture
async def calendar(service_databases: dict[str, str]) -> AsyncIterator[Calendar]:
    service = events.build(
        EventsSettings(database_url=service_databases["events"], internal_token_secret=SECRET)
    )
    first, second, idle, network, other_network = (uuid.uuid4() for _ in range(5))
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    rows = {
        "first-1": (first, network, 0, "held"),
        "first-2": (first, network, 1, "planned"),
        "first-3": (first, None, 2, "planned"),
        "second-1": (second, other_network, 0, "announced"),
        "second-2": (second, network, 3, "planned"),
    }
    ids = {title: uuid.uuid4() for title in rows}
    async with service.db.session() as session, session.begin():
        for title, (host, network_id, day, status) in rows.items():
            session.add(
                ActivityRow(
                    id=ids[title],
                    title=title,
                    activity_type="seminar",
                    format="in_person",
                    host_organization_id=host,
                    network_id=network_id,
                    starts_at=start + timedelta(days=day),
                    ends_at=start + timedelta(days=day, hours=2),
                    status=status,
                )
            )
        for network_id, years in ((network, (2025, 2026)), (other_network, (2026,))):
            for year in years:
                session.add(PlanRow(network_id=network_id, year=year, title=f"План {year}"))
    yield Calendar(
        app=as_admin(service.asgi(events.schema)),
        db=service.db,
        first=first,
        second=second,
        idle=idle,
        network=network,
        other_network=other_network,
        activities=ids,
    )
    await service.db.dispose()


def titles(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["title"] for edge in page["edges"]]


async def test_the_activities_an_organization_hosts_come_a_page_at_a_time_in_one_query(
    calendar: Calendar,
) -> None:
    asked = [calendar.second, calendar.first, calendar.idle, UNKNOWN, "not-a-uuid"]
    query = entities(f"... on Organization {{ id activities(first: 2) {{ {ACTIVITY_PAGE} }} }}")
    with statements(calendar.db) as sent:
        data = await ask(
            calendar.app, query, {"r": [{"__typename": "Organization", "id": str(i)} for i in asked]}
        )
    found = data["_entities"]
    assert [e["id"] for e in found] == [str(i) for i in asked]
    second, first, idle, unknown, malformed = (e["activities"] for e in found)
    assert titles(second) == ["second-1", "second-2"] and not second["pageInfo"]["hasNextPage"]
    assert titles(first) == ["first-1", "first-2"] and first["pageInfo"]["hasNextPage"]
    assert {edge["node"]["host"]["id"] for edge in first["edges"]} == {str(calendar.first)}
    assert first["edges"][0]["node"]["network"] == {"id": str(calendar.network)}
    for empty in (idle, unknown, malformed):
        assert empty == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
    assert len(sent) == 1, sent

    following = await ask(
        calendar.app,
        entities(
            "... on Organization { activities(first: 2, after: $after) {"
            " edges { node { title network { id } } } pageInfo { hasNextPage } } }",
            ", $after: String",
        ),
        {
            "r": [{"__typename": "Organization", "id": str(calendar.first)}],
            "after": first["pageInfo"]["endCursor"],
        },
    )
    rest = following["_entities"][0]["activities"]
    assert rest == {
        "edges": [{"node": {"title": "first-3", "network": None}}],
        "pageInfo": {"hasNextPage": False},
    }


async def test_an_organizations_activities_filter_like_the_calendar(calendar: Calendar) -> None:
    representations = [{"__typename": "Organization", "id": str(calendar.first)}]
    planned = await ask(
        calendar.app,
        entities('... on Organization { activities(status: "planned") { edges { node { title } } } }'),
        {"r": representations},
    )
    assert titles(planned["_entities"][0]["activities"]) == ["first-2", "first-3"]
    in_network = await ask(
        calendar.app,
        entities(
            "... on Organization { activities(networkId: $n) { edges { node { title } } } }", ", $n: ID"
        ),
        {"r": representations, "n": str(calendar.network)},
    )
    assert titles(in_network["_entities"][0]["activities"]) == ["first-1", "first-2"]
    root = await ask(
        calendar.app,
        "query($h: ID) { activities(hostOrganizationId: $h) { edges { node { title } } } }",
        {"h": str(calendar.first)},
    )
    everything = await ask(
        calendar.app,
        entities("... on Organization { activities { edges { node { title } } } }"),
        {"r": representations},
    )
    assert titles(everything["_entities"][0]["activities"]) == titles(root["activities"])


async def test_a_networks_plans_and_calendar_resolve_one_query_per_field(calendar: Calendar) -> None:
    asked = [calendar.network, calendar.other_network, UNKNOWN]
    query = entities(
        f"... on Network {{ id plans {{ year network {{ id }} }} calendar(first: 10) {{ {ACTIVITY_PAGE} }} }}"
    )
    with statements(calendar.db) as sent:
        data = await ask(calendar.app, query, {"r": [{"__typename": "Network", "id": str(i)} for i in asked]})
    network, other, unknown = data["_entities"]
    assert [p["year"] for p in network["plans"]] == [2026, 2025]
    assert {p["network"]["id"] for p in network["plans"]} == {str(calendar.network)}
    assert [p["year"] for p in other["plans"]] == [2026]
    assert titles(network["calendar"]) == ["first-1", "first-2", "second-2"]
    assert titles(other["calendar"]) == ["second-1"]
    assert unknown["plans"] == [] and unknown["calendar"]["edges"] == []
    assert len(sent) == 2, sent  # one for the plans of all networks, one for their calendars

    hosted = await ask(
        calendar.app,
        entities(
            "... on Network { calendar(hostOrganizationId: $h) { edges { node { title } } }"
            " plans(year: 2025) { year } }",
            ", $h: ID",
        ),
        {"r": [{"__typename": "Network", "id": str(calendar.network)}], "h": str(calendar.second)},
    )
    assert hosted["_entities"] == [
        {"calendar": {"edges": [{"node": {"title": "second-2"}}]}, "plans": [{"year": 2025}]}
    ]


async def test_an_activity_refers_to_its_host_and_network_in_the_registry(calendar: Calendar) -> None:
    asked = [calendar.activities["first-3"], calendar.activities["second-1"]]
    with statements(calendar.db) as sent:
        data = await ask(
            calendar.app,
            entities("... on Activity { hostOrganizationId host { id } network { id } }"),
            {"r": [{"__typename": "Activity", "id": str(i)} for i in asked]},
        )
    assert data["_entities"] == [
        {"hostOrganizationId": str(calendar.first), "host": {"id": str(calendar.first)}, "network": None},
        {
            "hostOrganizationId": str(calendar.second),
            "host": {"id": str(calendar.second)},
            "network": {"id": str(calendar.other_network)},
        },
    ]
    assert len(sent) == 1, sent


async def test_plans_items_proposals_versions_and_progress_resolve_one_query_per_field(
    calendar: Calendar,
) -> None:
    """However many plans a request shows, each of their lists is one statement for them all."""
    async with calendar.db.session() as session, session.begin():
        plans = list(await session.scalars(select(PlanRow).order_by(PlanRow.year)))
        for plan in plans:
            item = PlanItemRow(plan_id=plan.id, title="Справка", due_on=date(plan.year, 5, 1), kind="task")
            session.add(item)
            await session.flush()
            session.add(
                PlanItemRevisionRow(
                    item_id=item.id,
                    version=1,
                    plan_id=plan.id,
                    title=item.title,
                    kind="task",
                    due_on=item.due_on,
                )
            )
            session.add(
                PlanProposalRow(
                    plan_id=plan.id,
                    organization_id=calendar.first,
                    title="Предложение",
                    due_on=date(plan.year, 6, 1),
                    proposed_by="test",
                    status="accepted",
                    item_id=item.id,
                )
            )
            session.add(PlanAmendmentRow(plan_id=plan.id, version=2, author="test", reason="перенос"))
    query = entities(
        "... on Network { plans { year items { title done interactionGroup { id } }"
        " proposals { status item { id plan { year } } } versions { number reason items { title } }"
        " progress { items done } } }"
    )
    representations = [
        {"__typename": "Network", "id": str(i)} for i in (calendar.network, calendar.other_network)
    ]
    with statements(calendar.db) as sent:
        data = await ask(calendar.app, query, {"r": representations})
    shown = [plan for network in data["_entities"] for plan in network["plans"]]
    assert len(shown) == 3
    for plan in shown:
        assert plan["items"] == [{"title": "Справка", "done": False, "interactionGroup": None}]
        assert [p["status"] for p in plan["proposals"]] == ["accepted"]
        assert plan["proposals"][0]["item"]["plan"]["year"] == plan["year"]
        assert [(v["number"], v["reason"], len(v["items"])) for v in plan["versions"]] == [
            (1, None, 1),
            (2, "перенос", 1),
        ]
        assert plan["progress"] == {"items": 1, "done": 0}
    # plans; items; their activities; proposals; revisions; amendments; the proposals' items; their plans
    assert len(sent) == 8, sent
