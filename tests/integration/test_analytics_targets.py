"""Issue 20, items 1, 5 and 6 on real PostgreSQL: targets are the region's or the network's decisions
(set and cleared through the subgraph by those who may, audited, listed with who set them and when,
shown in the analysis and its files with where they came from; none set: no status, only the trend);
a figure with nothing recorded is null with its reason and the schools behind it; titles carry the
names the registry's reference data gives, not codes."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from setka_contracts import topics
from setka_contracts.audit import AuditRecorded
from setka_contracts.registry import OrganizationRegistered
from setka_runtime.access import DEV_INTERNAL_SECRET, Identity, Role, sign_internal
from setka_runtime.db import Database
from setka_runtime.tables import outbox
from sqlalchemy import select
from sqlmodel import SQLModel

from services.analytics import app as analytics
from services.analytics.models import (
    Activity,
    Attendance,
    Educator,
    Employment,
    Membership,
    Network,
)
from services.analytics.reports import report_routes
from services.analytics.settings import AnalyticsSettings
from tests.conftest import DatabaseFactory
from tests.integration.test_analytics_projections import cloud, deliver

pytestmark = pytest.mark.integration

REGION = "39"
MUNICIPALITY, OTHER_MUNICIPALITY = uuid.uuid4(), uuid.uuid4()
NETWORK = uuid.uuid4()
NETWORK_TITLE = "Сеть «Балтийское взаимодействие»"
CENTRE, SUPPORTED, IDLE = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
EDUCATOR = uuid.uuid4()
REGISTERED = datetime(2023, 9, 1, 9, tzinfo=UTC)

ADMIN = Identity("admin-39", frozenset({Role.regional_admin}), REGION)
COORDINATOR = Identity("coordinator-m", frozenset({Role.municipal_coordinator}), REGION, str(MUNICIPALITY))
ELSEWHERE = Identity(
    "coordinator-o", frozenset({Role.municipal_coordinator}), REGION, str(OTHER_MUNICIPALITY)
)
ADMIN_ELSEWHERE = Identity("admin-08", frozenset({Role.regional_admin}), "08")
EXPERT = Identity("methodologist-39", frozenset({Role.expert}), REGION)
MOMENT = datetime(2026, 2, 10, 9, 30, tzinfo=UTC)


def at(day: date) -> datetime:
    return datetime.combine(day, time(9), tzinfo=UTC)


@pytest.fixture
async def url(databases: DatabaseFactory) -> AsyncIterator[str]:
    """A network of municipality M (a centre, two supported schools, one of which took part in a
    seminar in 2025); no mobility, no feedback, no assessment results are recorded. The region's
    name comes as the registry's events carry it."""
    address = databases.create("analytics", migrate="analytics")
    await deliver(
        address,
        {
            topics.REGISTRY: [
                cloud(
                    OrganizationRegistered(
                        organization_id=ident,
                        full_name=name,
                        short_name=name,
                        kind="school",
                        region_code=REGION,
                        municipality="Балтийский муниципальный округ",
                        municipality_id=MUNICIPALITY,
                        registered_at=REGISTERED,
                        region_name="Калининградская область",
                    )
                )
                for ident, name in (
                    (CENTRE, "МАОУ «Гимназия № 1»"),
                    (SUPPORTED, "МБОУ «СОШ № 5»"),
                    (IDLE, "МБОУ «ООШ п. Дивное»"),
                )
            ]
        },
        one_at_a_time=False,
    )
    seminar = Activity(
        id=uuid.uuid4(),
        network_id=NETWORK,
        host_organization_id=CENTRE,
        activity_type="seminar",
        processes=["training"],
        format="in_person",
        starts_at=at(date(2025, 3, 11)),
        ends_at=at(date(2025, 3, 11)),
        status="held",
        held_on=date(2025, 3, 11),
    )
    rows: list[SQLModel] = [
        Network(
            id=NETWORK,
            name=NETWORK_TITLE,
            level="municipal",
            region_code=REGION,
            municipality_id=MUNICIPALITY,
            started_on=date(2023, 9, 1),
        ),
        *[
            Membership(
                id=uuid.uuid4(),
                network_id=NETWORK,
                organization_id=org,
                role=role,
                joined_on=date(2023, 9, 1),
            )
            for org, role in ((CENTRE, "centre"), (SUPPORTED, "supported"), (IDLE, "supported"))
        ],
        Educator(id=EDUCATOR),
        Employment(
            id=uuid.uuid4(), educator_id=EDUCATOR, organization_id=SUPPORTED, started_on=date(2020, 9, 1)
        ),
        seminar,
        Attendance(
            id=uuid.uuid4(),
            activity_id=seminar.id,
            organization_id=SUPPORTED,
            educator_id=EDUCATOR,
            hours=4,
            activity_day=date(2025, 3, 11),
            host_organization_id=CENTRE,
            network_id=NETWORK,
        ),
    ]
    db = Database(address)
    async with db.session() as session, session.begin():
        session.add_all(rows[:1])
        await session.flush()
        session.add_all(rows[1:])
    await db.dispose()
    yield address


