"""Column headers as offices write them (Russian or English) → the fields of an import kind.

Also the vocabularies of cell values (a kind «школа», a role «центр», a date «01.09.2024»), so
that :mod:`apply` sees only our field names and enum values.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from setka_contracts.registry import ImportKind  # the kinds are the contract's (file.imported)
from setka_runtime.errors import DomainError
from setka_runtime.spreadsheets import normalize_header


class UnmappableHeader(Exception):
    """The header lacks a column the import cannot do without."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    aliases: tuple[str, ...]


_ORGANIZATION_REF = (
    FieldSpec(
        "organization_inn",
        ("инн оо", "инн организации", "инн образовательной организации", "organization inn", "org inn"),
    ),
    FieldSpec(
        "organization_code",
        (
            "код оо",
            "код организации",
            "код оо фис око",
            "код школы",
            "school code",
            "organization code",
            "external code",
        ),
    ),
)

FIELDS: Mapping[ImportKind, tuple[FieldSpec, ...]] = {
    ImportKind.organizations: (
        FieldSpec(
            "full_name",
            (
                "полное наименование",
                "наименование",
                "полное наименование оо",
                "наименование оо",
                "наименование организации",
                "full name",
                "name",
            ),
        ),
        FieldSpec(
            "short_name",
            ("краткое наименование", "сокращенное наименование", "краткое наименование оо", "short name"),
        ),
        FieldSpec("kind", ("тип", "тип оо", "вид", "вид организации", "тип организации", "kind", "type")),
        FieldSpec(
            "region_code", ("код региона", "регион", "субъект рф", "код субъекта", "region", "region code")
        ),
        FieldSpec(
            "municipality",
            (
                "муниципалитет",
                "муниципальное образование",
                "район",
                "мо",
                "муниципальный район округ",
                "municipality",
                "district",
            ),
        ),
        FieldSpec("inn", ("инн", "inn")),
        FieldSpec("ogrn", ("огрн", "ogrn")),
        FieldSpec(
            "school_code",
            (
                "код оо",
                "код оо фис око",
                "код школы",
                "код организации",
                "логин оо",
                "school code",
                "external code",
                "code",
            ),
        ),
        FieldSpec("address", ("адрес", "юридический адрес", "фактический адрес", "address")),
        FieldSpec("website", ("сайт", "официальный сайт", "адрес сайта", "website", "site", "url")),
        FieldSpec("email", ("электронная почта", "e mail", "email", "почта")),
        FieldSpec("phone", ("телефон", "контактный телефон", "phone")),
        FieldSpec("statuses", ("статус", "статус оо", "статус школы", "статусы", "status", "statuses")),
        FieldSpec(
            "status_since",
            (
                "дата статуса",
                "дата включения",
                "статус с",
                "дата включения в перечень",
                "status since",
                "status date",
            ),
        ),
    ),
    ImportKind.educators: (
        FieldSpec("full_name", ("фио", "фамилия имя отчество", "ф и о", "full name", "name")),
        FieldSpec("last_name", ("фамилия", "last name", "surname")),
        FieldSpec("first_name", ("имя", "first name", "given name")),
        FieldSpec("middle_name", ("отчество", "middle name", "patronymic")),
        FieldSpec("position", ("должность", "position", "job title")),
        FieldSpec("subjects", ("предметы", "предмет", "преподаваемые предметы", "subjects", "subject")),
        FieldSpec(
            "qualification_category",
            (
                "квалификационная категория",
                "категория",
                "qualification category",
                "qualification",
                "category",
            ),
        ),
        FieldSpec(
            "external_id",
            ("табельный номер", "идентификатор", "ид педагога", "external id", "educator id", "id"),
        ),
        FieldSpec("snils", ("снилс", "номер снилс", "снилс педагога", "страховой номер", "snils")),
        *_ORGANIZATION_REF,
    ),
    ImportKind.memberships: (
        FieldSpec("network", ("сеть", "наименование сети", "network", "network name")),
        FieldSpec("role", ("роль", "роль в сети", "role")),
        FieldSpec(
            "joined_on", ("дата вступления", "дата входа", "вступила", "с", "joined", "joined on", "from")
        ),
        FieldSpec("left_on", ("дата выхода", "вышла", "по", "left", "left on", "to", "until")),
        *_ORGANIZATION_REF,
    ),
    ImportKind.municipalities: (
        FieldSpec(
            "region_code",
            ("код региона", "код субъекта", "код субъекта рф", "код региона рф", "region code", "code"),
        ),
        FieldSpec(
            "region_name",
            (
                "регион",
                "субъект рф",
                "субъект",
                "наименование региона",
                "наименование субъекта",
                "наименование субъекта рф",
                "region",
                "region name",
            ),
        ),
        FieldSpec(
            "municipality",
            (
                "муниципальное образование",
                "наименование муниципального образования",
                "наименование мо",
                "муниципалитет",
                "муниципальный район округ",
                "муниципальный район",
                "муниципальный округ",
                "городской округ",
                "район",
                "мо",
                "municipality",
                "district",
            ),
        ),
        FieldSpec("oktmo", ("октмо", "код октмо", "код мо по октмо", "oktmo", "oktmo code")),
    ),
}

