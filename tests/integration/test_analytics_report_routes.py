"""GET /reports/analysis.{xlsx,html,pdf} on real PostgreSQL, straight from the analytics routes and
through the gateway's pass-through."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time

import httpx
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from setka_runtime.access import DEV_INTERNAL_SECRET, Identity, Role, sign_internal
from setka_runtime.db import Database
from sqlmodel import SQLModel
from starlette.applications import Starlette

from gateway.app import create_app as create_gateway
from gateway.auth import issue_token
from gateway.settings import GatewaySettings
from services.analytics.models import (
    Activity,
    Attendance,
    Educator,
    Employment,
    Membership,
    Network,
    Organization,
)
from services.analytics.reports import XLSX_TYPE, report_routes
from services.analytics.settings import AnalyticsSettings
from tests.conftest import DatabaseFactory
from tests.helpers import served

pytestmark = pytest.mark.integration

NETWORK = uuid.UUID("7d4f2a10-3b8e-4c61-9f25-0a1b2c3d4e5f")
CENTRE, SUPPORTED, IDLE = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
EDUCATOR = uuid.uuid4()
NETWORK_TITLE = "Сеть «Балтийское взаимодействие»"


def at(day: date) -> datetime:
    return datetime.combine(day, time(9), tzinfo=UTC)


def school(ident: uuid.UUID, name: str) -> Organization:
    return Organization(
        id=ident, short_name=name, region_code="39", kind="school", registered_at=at(date(2023, 9, 1))
    )


def seminar(day: date) -> list[SQLModel]:
    """A seminar the centre held in the network, attended by the supported school's educator."""
    activity = Activity(
        id=uuid.uuid4(),
        network_id=NETWORK,
        host_organization_id=CENTRE,
        activity_type="seminar",
        processes=["training"],
        format="in_person",
        starts_at=at(day),
        ends_at=at(day),
        status="held",
        held_on=day,
    )
    attendance = Attendance(
        id=uuid.uuid4(),
        activity_id=activity.id,
        organization_id=SUPPORTED,
        educator_id=EDUCATOR,
        hours=4,
        activity_day=day,
        host_organization_id=CENTRE,
        network_id=NETWORK,
    )
    return [activity, attendance]


@pytest.fixture(scope="module")
async def db(databases: DatabaseFactory) -> AsyncIterator[Database]:
    """One migrated analytics database: a network with a centre and two supported schools, one of
    which took part in a seminar in 2024 and in 2025."""
    database = Database(databases.create("analytics", migrate="analytics"))
    rows: list[SQLModel] = [
        Network(
            id=NETWORK, name=NETWORK_TITLE, level="regional", region_code="39", started_on=date(2023, 9, 1)
        ),
        school(CENTRE, "МАОУ «Гимназия № 1» г. Балтийска"),
        school(SUPPORTED, "МБОУ «СОШ № 5» г. Балтийска"),
        school(IDLE, "МБОУ «ООШ п. Дивное»"),
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
        *seminar(date(2024, 10, 8)),
        *seminar(date(2025, 3, 11)),
    ]
    async with database.session() as session, session.begin():
        session.add_all(rows[:4])  # the network and the schools before what refers to them
        await session.flush()
        session.add_all(rows[4:])
    yield database
    await database.dispose()


METHODOLOGIST = Identity("methodologist-39", frozenset({Role.expert}), "39")
"""A methodologist of the region the network is in: the analysis is theirs to see whole."""


@pytest.fixture(scope="module")
def app(db: Database) -> Starlette:
    return Starlette(
        routes=report_routes(lambda: db, AnalyticsSettings(INTERNAL_TOKEN_SECRET=DEV_INTERNAL_SECRET))
    )


async def get(app: Starlette, path: str, caller: Identity | None = METHODOLOGIST) -> httpx.Response:
    """The report as the gateway asks for it, with the caller's identity (None: anonymous)."""
    headers = {"authorization": f"Bearer {sign_internal(caller, DEV_INTERNAL_SECRET)}"} if caller else {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://analytics"
    ) as client:
        return await client.get(path, headers=headers)