@pytest.fixture
async def app(url: str) -> AsyncIterator[Any]:
    settings = AnalyticsSettings(database_url=url, INTERNAL_TOKEN_SECRET=DEV_INTERNAL_SECRET)
    service = analytics.build(settings)
    service.context["clock"] = lambda: MOMENT  # when targets are set
    application = service.asgi(analytics.schema, extra_routes=report_routes(lambda: service.db, settings))
    yield service, application
    await service.db.dispose()


async def ask(
    app: Any, query: str, variables: dict[str, Any] | None = None, caller: Identity | None = EXPERT
) -> Any:
    headers = {"authorization": f"Bearer {sign_internal(caller, DEV_INTERNAL_SECRET)}"} if caller else {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app[1]), base_url="http://subgraph"
    ) as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
    return response.json()


SET = """
mutation(
  $scope: ScopeKind!, $id: String!, $indicator: String!, $year: Int!, $value: Float!, $kind: YearKind!
) {
  setIndicatorTarget(
    scope: $scope, id: $id, indicatorId: $indicator, year: $year, value: $value, yearKind: $kind
  ) {
    __typename
    ... on IndicatorTarget {
      indicatorId indicatorTitle scopeKind scopeKey yearKind year yearLabel value setBy setByRole
    }
    ... on ValidationError { field code message }
  }
}
"""
CLEAR = """
mutation($scope: ScopeKind!, $id: String!, $indicator: String!, $year: Int!) {
  clearIndicatorTarget(scope: $scope, id: $id, indicatorId: $indicator, year: $year) {
    __typename
    ... on ClearedIndicatorTarget { indicatorId year cleared }
    ... on ValidationError { field code message }
  }
}
"""
TARGETS = """
query($scope: ScopeKind!, $id: String!) {
  indicatorTargets(scope: $scope, id: $id) { indicatorId scopeKind value year yearKind setBy setByRole setAt }
}
"""
ANALYSIS = """
query($scope: ScopeKind!, $id: String!) {
  effectivenessAnalysis(scope: $scope, id: $id, year: 2025) {
    scopeTitle
    indicators {
      definition { id suggestion }
      value schools status trend note
      target { value scopeKind scopeTitle year yearKind setByRole source }
    }
  }
}
"""


def setting(
    scope: str, ident: str, indicator: str, value: float, year: int = 2025, kind: str = "calendar"
) -> dict[str, Any]:
    return {"scope": scope, "id": ident, "indicator": indicator, "year": year, "value": value, "kind": kind}


async def indicators(app: Any, scope: str, ident: str) -> tuple[str, dict[str, dict[str, Any]]]:
    body = await ask(app, ANALYSIS, {"scope": scope, "id": ident})
    assert "errors" not in body, body
    analysis = body["data"]["effectivenessAnalysis"]
    return analysis["scopeTitle"], {item["definition"]["id"]: item for item in analysis["indicators"]}


async def audited(url: str) -> list[AuditRecorded]:
    db = Database(url)
    try:
        async with db.session() as session:
            rows = await session.execute(select(outbox.c.event_type, outbox.c.payload).order_by(outbox.c.id))
            return [
                AuditRecorded.model_validate(json.loads(payload))
                for kind, payload in rows
                if kind == AuditRecorded.event_type
            ]
    finally:
        await db.dispose()