REQUIRED: Mapping[ImportKind, tuple[tuple[str, ...], ...]] = {
    # each inner tuple: at least one of these fields must have a column
    ImportKind.organizations: (("full_name",), ("inn", "school_code")),
    ImportKind.educators: (("full_name", "last_name"), ("organization_inn", "organization_code")),
    ImportKind.memberships: (("network",), ("role",), ("organization_inn", "organization_code")),
    ImportKind.municipalities: (("region_code", "region_name"), ("municipality",)),
}


@dataclass(frozen=True)
class HeaderMap:
    """Which column feeds which field; columns nobody asked for are listed, not fatal."""

    kind: ImportKind
    columns: Mapping[str, int]
    ignored: tuple[str, ...]
    titles: tuple[str, ...] = ()
    """The header as the file writes it, for naming a column in a report."""

    def title_of(self, field: str | None) -> str | None:
        """The file's header of the column feeding ``field`` (a field as a rule names it, e.g.
        ``schoolCode``, or as the mapping does, ``school_code``); None when no column does."""
        if not field:
            return None
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", field).lower()
        index = self.columns.get(name)
        if index is None or index >= len(self.titles):
            return None
        return self.titles[index] or None

    def record(self, cells: Sequence[str]) -> dict[str, str]:
        """The non-empty fields of one row."""
        values: dict[str, str] = {}
        for name, index in self.columns.items():
            if index < len(cells) and cells[index]:
                values[name] = cells[index]
        return values


def map_header(kind: ImportKind, header: Sequence[str]) -> HeaderMap:
    """Assign each column to a field; the first column matching a field wins."""
    lookup: dict[str, str] = {}
    for spec in FIELDS[kind]:
        for alias in (spec.name.replace("_", " "), *spec.aliases):
            lookup.setdefault(normalize_header(alias), spec.name)
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for index, title in enumerate(header):
        name = lookup.get(normalize_header(title))
        if name and name not in columns:
            columns[name] = index
        elif title.strip():
            ignored.append(title)
    spoken = {spec.name: f"«{spec.aliases[0]}»" for spec in FIELDS[kind]}
    missing = [
        " или ".join(spoken.get(f, f) for f in group)
        for group in REQUIRED[kind]
        if not any(f in columns for f in group)
    ]
    if missing:
        raise UnmappableHeader(
            f"нет столбца для: {'; '.join(missing)} (заголовок: {', '.join(h for h in header if h)})"
        )
    return HeaderMap(kind=kind, columns=columns, ignored=tuple(ignored), titles=tuple(header))


MAX_PREAMBLE = 10
"""Title rows an export may have above its header («Реестр ОО на 01.09.2024», a blank, …)."""


def locate_header(
    kind: ImportKind, first: Sequence[str], rest: Iterator[tuple[int, Sequence[str]]]
) -> tuple[HeaderMap, int]:
    """The header among the first rows: the first that maps; returns it and how many title rows
    above it were skipped. ``rest`` is advanced past the header."""
    try:
        return map_header(kind, first), 0
    except UnmappableHeader as error:
        for skipped, (_line, cells) in enumerate(rest, start=1):
            try:
                return map_header(kind, cells), skipped
            except UnmappableHeader:
                if skipped >= MAX_PREAMBLE:
                    break
        raise error from None


