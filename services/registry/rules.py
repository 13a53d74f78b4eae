"""Rules of the registry that need no database, as plain functions that raise :class:`DomainError`.

Dated periods are half-open ``[start, end)``: ``end`` is the first day the fact no longer holds,
``None`` means it still holds.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from setka_contracts.identifiers import inn_check_digit, ogrn_check_digit
from setka_contracts.registry import MemberRole, SchoolStatus
from setka_runtime.errors import DomainError
from setka_runtime.russian import day

_SCHOOL_CODE = re.compile(r"sch\d{6}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[\d\s()\-]{5,30}")

E = TypeVar("E", bound=StrEnum)

EXCLUSIVE_STATUSES = frozenset({SchoolStatus.low_results, SchoolStatus.stable_results})
"""A school cannot be both in the low-results list and a stable-results school on one date."""

STATUS_NAMES = {
    SchoolStatus.low_results: "ШНОР",
    SchoolStatus.adverse_social_conditions: "ШФНСУ",
    SchoolStatus.stable_results: "стабильные результаты",
}
"""A school's statuses as the regulations name them, for messages."""

ROLE_NAMES: dict[str, str] = {
    MemberRole.centre: "центр",
    MemberRole.partner: "партнёр",
    MemberRole.supported: "сопровождаемая школа",
    MemberRole.methodological_support: "методическое сопровождение",
    MemberRole.coordinator: "координатор",
}
"""The roles of a network's members as the regulations name them, for messages."""


def role_name(role: str) -> str:
    return ROLE_NAMES.get(role, role)


def check_inn(inn: str, *, field: str = "inn") -> str:
    """An organization's ИНН: 10 digits whose last one is the checksum of the first nine."""
    value = inn.strip()
    problem = _inn_problem(value)
    if problem == "INN_FORMAT":
        raise DomainError("ИНН организации — ровно 10 цифр", code="INN_FORMAT", field=field)
    if problem == "INN_CHECKSUM":
        raise DomainError(
            "Контрольная цифра ИНН не сходится: проверьте цифры", code="INN_CHECKSUM", field=field
        )
    return value


@functools.lru_cache(maxsize=8192)
def _inn_problem(value: str) -> str | None:
    """What is wrong with an ИНН, remembered: an import checks each one as it reads the row and
    again as it registers it (a chunk later at most)."""
    if len(value) != 10 or not value.isdigit() or not value.isascii():
        return "INN_FORMAT"
    if inn_check_digit(value[:9]) != value[9]:
        return "INN_CHECKSUM"
    return None


def check_ogrn(ogrn: str, *, field: str = "ogrn") -> str:
    """An organization's ОГРН: 13 digits, the last being the first twelve mod 11 (mod 10)."""
    value = ogrn.strip()
    if len(value) != 13 or not value.isdigit() or not value.isascii():
        raise DomainError("ОГРН организации — ровно 13 цифр", code="OGRN_FORMAT", field=field)
    if ogrn_check_digit(value[:12]) != value[12]:
        raise DomainError(
            "Контрольная цифра ОГРН не сходится: проверьте цифры", code="OGRN_CHECKSUM", field=field
        )
    return value


def check_school_code(code: str, *, field: str = "schoolCode") -> str:
    """The federal assessment system's login of a school: ``sch`` and six digits, e.g. sch390101."""
    value = code.strip().lower()
    if not _is_school_code(value):
        raise DomainError(
            "Код школы — «sch» и 6 цифр, например sch390101", code="SCHOOL_CODE_FORMAT", field=field
        )
    return value


@functools.lru_cache(maxsize=8192)
def _is_school_code(value: str) -> bool:
    return _SCHOOL_CODE.fullmatch(value) is not None


def check_region_code(code: str, *, field: str = "regionCode") -> str:
    value = code.strip()
    if not re.fullmatch(r"\d{2,3}", value):
        raise DomainError(
            "Код региона — двузначный код субъекта РФ, например 39", code="REGION_CODE_FORMAT", field=field
        )
    return value


def check_name(name: str, *, field: str, limit: int) -> str:
    value = " ".join(name.split())
    if not value:
        raise DomainError("Заполните это поле", code="EMPTY", field=field)
    if len(value) > limit:
        raise DomainError(f"Не длиннее {limit} знаков", code="TOO_LONG", field=field)
    return value


def optional_text(text: str | None, *, field: str, limit: int) -> str | None:
    """Blank means absent; otherwise as :func:`check_name`."""
    if text is None or not text.strip():
        return None
    return check_name(text, field=field, limit=limit)


def check_choice(value: str, choices: type[E], *, field: str) -> E:
    try:
        return choices(value.strip())
    except ValueError:
        allowed = ", ".join(c.value for c in choices)
        raise DomainError(
            f"Неизвестное значение «{value}»; выберите одно из: {allowed}", code="UNKNOWN_CHOICE", field=field
        ) from None


