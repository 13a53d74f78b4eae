"""Importing organizations, educators and memberships into a real PostgreSQL registry."""

from __future__ import annotations

import csv
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from setka_contracts import topics
from setka_runtime.db import Database
from setka_runtime.tables import outbox
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import networks, organizations
from services.registry.demo.dataset import national_organizations, synthetic_ogrn
from services.registry.importing.cli import import_file, write_report
from services.registry.importing.engine import ImportSummary
from services.registry.importing.mapping import ImportKind
from services.registry.models import Educator, Employment, Membership, Organization, OrganizationStatus

pytestmark = pytest.mark.integration

HEADER = ["Полное наименование", "Краткое наименование", "Тип ОО", "ИНН", "Код ОО", "Муниципалитет"]


@pytest.fixture
async def registry(databases: Any) -> AsyncIterator[Database]:
    db = Database(databases.create("registry", migrate="registry"))
    yield db
    await db.dispose()


EVENTS = select(outbox).where(outbox.c.topic != topics.AUDIT).subquery()
"""The outbox's domain events, without the audit entries of the import's chunks."""


async def count(db: Database, table: Any) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


def malformed_file(path: Path, rows: int, *, every: int = 97) -> dict[int, str]:
    """A cp1251 ``;`` file of ``rows`` schools; every ``every``-th row is broken in one of five
    ways. Returns {line: a fragment of the expected reason}."""
    expected: dict[int, str] = {}
    defects = itertools.cycle(["checksum", "empty", "kind", "duplicate", "code"])
    inns: list[str] = []
    with path.open("w", encoding="cp1251", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(HEADER)
        for line, org in enumerate(national_organizations(rows, seed=7), start=2):
            record = [org.full_name, org.short_name, "школа", org.inn, org.school_code, org.municipality]
            if line % every == 0:
                defect = next(defects)
                if defect == "checksum":
                    record[3] = org.inn[:9] + str((int(org.inn[9]) + 1) % 10)
                    expected[line] = "Контрольная цифра ИНН"
                elif defect == "empty":
                    record[0] = "  "
                    expected[line] = "Заполните это поле"
                elif defect == "kind":
                    record[2] = "автошкола"
                    expected[line] = "не распознано"
                elif defect == "duplicate":
                    record[3], record[4] = inns[-1], ""
                    expected[line] = f"повтор строки {line - 1}"
                else:
                    record[4] = "школа-7"
                    expected[line] = "Код школы"
            inns.append(record[3])
            writer.writerow(record)
    return expected


async def test_ten_thousand_rows_with_defects_then_a_rerun_that_changes_nothing(
    registry: Database, tmp_path: Path
) -> None:
    source = tmp_path / "schools.csv"
    expected = malformed_file(source, 10_000)
    good = 10_000 - len(expected)

    first = await import_file(registry, source, ImportKind.organizations, chunk_size=1000)

    assert (first.read, first.created, first.updated, first.unchanged) == (10_000, good, 0, 0)
    assert [r.line for r in first.rejections] == sorted(expected)
    for rejection in first.rejections:
        assert expected[rejection.line] in rejection.reason, rejection
    assert await count(registry, Organization) == good
    assert await count(registry, EVENTS) == good  # one organization.registered each

    report = tmp_path / "report.csv"
    write_report(first, report)
    with report.open(encoding="utf-8-sig") as written:
        lines = list(csv.reader(written, delimiter=";"))
    assert lines[0] == ["line", "field", "reason", "key", "code"]
    assert [int(row[0]) for row in lines[1:]] == sorted(expected)

    again = await import_file(registry, source, ImportKind.organizations, chunk_size=1000)

    assert (again.read, again.created, again.updated, again.unchanged) == (10_000, 0, 0, good)
    assert [r.line for r in again.rejections] == sorted(expected)
    assert await count(registry, Organization) == good
    assert await count(registry, EVENTS) == good


def write_rows(path: Path, header: list[str], rows: list[list[Any]], *, encoding: str = "utf-8") -> Path:
    if path.suffix == ".xlsx":
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        for row in [header, *rows]:
            sheet.append(row)
        workbook.save(path)
    else:
        with path.open("w", encoding=encoding, newline="") as out:
            csv.writer(out, delimiter=";" if encoding == "cp1251" else ",").writerows([header, *rows])
    return path


async def test_changed_rows_update_and_emit_one_event_each(registry: Database, tmp_path: Path) -> None:
    header = ["ИНН", "Полное наименование", "Сайт", "Регион"]
    rows: list[list[Any]] = [
        ["0814000000", "МКОУ «Яшкульская СОШ № 1» (демо)", "", "Республика Калмыкия"],
        ["3901000001", "МБОУ СОШ № 1 г. Балтийска (демо)", "school1.example.org", "39"],
    ]
    async with registry.session() as session, session.begin():
        from services.registry import reference

        await reference.load_reference(session)
    created = await import_file(
        registry, write_rows(tmp_path / "a.csv", header, rows), ImportKind.organizations
    )
    assert (created.created, created.rejected) == (2, 0), created.rejections

    rows[1][2] = "https://school-1.example.org"
    changed = await import_file(
        registry, write_rows(tmp_path / "b.csv", header, rows), ImportKind.organizations
    )
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 1)
    async with registry.session() as session:
        events = (await session.scalars(select(EVENTS.c.event_type).order_by(EVENTS.c.id))).all()
        kalmyk = await session.scalar(select(Organization).where(Organization.inn == "0814000000"))
    assert events[-1] == "setka.registry.organization.updated.v1"
    assert len(events) == 3
    assert kalmyk is not None and kalmyk.region_code == "08"