async def test_targets_are_set_by_the_region_and_the_network_and_the_networks_wins(
    app: Any, url: str
) -> None:
    network = str(NETWORK)
    # nobody set a target: no judgement, Setka's number only offered as a suggestion
    title, got = await indicators(app, "network", network)
    assert title == NETWORK_TITLE
    coverage = got["coverage"]
    assert (coverage["value"], coverage["target"], coverage["status"]) == (50.0, None, "no_target")
    assert coverage["definition"]["suggestion"] == 90.0

    region = await ask(app, SET, setting("region", REGION, "coverage", 40.0), ADMIN)
    assert region["data"]["setIndicatorTarget"] == {
        "__typename": "IndicatorTarget",
        "indicatorId": "coverage",
        "indicatorTitle": "Охват сопровождаемых школ сетевыми мероприятиями",
        "scopeKind": "region",
        "scopeKey": REGION,
        "yearKind": "calendar",
        "year": 2025,
        "yearLabel": "2025 год",
        "value": 40.0,
        "setBy": "admin-39",
        "setByRole": "regional_admin",
    }
    _, got = await indicators(app, "network", network)
    assert got["coverage"]["status"] == "good"  # 50 % of the supported schools, past the region's 40
    assert got["coverage"]["target"]["source"] == (
        "цель субъекта РФ «Калининградская область» на 2025 год; "
        "установил региональный администратор 10.02.2026"
    )

    # the network's coordinator sets the network's own, for the school year too: for the calendar
    # year the network's calendar target applies (its days are the period's)
    mine = await ask(app, SET, setting("network", network, "coverage", 80.0), COORDINATOR)
    assert mine["data"]["setIndicatorTarget"]["setByRole"] == "municipal_coordinator", mine
    school_year = await ask(
        app, SET, setting("network", network, "coverage", 70.0, 2024, "school"), COORDINATOR
    )
    assert school_year["data"]["setIndicatorTarget"]["yearLabel"] == "2024/25 учебный год", school_year
    _, got = await indicators(app, "network", network)
    assert got["coverage"]["target"] == {
        "value": 80.0,
        "scopeKind": "network",
        "scopeTitle": NETWORK_TITLE,
        "year": 2025,
        "yearKind": "calendar",
        "setByRole": "municipal_coordinator",
        "source": f"цель сети «{NETWORK_TITLE}» на 2025 год; установил муниципальный координатор 10.02.2026",
    }
    assert got["coverage"]["status"] == "attention"  # 50 short of 80, up from 0 in 2024

    # the region's analysis knows only the region's target; its title is the region's name
    title, regional = await indicators(app, "region", REGION)
    assert title == "Калининградская область"
    assert regional["coverage"]["target"]["value"] == 40.0

    listed = await ask(app, TARGETS, {"scope": "network", "id": network}, COORDINATOR)
    assert [
        (t["indicatorId"], t["year"], t["yearKind"], t["value"], t["setBy"])
        for t in listed["data"]["indicatorTargets"]
    ] == [
        ("coverage", 2024, "school", 70.0, "coordinator-m"),
        ("coverage", 2025, "calendar", 80.0, "coordinator-m"),
    ]
    assert listed["data"]["indicatorTargets"][0]["setAt"].startswith("2026-02-10T09:30")

    # clearing the network's: the region's applies again; clearing the region's: trend only
    cleared = await ask(
        app, CLEAR, {"scope": "network", "id": network, "indicator": "coverage", "year": 2025}, COORDINATOR
    )
    assert cleared["data"]["clearIndicatorTarget"] == {
        "__typename": "ClearedIndicatorTarget",
        "indicatorId": "coverage",
        "year": 2025,
        "cleared": True,
    }
    _, got = await indicators(app, "network", network)
    assert got["coverage"]["target"]["scopeKind"] == "region"
    await ask(app, CLEAR, {"scope": "region", "id": REGION, "indicator": "coverage", "year": 2025}, ADMIN)
    _, got = await indicators(app, "network", network)
    assert (got["coverage"]["target"], got["coverage"]["status"], got["coverage"]["trend"]) == (
        None,
        "no_target",
        "up",  # the trend is still shown: none of the two took part in 2024
    )

    entries = await audited(url)
    assert [(e.operation, e.subject, e.region_code, e.municipality_id) for e in entries] == [
        ("setIndicatorTarget", "admin-39", REGION, None),
        ("setIndicatorTarget", "coordinator-m", REGION, str(MUNICIPALITY)),
        ("setIndicatorTarget", "coordinator-m", REGION, str(MUNICIPALITY)),
        ("clearIndicatorTarget", "coordinator-m", REGION, str(MUNICIPALITY)),
        ("clearIndicatorTarget", "admin-39", REGION, None),
    ]


@pytest.mark.parametrize(
    ("caller", "scope", "code"),
    [
        (None, "network", "UNAUTHENTICATED"),
        (EXPERT, "network", "FORBIDDEN"),  # reads the analysis, decides nothing
        (ELSEWHERE, "network", "FORBIDDEN"),  # another municipality's coordinator
        (COORDINATOR, "region", "FORBIDDEN"),  # a coordinator does not decide for the region
        (ADMIN_ELSEWHERE, "network", "FORBIDDEN"),
    ],
)
async def test_who_may_not_set_a_target_is_refused_and_nothing_changes(
    app: Any, url: str, caller: Identity | None, scope: str, code: str
) -> None:
    ident = str(NETWORK) if scope == "network" else REGION
    body = await ask(app, SET, setting(scope, ident, "coverage", 60.0), caller)
    assert body["errors"][0]["extensions"]["code"] == code, body
    listed = await ask(app, TARGETS, {"scope": scope, "id": ident}, ADMIN)
    assert listed["data"]["indicatorTargets"] == []
    assert await audited(url) == []