async def test_a_small_group_is_not_reported_outside_its_scope(app: Starlette) -> None:
    """The network has three schools: its figures are theirs, so only callers of its region get
    them; anonymous callers are asked to sign in, a methodologist of another region is refused."""
    path = f"/reports/analysis.xlsx?scope=network&id={NETWORK}&year=2025"
    anonymous = await get(app, path, None)
    assert anonymous.status_code == 401 and "Sign in" in anonymous.text
    assert "group of 3 schools" in anonymous.text
    elsewhere = await get(app, path, Identity("methodologist-77", frozenset({Role.expert}), "77"))
    assert elsewhere.status_code == 403 and "outside your scope" in elsewhere.text
    assert (await get(app, path)).status_code == 200


async def test_the_schools_needing_attention_are_reported_only_to_those_told_of_their_alerts(
    db: Database,
) -> None:
    """With the group large enough for its figures to be public (two schools here), anonymous
    callers and callers of another region get the report — without the schools needing attention;
    a methodologist of the region gets them; every report carries the methodology annex."""
    settings = AnalyticsSettings(INTERNAL_TOKEN_SECRET=DEV_INTERNAL_SECRET, disclosure_min_schools=2)
    public = Starlette(routes=report_routes(lambda: db, settings))
    path = f"/reports/analysis.xlsx?scope=network&id={NETWORK}&year=2025"
    elsewhere = Identity("viewer-77", frozenset({Role.viewer}), "77")
    for caller in (None, elsewhere):
        response = await get(public, path, caller)
        assert response.status_code == 200, response.text
        book = load_workbook(io.BytesIO(response.content))
        listed = [row[1] for row in book["Школы, требующие внимания"].iter_rows(min_row=2, values_only=True)]
        assert listed == ["Школ, требующих особого внимания, не выявлено."], listed
        assert "Кто что видит" in " ".join(
            str(value) for row in book["Методика"].iter_rows(values_only=True) for value in row if value
        )
        html = await get(public, path.replace(".xlsx", ".html"), caller)
        assert "МБОУ «ООШ п. Дивное»" not in html.text and "Приложение. Методика расчёта" in html.text
    own = load_workbook(io.BytesIO((await get(public, path)).content))
    schools = [row[1] for row in own["Школы, требующие внимания"].iter_rows(min_row=2, values_only=True)]
    assert "МБОУ «ООШ п. Дивное»" in schools


async def test_the_workbook_of_a_network_for_a_year(app: Starlette) -> None:
    response = await get(app, f"/reports/analysis.xlsx?scope=network&id={NETWORK}&year=2025")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX_TYPE
    assert response.headers["content-disposition"] == (
        f'attachment; filename="analysis-network-{NETWORK}-2025.xlsx"'
    )
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[0] == "Показатели"
    rows = list(book["Показатели"].iter_rows(min_row=2, values_only=True))
    coverage = next(row for row in rows if str(row[1]).startswith("Охват"))
    assert coverage[3:5] == (50, 50)  # one of the two supported schools took part, in 2024 and 2025
    about = [value for row in book["Сведения"].iter_rows(values_only=True) for value in row if value]
    assert f"Сеть: {NETWORK_TITLE}" in about and "01.01.2025 – 31.12.2025" in about
    assert book["Диаграммы"]._charts
    schools = [row[1] for row in book["Школы, требующие внимания"].iter_rows(min_row=2, values_only=True)]
    assert "МБОУ «ООШ п. Дивное»" in schools


async def test_the_document_as_html_and_as_pdf(app: Starlette) -> None:
    school_year = await get(app, f"/reports/analysis.html?scope=network&id={NETWORK}&school_year=2024")
    assert school_year.status_code == 200, school_year.text
    assert (
        'filename="analysis-network-' + str(NETWORK) + '-2024-25.html"'
        in school_year.headers["content-disposition"]
    )
    assert "2024/25 учебный год (01.09.2024 – 31.08.2025)" in school_year.text
    html = await get(app, f"/reports/analysis.html?scope=network&id={NETWORK}&year=2025&quarter=1")
    assert html.status_code == 200, html.text
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert html.headers["content-disposition"] == (
        f'inline; filename="analysis-network-{NETWORK}-2025-q1.html"'
    )
    assert "<h1>Анализ эффективности сетевого взаимодействия</h1>" in html.text
    assert "01.01.2025 – 31.03.2025" in html.text and "data:image/svg+xml;base64," in html.text

    pdf = await get(app, f"/reports/analysis.pdf?scope=network&id={NETWORK}&from=2025-01-01&to=2025-06-30")
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == (
        f'attachment; filename="analysis-network-{NETWORK}-2025-01-01--2025-06-30.pdf"'
    )
    assert pdf.content.startswith(b"%PDF")
    text = re.sub(
        r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    )
    assert "Анализ эффективности сетевого взаимодействия" in text and NETWORK_TITLE in text