def _vocabulary(entries: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    table: dict[str, str] = {}
    for value, words in entries.items():
        for word in (value, value.replace("_", " "), *words):
            table[normalize_header(word)] = value
    return table


ORGANIZATION_KINDS = _vocabulary(
    {
        "school": (
            "школа",
            "оо",
            "общеобразовательная организация",
            "сош",
            "оош",
            "нош",
            "гимназия",
            "лицей",
            "мбоу",
            "мкоу",
            "маоу",
            "гбоу",
        ),
        "kindergarten": ("детский сад", "доо", "дошкольная образовательная организация", "мбдоу"),
        "additional_education": (
            "удо",
            "дополнительное образование",
            "организация дополнительного образования",
            "дод",
        ),
        "college": ("колледж", "техникум", "спо", "профессиональная образовательная организация"),
        "methodological_service": (
            "методический кабинет",
            "методический центр",
            "методическая служба",
            "ммс",
            "имц",
        ),
        "education_authority": (
            "управление образования",
            "орган управления образованием",
            "министерство образования",
            "муо",
            "уо",
            "комитет по образованию",
        ),
        "development_institute": (
            "иро",
            "ипк",
            "институт развития образования",
            "институт повышения квалификации",
        ),
    }
)

SCHOOL_STATUSES = _vocabulary(
    {
        "low_results": (
            "шнор",
            "низкие результаты",
            "школа с низкими результатами обучения",
            "школа с низкими образовательными результатами",
        ),
        "adverse_social_conditions": (
            "шфнсу",
            "неблагоприятные социальные условия",
            "сложные социальные условия",
            "школа функционирующая в неблагоприятных социальных условиях",
        ),
        "stable_results": (
            "стабильные результаты",
            "стабильно высокие результаты",
            "школа со стабильными результатами",
        ),
    }
)

MEMBERSHIP_ROLES = _vocabulary(
    {
        "centre": ("центр", "центр сетевого взаимодействия", "ресурсный центр", "center"),
        "partner": ("партнер", "школа партнер", "организация партнер"),
        "supported": (
            "сопровождаемая",
            "поддерживаемая",
            "сопровождаемая школа",
            "школа участник",
            "участник",
            "шнор",
            "шфнсу",
        ),
        "methodological_support": (
            "методическое сопровождение",
            "методическая поддержка",
            "методический кабинет",
        ),
        "coordinator": ("координатор",),
    }
)

QUALIFICATION_CATEGORIES = _vocabulary(
    {
        "highest": ("высшая", "высшая категория", "высшая квалификационная категория", "вкк"),
        "first": ("первая", "первая категория", "первая квалификационная категория", "1", "1 кк"),
        "methodologist": ("педагог методист", "методист"),
        "mentor": ("педагог наставник", "наставник"),
        # «соответствие занимаемой должности» is an attestation, not a category
        "none": (
            "без категории",
            "нет",
            "не имеет",
            "б к",
            "соответствие",
            "соответствие занимаемой должности",
            "сзд",
        ),
    }
)


@functools.lru_cache(maxsize=4096)
def _cell_word(text: str) -> str:
    """A vocabulary cell as :func:`normalize_header` has it: a file repeats a few words a lot."""
    return normalize_header(text)


def vocabulary_value(table: Mapping[str, str], text: str, *, field: str) -> str:
    """The enum value a cell means, or a :class:`DomainError` listing what is understood."""
    value = table.get(_cell_word(text))
    if value is None:
        known = ", ".join(sorted(set(table.values())))
        raise DomainError(
            f"«{text}» не распознано; ожидается одно из: {known}", code="UNKNOWN_CHOICE", field=field
        )
    return value


def split_list(text: str) -> list[str]:
    """«математика; физика, информатика» → three subjects."""
    return [part.strip() for part in re.split(r"[;,/\n]+", text) if part.strip()]