@pytest.mark.parametrize(
    ("variables", "field", "code"),
    [
        (setting("network", str(NETWORK), "coverage", 120.0), "value", "TARGET_OUT_OF_RANGE"),
        (setting("network", str(NETWORK), "feedback_rating", 7.0), "value", "TARGET_OUT_OF_RANGE"),
        (setting("network", str(NETWORK), "no_such_indicator", 1.0), "indicatorId", "UNKNOWN_INDICATOR"),
        (setting("network", str(NETWORK), "coverage", 50.0, 1999), "year", "YEAR_OUT_OF_RANGE"),
        (setting("school", str(SUPPORTED), "coverage", 50.0), "scope", "TARGET_SCOPE"),
        (setting("network", str(uuid.UUID(int=7)), "coverage", 50.0), "id", "UNKNOWN_NETWORK"),
    ],
)
async def test_a_target_that_cannot_be_one_is_a_clear_error(
    app: Any, variables: dict[str, Any], field: str, code: str
) -> None:
    body = await ask(app, SET, variables, ADMIN)
    refused = body["data"]["setIndicatorTarget"]
    assert (refused["__typename"], refused["field"], refused["code"]) == ("ValidationError", field, code), (
        body
    )
    assert refused["message"]  # in Russian, for the person


async def test_the_targets_with_who_set_them_are_for_signed_in_users(app: Any) -> None:
    body = await ask(app, TARGETS, {"scope": "region", "id": REGION}, None)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_nothing_recorded_is_null_with_its_reason_and_the_schools_behind_each_figure(app: Any) -> None:
    _, got = await indicators(app, "network", str(NETWORK))
    for indicator in (
        "mobility_hours",
        "joint_programmes",
        "feedback_rating",
        "deficits_addressed",
        "plan_on_time",
    ):
        figure = got[indicator]
        assert (figure["value"], figure["schools"], figure["status"]) == (None, 0, "no_data"), indicator
        assert figure["note"].startswith("нет данных: "), (indicator, figure["note"])
    assert got["mobility_hours"]["note"] == (
        "нет данных: за период не записано ни одной академической мобильности организаций охвата"
    )
    # the supported school's educator visited the centre's seminar: one service on a partner's
    # premises, the visiting school and the host behind it
    widened = got["widened_services"]
    assert (widened["value"], widened["schools"]) == (1.0, 2)
    assert got["coverage"]["schools"] == 2


async def test_the_files_show_where_targets_came_from_and_what_has_no_data(app: Any, tmp_path: Any) -> None:
    await ask(app, SET, setting("network", str(NETWORK), "coverage", 80.0), COORDINATOR)
    token = sign_internal(EXPERT, DEV_INTERNAL_SECRET)
    query = f"scope=network&id={NETWORK}&year=2025"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app[1]), base_url="http://subgraph"
    ) as client:
        headers = {"authorization": f"Bearer {token}"}
        xlsx = await client.get(f"/reports/analysis.xlsx?{query}", headers=headers)
        pdf = await client.get(f"/reports/analysis.pdf?{query}", headers=headers)
        html = await client.get(f"/reports/analysis.html?{query}", headers=headers)
    assert xlsx.status_code == pdf.status_code == html.status_code == 200

    sheet = load_workbook(io.BytesIO(xlsx.content))["Показатели"]
    header = [cell.value for cell in sheet[1]]
    rows = {row[1]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    source, value, schools, note = (
        header.index(name) for name in ("Откуда цель", "Значение (2025)", "Школ в расчёте", "Примечание")
    )
    coverage = rows["Охват сопровождаемых школ сетевыми мероприятиями"]
    assert coverage[header.index("Цель")] == 80
    assert coverage[source] == (
        f"80\u00a0% — цель сети «{NETWORK_TITLE}» на 2025 год; установил муниципальный координатор 10.02.2026"
    )
    mobility = rows["Часы академической мобильности"]
    assert (mobility[value], mobility[schools]) == ("нет данных", 0)
    assert mobility[note].startswith("нет данных: за период не записано")
    engagement = rows["Вовлечённость педагогов сопровождаемых школ"]
    assert engagement[source] == "цель не установлена; предложение Setka: 50\u00a0% (не цель)"

    (tmp_path / "analysis.pdf").write_bytes(pdf.content)
    text = " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf.content)).pages
    )
    assert f"цель сети «{NETWORK_TITLE}» на 2025 год" in text
    assert "нет данных" in text and "предложение Setka" in text

    assert "установил муниципальный координатор 10.02.2026" in html.text
    assert "нет данных: за период не записано ни одной академической мобильности" in html.text
