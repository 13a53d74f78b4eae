"""Headers in Russian or English, and the words offices use in cells, mapped to our fields."""

from __future__ import annotations

from datetime import date

import pytest
from setka_runtime.errors import DomainError
from setka_runtime.spreadsheets import digits, parse_date

from services.registry.importing.mapping import (
    MEMBERSHIP_ROLES,
    ORGANIZATION_KINDS,
    QUALIFICATION_CATEGORIES,
    SCHOOL_STATUSES,
    ImportKind,
    UnmappableHeader,
    map_header,
    split_list,
    vocabulary_value,
)

pytestmark = pytest.mark.unit


def test_russian_headers_map_to_organization_fields() -> None:
    header = ["Полное наименование", " ИНН ", "ОГРН", "Код ОО", "Муниципалитет", "Тип ОО", "Примечание"]
    mapped = map_header(ImportKind.organizations, header)
    assert mapped.columns == {
        "full_name": 0,
        "inn": 1,
        "ogrn": 2,
        "school_code": 3,
        "municipality": 4,
        "kind": 5,
    }
    assert mapped.ignored == ("Примечание",)
    assert mapped.record(["Школа (демо)", "3901000008", "", "sch390001", "Балтийский МО", "школа"]) == {
        "full_name": "Школа (демо)",
        "inn": "3901000008",
        "school_code": "sch390001",
        "municipality": "Балтийский МО",
        "kind": "школа",
    }


def test_english_and_oddly_written_headers_map_too() -> None:
    mapped = map_header(
        ImportKind.organizations, ["Full name", "INN", "school_code", "Ё-MAIL", "Сокращённое наименование"]
    )
    assert mapped.columns == {"full_name": 0, "inn": 1, "school_code": 2, "short_name": 4}
    assert "Ё-MAIL" in mapped.ignored


def test_educator_and_membership_headers() -> None:
    educators = map_header(
        ImportKind.educators, ["Фамилия", "Имя", "Отчество", "Должность", "Предметы", "ИНН ОО", "Категория"]
    )
    assert set(educators.columns) == {
        "last_name", "first_name", "middle_name", "position", "subjects", "organization_inn",
        "qualification_category",
    }  # fmt: skip
    with_snils = map_header(ImportKind.educators, ["ФИО", "ИНН ОО", "СНИЛС"])
    assert with_snils.columns == {"full_name": 0, "organization_inn": 1, "snils": 2}
    assert digits("8765430300", width=11) == "08765430300"  # a СНИЛС Excel kept as a number
    memberships = map_header(ImportKind.memberships, ["Сеть", "Код ОО", "Роль в сети", "Дата вступления"])
    assert set(memberships.columns) == {"network", "organization_code", "role", "joined_on"}


@pytest.mark.parametrize(
    ("kind", "header", "missing"),
    [
        (ImportKind.organizations, ["ИНН"], "«полное наименование»"),
        (ImportKind.organizations, ["Полное наименование"], "«инн» или «код оо»"),
        (ImportKind.educators, ["ФИО", "Должность"], "«инн оо» или «код оо»"),
        (ImportKind.memberships, ["Сеть", "ИНН ОО"], "«роль»"),
    ],
)
def test_a_header_without_a_needed_column_is_refused(
    kind: ImportKind, header: list[str], missing: str
) -> None:
    with pytest.raises(UnmappableHeader, match=missing):
        map_header(kind, header)


@pytest.mark.parametrize(
    ("table", "text", "value"),
    [
        (ORGANIZATION_KINDS, "Школа", "school"),
        (ORGANIZATION_KINDS, "Методический кабинет", "methodological_service"),
        (ORGANIZATION_KINDS, "ИРО", "development_institute"),
        (ORGANIZATION_KINDS, "education_authority", "education_authority"),
        (MEMBERSHIP_ROLES, "Центр сетевого взаимодействия", "centre"),
        (MEMBERSHIP_ROLES, "партнёр", "partner"),
        (MEMBERSHIP_ROLES, "ШНОР", "supported"),
        (QUALIFICATION_CATEGORIES, "Высшая", "highest"),
        (QUALIFICATION_CATEGORIES, "соответствие занимаемой должности", "none"),
        (SCHOOL_STATUSES, "ШНОР", "low_results"),
        (SCHOOL_STATUSES, "ШФНСУ", "adverse_social_conditions"),
        (SCHOOL_STATUSES, "Стабильные результаты", "stable_results"),
    ],
)
def test_cell_vocabularies(table: dict[str, str], text: str, value: str) -> None:
    assert vocabulary_value(table, text, field="x") == value


def test_an_unknown_word_lists_what_is_understood() -> None:
    with pytest.raises(DomainError, match=r"ожидается одно из: .*centre") as error:
        vocabulary_value(MEMBERSHIP_ROLES, "наблюдатель", field="role")
    assert error.value.field == "role"
    assert error.value.code == "UNKNOWN_CHOICE"


def test_dates_and_identifiers() -> None:
    assert parse_date("01.09.2024", field="d") == date(2024, 9, 1)
    assert parse_date("2024-09-01", field="d") == date(2024, 9, 1)
    assert parse_date("2024-09-01T00:00:00", field="d") == date(2024, 9, 1)
    assert parse_date(" 1.9.2024 ", field="d") == date(2024, 9, 1)
    with pytest.raises(DomainError, match=r"ДД\.ММ\.ГГГГ"):
        parse_date("сентябрь", field="d")
    with pytest.raises(DomainError, match=r"ДД\.ММ\.ГГГГ"):
        parse_date("31.02.2024", field="d")  # no such day
    assert digits("3901 000 008", width=10) == "3901000008"
    assert digits("814000002", width=10) == "0814000002"  # Excel dropped the leading zero
    assert split_list("математика; физика, информатика") == ["математика", "физика", "информатика"]
