"""Issue 19, other ways in: HTTP (binary, structured and batched CloudEvents), a file import and a
mutation put regional facts through the one path Kafka's facts take, with the same reasons.

On the real broker and PostgreSQL, with the events service running in this process.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from setka_contracts import topics
from setka_contracts.identifiers import inn_check_digit
from setka_runtime.access import Identity, Role, sign_internal
from setka_runtime.service import Service
from sqlalchemy import func, select, text
from starlette.routing import Route

from operations import contract
from services.events import app as events
from services.events import importing, sources
from services.events.models import KnownEducator, KnownEmployment, KnownOrganization, SourceCredential
from services.events.schema import schema
from services.events.settings import EventsSettings
from services.events.sources import SOURCE_TOKEN_PREFIX, token_digest
from tests.helpers import eventually

pytestmark = pytest.mark.integration

SECRET = "ways-in-internal-secret-of-32-bytes!!"
TOKEN = SOURCE_TOKEN_PREFIX + "rcoi-39-test-token"
SOURCE = "/regional/rcoi-39"
PUBLISHED = "setka.regional.assessment.published.v1"


def inn(number: int) -> str:
    body = f"39{number:07d}"
    return body + inn_check_digit(body)


@dataclass
class Running:
    service: Service
    client: httpx.AsyncClient
    school: uuid.UUID
    educator: uuid.UUID

    async def count(self, sql: str) -> int:
        async with self.service.db.session() as session:
            return int((await session.execute(text(sql))).scalar_one())


@pytest.fixture
async def running(broker: Any, service_databases: dict[str, str]) -> AsyncIterator[Running]:
    settings = EventsSettings(
        database_url=service_databases["events"],
        kafka_bootstrap_servers=broker.bootstrap,
        consumer_graceful_seconds=2,
        unknown_retry_seconds=0.2,
        internal_token_secret=SECRET,
    )
    service = events.build(settings)
    school, educator = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    async with service.db.session() as session, session.begin():
        for n in range(4):
            session.add(
                KnownOrganization(
                    id=school if n == 0 else uuid.uuid4(),
                    short_name=f"Школа {n}",
                    kind="school",
                    region_code="39" if n < 3 else "08",
                    inn=inn(n),
                    updated_at=now,
                )
            )
        session.add(KnownEducator(id=educator, subjects=[], updated_at=now))
        session.add(KnownEmployment(id=uuid.uuid4(), educator_id=educator, organization_id=school))
    async with service.db.session() as session, session.begin():
        for ce_source, system in ((SOURCE, "rcoi-39"), ("/regional/iro-39", "iro-kpk")):
            registered = await sources.register(
                session,
                ce_source=ce_source,
                region_code="39",
                title=f"Система {system}",
                grants={
                    sources.GrantKind.source_system: [system],
                    sources.GrantKind.topic: list(topics.INBOUND),
                    sources.GrantKind.region: ["39"],
                },
            )
            if ce_source == SOURCE:  # a token with a known value, as `setka sources token` keeps it
                session.add(
                    SourceCredential(source_id=registered.id, digest=token_digest(TOKEN), issued_by="test")
                )
    intake = service.context["intake"]
    app = service.asgi(schema, extra_routes=[Route("/facts", intake.receive, methods=["POST"])])
    transport = httpx.ASGITransport(app=app)
    async with service.running(), httpx.AsyncClient(transport=transport, base_url="http://events") as client:
        await asyncio.wait_for(service.connected.wait(), 60)
        yield Running(service, client, school, educator)


def fact(index: int, **changes: Any) -> dict[str, Any]:
    data = {
        "source_system": "rcoi-39",
        "external_id": f"H-{index}",
        "organization": {"inn": inn(index % 3)},
        "procedure": "vpr",
        "subject": f"предмет {index}",
        "grade": 5,
        "year": 2025,
        "participants": 25,
        "mean_score": 3.7,
        "mark_shares": {"2": 0.1, "3": 0.4, "4": 0.35, "5": 0.15},
        "recorded_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
    } | changes
    return {"specversion": "1.0", "id": f"h-{index}", "source": SOURCE, "type": PUBLISHED, "data": data}


BATCH = {"content-type": "application/cloudevents-batch+json", "authorization": f"Bearer {TOKEN}"}


async def test_http_batches_are_all_or_nothing_kept_once_and_applied_once(running: Running) -> None:
    client = running.client
    bad = fact(3, grade="5")
    refused = await client.post("/facts", content=json.dumps([fact(1), bad, fact(2)]), headers=BATCH)
    assert refused.status_code == 400
    assert [e["index"] for e in refused.json()["events"]] == [1]
    # the reason is the consumer's, word for word, and `setka contract check` gives the same
    assert refused.json()["events"][0]["reason"] == contract.check_event(bad)
    assert await running.count("SELECT count(*) FROM accepted_fact") == 0

    accepted = await client.post("/facts", content=json.dumps([fact(1), fact(2)]), headers=BATCH)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json() == {"status": "accepted", "accepted": 2, "repeated": 0}
    again = await client.post("/facts", content=json.dumps([fact(1), fact(2)]), headers=BATCH)
    assert again.status_code == 200
    assert again.json()["repeated"] == 2

    one = await client.post(
        "/facts",
        content=json.dumps(fact(4)),
        headers={**BATCH, "content-type": "application/cloudevents+json"},
    )
    assert one.status_code == 202, one.text

    async def applied() -> bool:
        return await running.count("SELECT count(*) FROM assessment_result") == 3

    await eventually(applied, timeout=30)
    assert await running.count("SELECT count(*) FROM accepted_fact WHERE outcome = 'processed'") == 3

    # the same grants as on Kafka: a school of a region not granted to the source
    elsewhere = fact(7, organization={"inn": inn(3)}) | {"type": "setka.regional.assessment.published.v2"}
    assert (await client.post("/facts", content=json.dumps([elsewhere]), headers=BATCH)).status_code == 202

    async def refused_by_grant() -> str:
        async with running.service.db.session() as session:
            return str(
                (
                    await session.execute(text("SELECT reason FROM accepted_fact WHERE event_id = 'h-7'"))
                ).scalar_one_or_none()
                or ""
            )

    assert "[SOURCE_NOT_GRANTED_REGION]" in await eventually(refused_by_grant, timeout=30)
    assert await running.count("SELECT count(*) FROM assessment_result") == 3

    # a source's token sends that source's facts only; an unknown token sends nothing
    foreign = fact(5) | {"source": "/regional/other"}
    assert (await client.post("/facts", content=json.dumps([foreign]), headers=BATCH)).status_code == 403
    stranger = {**BATCH, "authorization": f"Bearer {SOURCE_TOKEN_PREFIX}nobody"}
    assert (await client.post("/facts", content=json.dumps([fact(6)]), headers=stranger)).status_code == 401
    assert await running.count("SELECT count(*) FROM accepted_fact") == 4


def assessment_csv(path: Path, rows: list[list[str]]) -> Path:
    header = [
        "Код ОО",
        "ИНН",
        "Наименование ОО",
        "Процедура",
        "Предмет",
        "Класс",
        "Год",
        "Количество участников",
        "Средний балл",
        "«2», %",
        "«3», %",
        "«4», %",
        "«5», %",
    ]
    lines = ["Результаты оценочных процедур по ОО (выгрузка РЦОИ)", ";".join(header)]
    lines += [";".join(row) for row in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1251"))
    return path


async def test_an_import_reports_by_line_and_running_it_again_changes_nothing(
    running: Running, tmp_path: Path
) -> None:
    db = running.service.db
    rows = [
        [
            "390001",
            inn(0),
            "Школа 0",
            "ВПР",
            "Математика",
            "5",
            "2024/2025",
            "25",
            "3,72",
            "10",
            "40",
            "35",
            "15",
        ],
        ["390002", inn(1), "Школа 1", "ОГЭ", "Русский язык", "9", "2025", "30", "3,9", "5", "30", "45", "20"],
        [
            "390003",
            inn(2),
            "Школа 2",
            "ВПР",
            "Физика",
            "восьмой",
            "2025",
            "20",
            "3,5",
            "10",
            "40",
            "40",
            "10",
        ],
        ["390004", inn(1), "Школа 1", "ВПР", "Химия", "8", "2025", "20", "3,5", "10", "40", "40", "40"],
    ]
    path = assessment_csv(tmp_path / "vpr.csv", rows)
    first = await importing.import_file(
        db, path, importing.ImportKind.assessment_results, source=SOURCE, source_system="rcoi-39"
    )
    by_line = {line.line: line for line in first.lines}
    assert (by_line[3].outcome, by_line[4].outcome) == ("applied", "applied")
    assert by_line[5].outcome == "rejected" and "«восьмой» — не число" in by_line[5].reason
    assert by_line[6].outcome == "rejected" and "shares must sum to 1" in by_line[6].reason
    async with db.session() as session:
        stored = (await session.execute(select(func.count()).select_from(text("assessment_result")))).scalar()
    assert stored == 2
    events_before = await running.count("SELECT count(*) FROM outbox")

    second = await importing.import_file(
        db, path, importing.ImportKind.assessment_results, source=SOURCE, source_system="rcoi-39"
    )
    assert [line.outcome for line in second.lines][:2] == ["repeat", "repeat"]
    assert await running.count("SELECT count(*) FROM outbox") == events_before
    assert await running.count("SELECT count(*) FROM assessment_result") == 2

    # trainings from a course system's XLSX export
    book = Workbook()
    sheet = book.active
    sheet.append(
        [
            "ФИО",
            "ИД педагога в Сетке",
            "ИНН ОО",
            "Наименование программы",
            "Организация, реализующая программу",
            "Объём, часов",
            "Дата окончания",
            "Регистрационный номер удостоверения",
        ]
    )
    sheet.append(
        [
            "Иванова И. И.",
            str(running.educator),
            inn(0),
            "Функциональная грамотность",
            "КОИРО",
            36,
            datetime(2025, 3, 14),
            "КПК-0001",
        ]
    )
    sheet.append(
        [
            "Петров П. П.",
            str(running.educator),
            inn(1),
            "Формирующее оценивание",
            "КОИРО",
            72,
            "14.03.2025",
            "КПК-0002",
        ]
    )
    book.save(tmp_path / "kpk.xlsx")
    trainings = await importing.import_file(
        db,
        tmp_path / "kpk.xlsx",
        importing.ImportKind.trainings,
        source="/regional/iro-39",
        source_system="iro-kpk",
    )
    outcomes = {line.line: (line.outcome, line.reason) for line in trainings.lines}
    assert outcomes[2] == ("applied", "")
    assert outcomes[3][0] == "rejected" and "does not work at" in outcomes[3][1]


async def test_a_fact_entered_by_hand_goes_through_the_intake(running: Running) -> None:
    admin = Identity("methodologist", frozenset({Role.regional_admin}), "39")
    response = await running.client.post(
        "/graphql",
        headers={"authorization": f"Bearer {sign_internal(admin, SECRET)}"},
        json={
            "query": """mutation($input: TrainingEntry!) { recordTraining(input: $input) {
                __typename ... on FactEntered { outcome } ... on ValidationError { code message } } }""",
            "variables": {
                "input": {
                    "educatorId": str(running.educator),
                    "organizationId": str(running.school),
                    "course": "Наставничество",
                    "provider": "КОИРО",
                    "hours": 24,
                    "completedOn": "2025-02-01",
                    "externalId": "КПК-77",
                }
            },
        },
    )
    assert response.json()["data"]["recordTraining"] == {"__typename": "FactEntered", "outcome": "applied"}
    assert await running.count("SELECT count(*) FROM training") == 1
    wrong = await running.client.post(
        "/graphql",
        headers={"authorization": f"Bearer {sign_internal(admin, SECRET)}"},
        json={
            "query": """mutation($input: DeficitEntry!) { recordDeficit(input: $input) {
                __typename ... on ValidationError { code message } } }""",
            "variables": {
                "input": {
                    "educatorId": str(running.educator),
                    "organizationId": str(running.school),
                    "competency": "оценивание",
                    "level": "огромный",
                    "diagnosedOn": "2025-02-01",
                }
            },
        },
    )
    refused = wrong.json()["data"]["recordDeficit"]
    assert refused["code"] == "FACT_INVALID" and "level" in refused["message"]
