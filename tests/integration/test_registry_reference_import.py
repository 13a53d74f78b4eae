"""Loading a region's municipalities (reference data) from an office's file into a real registry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from setka_runtime.db import Database
from sqlalchemy import select

from services.registry import organizations
from services.registry.importing.cli import import_file
from services.registry.importing.mapping import ImportKind
from services.registry.models import Municipality, Organization, Region
from tests.integration.test_registry_import import write_rows

pytestmark = pytest.mark.integration

KUZBASS = "Кемеровская область — Кузбасс"


@pytest.fixture
async def registry(databases: Any) -> AsyncIterator[Database]:
    db = Database(databases.create("reference", migrate="registry"))
    yield db
    await db.dispose()


async def municipalities(db: Database) -> dict[tuple[str, str], str | None]:
    async with db.session() as session:
        rows = await session.execute(select(Municipality.region_code, Municipality.name, Municipality.oktmo))
        return {(region, name): oktmo for region, name, oktmo in rows}


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
async def test_a_new_region_is_loaded_bad_rows_are_reported_by_line_and_a_rerun_changes_nothing(
    registry: Database, tmp_path: Path, suffix: str
) -> None:
    header = ["Код региона", "Регион", "Муниципальное образование", "ОКТМО"]
    rows = [
        ["42", KUZBASS, "Новокузнецкий муниципальный округ", "32519000"],  # line 2
        ["42", KUZBASS, "Город Кемерово", ""],  # 3
        ["42", "", "Беловский   муниципальный округ", "32504000"],  # 4: the region known by then
        ["42", KUZBASS, "город кемерово", ""],  # 5: line 3 again, in other letters
        ["42", KUZBASS, "Прокопьевский муниципальный округ", "3252"],  # 6: a bad ОКТМО
        ["77", "", "Тверской район", ""],  # 7: a region nobody named
        ["42", KUZBASS, "", ""],  # 8: no municipality
        ["4x", KUZBASS, "Тайгинский городской округ", ""],  # 9: not a region code
        ["", "Республика Калмыкия", "Лаганский район", ""],  # 10: a region given by a name not loaded
    ]
    path = write_rows(tmp_path / f"municipalities{suffix}", header, rows, encoding="cp1251")
    summary = await import_file(registry, path, ImportKind.municipalities)

    assert (summary.created, summary.updated, summary.unchanged) == (3, 0, 0), summary.rejections
    reasons = {r.line: r.reason for r in summary.rejections}
    assert set(reasons) == {5, 6, 7, 8, 9, 10}
    assert "повтор строки 3" in reasons[5]
    assert "ОКТМО" in reasons[6]
    assert "Регион 77 ещё не известен" in reasons[7]
    assert "Заполните это поле" in reasons[8]
    assert "Код региона" in reasons[9]
    assert "Неизвестный регион «Республика Калмыкия»" in reasons[10]
    assert await municipalities(registry) == {
        ("42", "Новокузнецкий муниципальный округ"): "32519000",
        ("42", "Город Кемерово"): None,
        ("42", "Беловский муниципальный округ"): "32504000",
    }
    async with registry.session() as session:
        assert (await session.get(Region, "42")) is not None

    again = await import_file(
        registry, write_rows(tmp_path / f"again{suffix}", header, rows[:3]), ImportKind.municipalities
    )
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 3, 0)


async def test_an_oktmo_is_added_to_a_known_municipality_but_never_replaced(
    registry: Database, tmp_path: Path
) -> None:
    header = ["Регион", "Район", "Код ОКТМО"]  # a «Регион» column of codes
    first = write_rows(tmp_path / "a.csv", header, [["42", "Город Кемерово", ""]])
    # unknown region without a name: refused; with one, loaded
    assert (await import_file(registry, first, ImportKind.municipalities)).rejected == 1
    named = write_rows(
        tmp_path / "b.csv", ["Код региона", "Субъект РФ", "Район"], [["42", KUZBASS, "Город Кемерово"]]
    )
    assert (await import_file(registry, named, ImportKind.municipalities)).created == 1
    gains = write_rows(tmp_path / "c.csv", header, [["42", "ГОРОД КЕМЕРОВО", "32701000"]])
    assert (await import_file(registry, gains, ImportKind.municipalities)).updated == 1
    other = write_rows(tmp_path / "d.csv", header, [["42", "Город Кемерово", "32701999"]])
    refused = await import_file(registry, other, ImportKind.municipalities)
    assert refused.rejected == 1 and "уже есть ОКТМО 32701000" in refused.rejections[0].reason
    assert await municipalities(registry) == {("42", "Город Кемерово"): "32701000"}


async def test_organizations_land_in_their_municipality_once_it_is_loaded_whatever_the_spelling(
    registry: Database, tmp_path: Path
) -> None:
    schools = ["Код ОО", "ИНН", "Полное наименование", "Регион", "Муниципалитет"]
    early = ["sch420001", "4252000006", "МБОУ «Сосновская СОШ»", "42", "Новокузнецкий муниципальный округ"]
    # before the region's list is loaded the school keeps the name only (no coordinator's scope)
    first = await import_file(
        registry, write_rows(tmp_path / "s1.csv", schools, [early]), ImportKind.organizations
    )
    assert first.created == 1, first.rejections
    assert await placed(registry) == {"4252000006": None}

    header = ["Код региона", "Регион", "Муниципальное образование"]
    loaded = await import_file(
        registry,
        write_rows(tmp_path / "m.csv", header, [["42", KUZBASS, "Новокузнецкий муниципальный округ"]]),
        ImportKind.municipalities,
    )
    assert loaded.created == 1

    # the same row again places it; a school registered now lands there at once, in any spelling
    again = await import_file(
        registry, write_rows(tmp_path / "s2.csv", schools, [early]), ImportKind.organizations
    )
    assert (again.updated, again.rejected) == (1, 0), again.rejections
    async with registry.session() as session, session.begin():
        await organizations.register_organization(
            session,
            organizations.RegisterOrganization(
                full_name="МБОУ «Костёнковская СОШ»",
                short_name="Костёнковская СОШ",
                kind="school",
                region_code="42",
                municipality="новокузнецкий  муниципальный ОКРУГ",
                school_code="sch420002",
            ),
        )
    assert await placed(registry) == {
        "4252000006": "Новокузнецкий муниципальный округ",
        "sch420002": "Новокузнецкий муниципальный округ",
    }
    third = await import_file(
        registry, write_rows(tmp_path / "s3.csv", schools, [early]), ImportKind.organizations
    )
    assert third.unchanged == 1


async def placed(db: Database) -> dict[str, str | None]:
    """Each organization (by ИНН, else code) and the name of the municipality it is placed in."""
    async with db.session() as session:
        rows = await session.execute(
            select(Organization.inn, Organization.school_code, Municipality.name).outerjoin(
                Municipality, Municipality.id == Organization.municipality_id
            )
        )
        return {inn or code: name for inn, code, name in rows}