async def test_a_region_by_its_code(app: Starlette) -> None:
    response = await get(app, "/reports/analysis.xlsx?scope=region&id=39&year=2025")
    assert response.status_code == 200, response.text
    assert 'filename="analysis-region-39-2025.xlsx"' in response.headers["content-disposition"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("id={network}&year=2025", "Укажите scope"),
        ("scope=network&id=42&year=2025", "«42» — не идентификатор (network)"),
        ("scope=network&id={network}", "Укажите год (и квартал), учебный год или даты с и по"),
        ("scope=network&id={network}&school_year=2025&year=2025", "что-то одно"),
        ("scope=network&id={network}&year=2025&quarter=5", "Квартал"),
        ("scope=network&id={network}&from=2025-03-01&to=2025-02-01", "раньше, чем начался"),
        ("scope=planet&id=1&year=2025", "Неизвестный вид области анализа «planet»"),
    ],
)
async def test_bad_parameters_are_refused_with_the_reason(app: Starlette, query: str, message: str) -> None:
    response = await get(app, "/reports/analysis.pdf?" + query.format(network=NETWORK))
    assert response.status_code == 400
    assert message in response.text


async def test_what_does_not_exist_is_not_found(app: Starlette) -> None:
    unknown = await get(app, f"/reports/analysis.pdf?scope=network&id={uuid.uuid4()}&year=2025")
    assert unknown.status_code == 404 and "no network" in unknown.text
    other_format = await get(app, f"/reports/analysis.docx?scope=network&id={NETWORK}&year=2025")
    assert other_format.status_code == 404 and ".xlsx, .html or .pdf" in other_format.text


async def test_the_gateway_passes_downloads_through(app: Starlette) -> None:
    async with served(app, lifespan="off") as analytics_url:
        gateway = create_gateway(
            GatewaySettings(
                analytics_url=f"{analytics_url}/graphql",
                registry_url="http://127.0.0.1:9/graphql",
                events_url="http://127.0.0.1:9/graphql",
            )
        )
        token = issue_token(GatewaySettings(), subject="methodologist-39", roles=["expert"], region_code="39")
        signed_in = {"authorization": f"Bearer {token}"}
        async with (
            served(gateway) as gateway_url,
            httpx.AsyncClient(
                base_url=gateway_url,
                timeout=60,  # a PDF is drawn on a processor other tests share
            ) as client,
        ):
            pdf = await client.get(
                f"/reports/analysis.pdf?scope=network&id={NETWORK}&year=2025", headers=signed_in
            )
            internal = sign_internal(METHODOLOGIST, DEV_INTERNAL_SECRET)
            direct = await client.get(
                f"{analytics_url}/reports/analysis.pdf?scope=network&id={NETWORK}&year=2025",
                headers={"authorization": f"Bearer {internal}"},
            )
            refused = await client.get("/reports/analysis.xlsx?scope=network&id=42&year=2025")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert len(pdf.content) == int(pdf.headers["content-length"])
    for header in ("content-type", "content-disposition"):
        assert pdf.headers[header] == direct.headers[header]
    assert refused.status_code == 400 and "не идентификатор" in refused.text


async def test_the_gateway_says_when_analytics_is_down() -> None:
    gateway = create_gateway(
        GatewaySettings(
            analytics_url="http://127.0.0.1:9/graphql",
            registry_url="http://127.0.0.1:9/graphql",
            events_url="http://127.0.0.1:9/graphql",
        )
    )
    response = await get(gateway, f"/reports/analysis.pdf?scope=network&id={NETWORK}&year=2025", None)
    assert response.status_code == 502 and response.text == "The analytics service is unavailable."