def check_link(link: str | None, *, field: str) -> str | None:
    """A web address people can open: http(s) only."""
    value = (link or "").strip()
    if not value:
        return None
    if "://" not in value and "." in value and " " not in value:
        value = f"https://{value}"
    if not re.fullmatch(r"https?://[^\s/]+\.[^\s]+", value) or len(value) > 300:
        raise DomainError(
            "Укажите веб-адрес, начинающийся с http:// или https://", code="LINK_FORMAT", field=field
        )
    return value


def check_email(email: str | None, *, field: str = "email") -> str | None:
    value = (email or "").strip()
    if not value:
        return None
    if not _EMAIL.fullmatch(value) or len(value) > 200:
        raise DomainError("Это не адрес электронной почты", code="EMAIL_FORMAT", field=field)
    return value


def check_phone(phone: str | None, *, field: str = "phone") -> str | None:
    value = (phone or "").strip()
    if not value:
        return None
    if not _PHONE.fullmatch(value) or sum(ch.isdigit() for ch in value) < 5:
        raise DomainError("Это не номер телефона", code="PHONE_FORMAT", field=field)
    return value


def check_period(start: date | None, end: date | None, *, field: str) -> None:
    """``end`` is the first day outside the period, so it must come after ``start``."""
    if start is not None and end is not None and end <= start:
        raise DomainError(
            "Дата окончания должна быть позже даты начала", code="END_NOT_AFTER_START", field=field
        )


def overlaps(a_start: date, a_end: date | None, b_start: date, b_end: date | None) -> bool:
    """Whether two half-open periods ``[start, end)`` share a day; ``None`` is open-ended."""
    return (a_end is None or b_start < a_end) and (b_end is None or a_start < b_end)


def holds_on(start: date, end: date | None, on: date) -> bool:
    return start <= on and (end is None or on < end)


def check_positive(value: int | None, *, field: str) -> int | None:
    if value is not None and value < 1:
        raise DomainError("Нужно положительное число", code="NOT_POSITIVE", field=field)
    return value


def normalize_subjects(subjects: Iterable[str], *, field: str = "subjects") -> list[str]:
    """Subject names in lower case, single-spaced, each once, in the given order."""
    result: list[str] = []
    for subject in subjects:
        value = " ".join(subject.split()).lower().replace("ё", "е")
        if not value:
            continue
        if len(value) > 100:
            raise DomainError("Название предмета — не длиннее 100 знаков", code="TOO_LONG", field=field)
        if value not in result:
            result.append(value)
    return result


def search_key(*parts: str | None) -> str:
    """What a text search compares against: case-folded in Python, the same on every database."""
    return fold(" ".join(part for part in parts if part))


def fold(text: str) -> str:
    return " ".join(text.split()).casefold().replace("ё", "е")


SEARCH_LIMIT = 200
"""Most characters a search box may send: longer ones match nothing a name holds, and every word
is a LIKE pattern (SQLite refuses patterns past 50,000 bytes)."""


def matching(query: Any, column: Any, search: str | None) -> Any:
    """``query`` narrowed to rows whose ``column`` (a :func:`search_key`) holds every word of
    ``search``, whatever their case, order and «ё»."""
    folded = fold(search or "")
    if len(folded) > SEARCH_LIMIT:
        raise DomainError(f"Поиск — не длиннее {SEARCH_LIMIT} знаков", code="TOO_LONG", field="search")
    for word in folded.split():
        query = query.where(column.contains(word, autoescape=True))
    return query


def check_status_conflict(
    status: SchoolStatus,
    start: date,
    end: date | None,
    existing: Iterable[tuple[SchoolStatus, date, date | None]],
) -> None:
    """A new status period must not overlap one of the same status, nor an exclusive one."""
    for other, other_start, other_end in existing:
        if not overlaps(start, end, other_start, other_end):
            continue
        if other == status:
            raise DomainError(
                f"Школа уже имеет статус «{STATUS_NAMES[status]}» с {day(other_start)}",
                code="STATUS_ALREADY_HELD",
                field="enteredOn",
            )
        if {status, other} == EXCLUSIVE_STATUSES:
            raise DomainError(
                f"Статусы «{STATUS_NAMES[status]}» и «{STATUS_NAMES[other]}» не могут действовать"
                f" одновременно («{STATUS_NAMES[other]}» с {day(other_start)})",
                code="STATUSES_EXCLUSIVE",
                field="status",
            )


def statuses_on(periods: Iterable[tuple[SchoolStatus, date, date | None]], on: date) -> list[SchoolStatus]:
    """The statuses a school holds on a date, derived from its history, in a stable order."""
    held = {status for status, start, end in periods if holds_on(start, end, on)}
    return [status for status in SchoolStatus if status in held]