@pytest.mark.parametrize("name", ["schools.xlsx", "schools-cp1251.csv"])
async def test_xlsx_and_cp1251_files_import_the_same(registry: Database, tmp_path: Path, name: str) -> None:
    header = ["Полное наименование", "ИНН", "ОГРН", "Код ОО", "Тип ОО", "Муниципалитет"]
    import random

    rng = random.Random(1)
    rows: list[list[Any]] = [
        # Excel keeps an ИНН typed as a number, dropping Kalmykia's leading zero
        [
            "МКОУ «Лаганская СОШ № 1» (демо)",
            814000000 if name.endswith("xlsx") else "0814000000",
            synthetic_ogrn(rng, "08"),
            "sch083001",
            "Школа",
            "Лаганский район",
        ],
        [
            "Методический кабинет УО Балтийского МО (демо)",
            "3901000001",
            "",
            "",
            "методический кабинет",
            "Балтийский муниципальный округ",
        ],
    ]
    path = write_rows(tmp_path / name, header, rows, encoding="cp1251")
    summary = await import_file(registry, path, ImportKind.organizations)
    assert (summary.created, summary.rejected) == (2, 0), summary.rejections
    async with registry.session() as session:
        found = (await session.scalars(select(Organization).order_by(Organization.inn))).all()
    assert [(o.inn, o.kind, o.region_code, o.school_code) for o in found] == [
        ("0814000000", "school", "08", "sch083001"),
        ("3901000001", "methodological_service", "39", None),
    ]
    assert found[0].full_name == "МКОУ «Лаганская СОШ № 1» (демо)"


async def _network_of_two_regions(session: AsyncSession) -> None:
    """An authority, a stable-results school and a low-results school, and a regional network."""
    from datetime import date

    from services.registry import reference, statuses

    await reference.load_reference(session)
    authority = await organizations.register_organization(
        session,
        organizations.RegisterOrganization(
            full_name="Министерство образования и науки Республики Калмыкия (демо)",
            short_name="Минобрнауки РК (демо)",
            kind="education_authority",
            region_code="08",
            inn="0814000000",
        ),
    )
    for inn, status in (("0800000017", "stable_results"), ("0800000024", "low_results")):
        school = await organizations.register_organization(
            session,
            organizations.RegisterOrganization(
                full_name=f"Школа {inn} (демо)",
                short_name=f"Школа {inn}",
                kind="school",
                region_code="08",
                inn=inn,
            ),
        )
        await statuses.enter_status(
            session,
            statuses.EnterStatus(organization_id=school.id, status=status, entered_on=date(2021, 1, 1)),
        )
    await networks.create_network(
        session,
        networks.CreateNetwork(
            name="Региональная сеть (демо)",
            level="regional",
            region_code="08",
            governing_body_id=authority.id,
            started_on=date(2021, 3, 1),
        ),
    )


