"""The registry learns an educator's СНИЛС from the educators file import and from updateEducator,
as from registerEducator: checked by its check digits, kept and published only as its keyed hash,
a bad one refused with its line in the import's report. The events service learns the hash from
the registry's events, so a regional fact naming the educator by СНИЛС lands on them; no table of
either service holds the number in clear.

On the real broker and PostgreSQL, with the registry and events services running in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from setka_contracts import CloudEvent, topics
from setka_contracts.identifiers import inn_check_digit, snils_check_number
from setka_runtime.access import Identity, Role
from setka_runtime.identities import snils_hash
from setka_runtime.service import Service
from sqlalchemy import select

from services.events import app as events
from services.events import sources
from services.events.models import Training
from services.events.settings import EventsSettings
from services.registry import app as registry
from services.registry import educators, reference
from services.registry import organizations as orgs
from services.registry.importing.cli import import_file
from services.registry.importing.mapping import ImportKind
from services.registry.models import Educator
from services.registry.schema import schema as registry_schema
from services.registry.settings import RegistrySettings
from tests.helpers import eventually, produce, tables_holding
from tests.integration.test_corrections_flow import SECRET, ask

pytestmark = pytest.mark.integration

KEY = "registry-import-snils-hmac-key-0123456789abcdef"
INN = "390100011" + inn_check_digit("390100011")
IVANOVA = "112-233-445 95"
PETROV = "123456789" + snils_check_number("123456789")
ORLOVA = "987654321" + snils_check_number("987654321")
SOURCE = "/regional/kpk-39"
ADMIN = Identity("admin-39", frozenset({Role.regional_admin}), "39")

UPDATE = """mutation($i: UpdateEducatorInput!) { updateEducator(input: $i) {
  __typename ... on Educator { id } ... on ValidationError { field code message } } }"""


@dataclass
class Stack:
    registry: Service
    events: Service
    school: uuid.UUID
    petrov: uuid.UUID
    orlova: uuid.UUID


def common(broker: Any) -> dict[str, Any]:
    return {
        "kafka_bootstrap_servers": broker.bootstrap,
        "internal_token_secret": SECRET,
        "snils_hmac_key": KEY,
        "outbox_poll_seconds": 0.1,
        "consumer_backoff_seconds": 0.05,
        "consumer_graceful_seconds": 2,
    }


@pytest.fixture
async def stack(broker: Any, service_databases: dict[str, str]) -> AsyncIterator[Stack]:
    services = (
        registry.build(RegistrySettings(database_url=service_databases["registry"], **common(broker))),
        events.build(EventsSettings(database_url=service_databases["events"], **common(broker))),
    )
    async with services[0].db.session() as session, session.begin():
        await reference.load_reference(session)
        school = await orgs.register_organization(
            session,
            orgs.RegisterOrganization(
                full_name="СОШ № 3 (СНИЛС)", short_name="СОШ № 3", kind="school", region_code="39", inn=INN
            ),
        )
        people = []
        for last, code in (("Петров", "T-3"), ("Орлова", None)):
            person = await educators.register_educator(
                session,
                educators.RegisterEducator(
                    last_name=last,
                    first_name="Пётр" if code else "Ольга",
                    external_id=code,
                    posts=[educators.Post(organization_id=school.id, position="учитель")],
                ),
            )
            people.append(person.id)
    async with services[1].db.session() as session, session.begin():
        await sources.register(
            session,
            ce_source=SOURCE,
            region_code="39",
            title="Курсы ИРО",
            grants={
                sources.GrantKind.source_system: ["kpk-39"],
                sources.GrantKind.topic: [topics.REGIONAL_TRAININGS],
                sources.GrantKind.region: ["39"],
            },
        )
    async with contextlib.AsyncExitStack() as running:
        for service in services:
            await running.enter_async_context(service.running())
        await asyncio.gather(*(asyncio.wait_for(s.connected.wait(), 60) for s in services))
        yield Stack(*services, school=school.id, petrov=people[0], orlova=people[1])


def educators_file(path: Path) -> Path:
    lines = [
        "ФИО;Должность;ИНН ОО;Табельный номер;СНИЛС",
        f"Иванова Мария Петровна;учитель;{INN};T-1;{IVANOVA}",  # new, with a СНИЛС
        f"Сидоров Олег Иванович;учитель;{INN};T-2;112-233-445 96",  # check digits wrong
        f"Петров Пётр;учитель;{INN};T-3;{PETROV}",  # known: learns the СНИЛС
        f"Кузнецова Анна;учитель;{INN};T-4;{IVANOVA}",  # Ивановой СНИЛС again
        f"Белова Вера;учитель;{INN};T-5;",  # no СНИЛС: fine
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def training(external_id: str, snils: str) -> tuple[bytes, bytes, dict[str, str]]:
    today = datetime.now(UTC).replace(microsecond=0)
    data = {
        "source_system": "kpk-39",
        "external_id": external_id,
        "educator": {"snils": snils},
        "organization": {"inn": INN},
        "course": "Функциональная грамотность",
        "provider": "ИРО",
        "hours": 72,
        "completed_on": (today.date() - timedelta(days=1)).isoformat(),
        "recorded_at": today.isoformat(),
    }
    event = CloudEvent(type="setka.regional.training.completed.v2", source=SOURCE, data=data)
    return external_id.encode(), event.body(), event.headers()


async def test_snils_from_an_import_and_an_update_is_kept_as_its_hash_and_facts_find_the_educator(
    stack: Stack, service_databases: dict[str, str], tmp_path: Path
) -> None:
    path = educators_file(tmp_path / "педагоги.csv")
    summary = await import_file(stack.registry.db, path, ImportKind.educators, snils_key=KEY)
    assert (summary.created, summary.updated) == (2, 1), summary
    assert [(r.line, r.code, r.field) for r in summary.rejections] == [
        (3, "INVALID_SNILS", "snils"),
        (5, "SNILS_TAKEN", "snils"),
    ]
    assert all("445" not in r.reason and "445" not in (r.key or "") for r in summary.rejections)
    again = await import_file(stack.registry.db, path, ImportKind.educators, snils_key=KEY)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)

    # updateEducator takes a СНИЛС too: checked, and only the hash kept
    bad = await ask(stack.registry, registry_schema, ADMIN, UPDATE, i={"id": str(stack.orlova), "snils": "1"})
    assert bad["data"]["updateEducator"]["code"] == "INVALID_SNILS"
    good = await ask(
        stack.registry, registry_schema, ADMIN, UPDATE, i={"id": str(stack.orlova), "snils": ORLOVA}
    )
    assert good["data"]["updateEducator"]["__typename"] == "Educator", good

    async with stack.registry.db.session() as session:
        hashes = dict((await session.execute(select(Educator.last_name, Educator.snils_hash))).all())
    assert hashes["Иванова"] == snils_hash(IVANOVA, KEY)
    assert hashes["Петров"] == snils_hash(PETROV, KEY)
    assert hashes["Орлова"] == snils_hash(ORLOVA, KEY)
    assert hashes["Белова"] is None

    # the events service learned the hashes from the registry's events: facts by СНИЛС land
    await produce(
        stack.events.settings.kafka_bootstrap_servers,
        topics.REGIONAL_TRAININGS,
        [training("K-1", IVANOVA), training("K-2", PETROV), training("K-3", ORLOVA)],
    )

    async def trained() -> dict[str, uuid.UUID]:
        async with stack.events.db.session() as session:
            rows = (await session.execute(select(Training.external_id, Training.educator_id))).all()
        return dict(rows) if len(rows) == 3 else {}

    async with stack.registry.db.session() as session:
        ivanova = await session.scalar(select(Educator.id).where(Educator.last_name == "Иванова"))
    assert await eventually(trained, timeout=60) == {
        "K-1": ivanova,
        "K-2": stack.petrov,
        "K-3": stack.orlova,
    }

    # no СНИЛС in clear in any table of either service
    numbers = [IVANOVA, "11223344595", PETROV, ORLOVA, "112-233-445 96", "11223344596"]
    for service in ("registry", "events"):
        assert await tables_holding(service_databases[service], numbers) == [], service