async def test_memberships_and_educators_import_through_the_rules(registry: Database, tmp_path: Path) -> None:
    async with registry.session() as session, session.begin():
        await _network_of_two_regions(session)
    before = await count(registry, EVENTS)

    members = write_rows(
        tmp_path / "members.csv",
        ["Сеть", "ИНН ОО", "Роль в сети", "Дата вступления"],
        [
            ["региональная сеть (демо)", "0800000017", "Центр", "01.09.2021"],
            ["Региональная сеть (демо)", "0800000024", "сопровождаемая", "01.09.2021"],
            ["Региональная сеть (демо)", "0814000000", "центр", "01.09.2021"],  # not a stable school
            ["Сеть, которой нет (демо)", "0800000024", "партнёр", "01.09.2021"],
        ],
        encoding="cp1251",
    )
    summary = await import_file(registry, members, ImportKind.memberships)
    assert (summary.created, summary.rejected) == (2, 2)
    assert [(r.line, r.field) for r in summary.rejections] == [(4, "role"), (5, "network")]
    assert "со стабильными результатами" in summary.rejections[0].reason
    assert await count(registry, Membership) == 2
    # joined ×2 and centre designated ×1
    assert await count(registry, EVENTS) == before + 3
    again = await import_file(registry, members, ImportKind.memberships)
    assert (again.created, again.unchanged, again.rejected) == (0, 2, 2)
    assert await count(registry, EVENTS) == before + 3

    leaving = write_rows(
        tmp_path / "leaving.csv",
        ["Сеть", "ИНН ОО", "Роль в сети", "Дата вступления", "Дата выхода"],
        [["Региональная сеть (демо)", "0800000024", "сопровождаемая", "01.09.2021", "01.06.2024"]],
    )
    left = await import_file(registry, leaving, ImportKind.memberships)
    assert (left.updated, left.rejected) == (1, 0)
    async with registry.session() as session:
        last_event = await session.scalar(select(EVENTS.c.event_type).order_by(EVENTS.c.id.desc()).limit(1))
    assert last_event == "setka.registry.membership.left.v1"
    assert (await import_file(registry, leaving, ImportKind.memberships)).unchanged == 1
    assert await count(registry, EVENTS) == before + 4

    staff = write_rows(
        tmp_path / "staff.xlsx",
        ["ФИО", "Должность", "Предметы", "Квалификационная категория", "ИНН ОО"],
        [
            ["Бадмаева Цаган Очировна", "учитель", "математика; физика", "высшая", "0800000017"],
            ["Петрова Анна Ивановна", "учитель", "русский язык", "", "0800000024"],
            ["Петрова", "учитель", "", "", "0800000024"],
            ["Сидорова Ольга Петровна", "учитель", "", "", "0899999998"],
        ],
    )
    people = await import_file(registry, staff, ImportKind.educators)
    assert (people.created, people.rejected) == (2, 2)
    assert [r.line for r in people.rejections] == [4, 5]
    async with registry.session() as session:
        educator = await session.scalar(select(Educator).where(Educator.last_name == "Бадмаева"))
        assert educator is not None
        assert (educator.qualification_category, educator.subjects) == ("highest", ["математика", "физика"])
        assert await session.scalar(select(func.count()).select_from(Employment)) == 2
    unchanged = await import_file(registry, staff, ImportKind.educators)
    assert (unchanged.created, unchanged.updated, unchanged.unchanged) == (0, 0, 2)
    assert await count(registry, Educator) == 2


async def test_a_refused_row_of_a_chunk_is_reported_with_its_line_and_the_others_are_registered(
    registry: Database, tmp_path: Path
) -> None:
    """Memberships and educators are registered a chunk at a time; a row a rule refuses is
    reported with its line and code, the rest of the chunk goes in, one event per aggregate."""
    async with registry.session() as session, session.begin():
        await _network_of_two_regions(session)
    before = await count(registry, EVENTS)
    members = write_rows(
        tmp_path / "members.csv",
        ["Сеть", "ИНН ОО", "Роль в сети", "Дата вступления"],
        [
            ["Региональная сеть (демо)", "0800000017", "центр", "01.09.2021"],
            ["Региональная сеть (демо)", "0800000024", "сопровождаемая", "01.01.2020"],  # before the network
            ["Региональная сеть (демо)", "0814000000", "партнёр", "01.09.2021"],
        ],
    )
    summary = await import_file(registry, members, ImportKind.memberships)
    assert (summary.created, summary.rejected) == (2, 1)
    assert [(r.line, r.code) for r in summary.rejections] == [(3, "NETWORK_NOT_RUNNING")]
    assert await count(registry, Membership) == 2
    assert await count(registry, EVENTS) == before + 3  # joined ×2 and the centre designated

    staff = write_rows(
        tmp_path / "staff.csv",
        ["ФИО", "Должность", "ИНН ОО", "Табельный номер"],
        [
            ["Бадмаева Цаган Очировна", "учитель", "0800000017", "T-1"],
            ["Петрова Анна Ивановна", "учитель", "0800000024", "T-2"],
            ["Сидорова Ольга Петровна", "учитель", "0899999998", "T-3"],  # no such organization
            ["Иванова Мария Петровна", "учитель", "0800000024", "T-4"],
        ],
    )
    people = await import_file(registry, staff, ImportKind.educators)
    assert (people.created, people.rejected) == (3, 1)
    assert [(r.line, r.code) for r in people.rejections] == [(4, "ORGANIZATION_NOT_FOUND")]
    assert (await count(registry, Educator), await count(registry, Employment)) == (3, 3)
    async with registry.session() as session:
        registered = await session.scalar(
            select(func.count())
            .select_from(EVENTS)
            .where(EVENTS.c.event_type == "setka.registry.educator.registered.v2")
        )
    assert registered == 3
    again = await import_file(registry, staff, ImportKind.educators)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 3, 1)

    # a chunk no rule refuses goes in whole
    clean = write_rows(
        tmp_path / "more.csv",
        ["ФИО", "Должность", "ИНН ОО", "Табельный номер"],
        [
            ["Сидорова Ольга Петровна", "учитель", "0800000017", "T-3"],
            ["Бадмаева Цаган Очировна", "завуч", "0800000024", "T-1"],  # a second post
        ],
    )
    more = await import_file(registry, clean, ImportKind.educators)
    assert (more.created, more.updated, more.rejected) == (1, 1, 0)
    assert (await count(registry, Educator), await count(registry, Employment)) == (4, 5)
    joined = write_rows(
        tmp_path / "joined.csv",
        ["Сеть", "ИНН ОО", "Роль в сети", "Дата вступления"],
        [["Региональная сеть (демо)", "0800000024", "сопровождаемая", "01.09.2021"]],
    )
    assert (await import_file(registry, joined, ImportKind.memberships)).created == 1
    assert await count(registry, Membership) == 3


async def test_dry_run_writes_nothing(registry: Database, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    malformed_file(path, 50, every=10)
    summary: ImportSummary = await import_file(registry, path, ImportKind.organizations, dry_run=True)
    assert summary.dry_run and summary.created == 45 and summary.rejected == 5
    assert await count(registry, Organization) == 0
    assert await count(registry, EVENTS) == 0
    assert await count(registry, OrganizationStatus) == 0


async def test_school_statuses_come_in_with_the_organizations(registry: Database, tmp_path: Path) -> None:
    header = ["ИНН", "Полное наименование", "Статус", "Дата включения"]
    rows: list[list[Any]] = [
        ["0800000017", "МКОУ «Уластинская СОШ» (демо)", "ШНОР, ШФНСУ", "01.09.2022"],
        ["0800000024", "МБОУ «ЭСОШ № 3» (демо)", "стабильные результаты", "01.09.2020"],
        ["0814000000", "МКОУ «Адыковская СОШ» (демо)", "ШНОР; стабильные результаты", "01.09.2022"],
    ]
    path = write_rows(tmp_path / "statuses.csv", header, rows, encoding="cp1251")
    first = await import_file(registry, path, ImportKind.organizations)
    assert (first.created, first.rejected) == (2, 1)
    assert first.rejections[0].line == 4 and "не могут действовать одновременно" in first.rejections[0].reason
    assert await count(registry, OrganizationStatus) == 3
    events = await count(registry, EVENTS)

    again = await import_file(registry, path, ImportKind.organizations)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 2, 1)
    assert (await count(registry, OrganizationStatus), await count(registry, EVENTS)) == (3, events)


async def test_a_crash_mid_file_leaves_whole_chunks_and_a_rerun_finishes(
    registry: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.registry.importing import apply
    from services.registry.importing.engine import ImportStopped

    source = tmp_path / "schools.csv"
    malformed_file(source, 300, every=10_000)  # no defects
    doomed = list(national_organizations(300, seed=7))[249].inn  # line 251, in the third chunk
    register = apply.register_organizations

    async def crash_on_the_doomed_row(session: AsyncSession, commands: Any, **options: Any) -> Any:
        organizations = await register(session, commands, **options)
        if any(command.inn == doomed for command in commands):
            raise ConnectionResetError("the database went away")
        return organizations

    monkeypatch.setattr(apply, "register_organizations", crash_on_the_doomed_row)
    with pytest.raises(ImportStopped) as stopped:
        await import_file(registry, source, ImportKind.organizations, chunk_size=100)
    assert stopped.value.summary.committed_through_line == 201
    assert stopped.value.summary.created == 200
    assert await count(registry, Organization) == 200  # nothing of the third chunk
    assert await count(registry, EVENTS) == 200

    monkeypatch.setattr(apply, "register_organizations", register)
    finished = await import_file(registry, source, ImportKind.organizations, chunk_size=100)
    assert (finished.created, finished.unchanged, finished.rejected) == (100, 200, 0)
    assert await count(registry, Organization) == 300
    assert await count(registry, EVENTS) == 300
