"""``setka import FILE --kind assessment_results|trainings|deficits|attendance``: regional facts
from the files regions get from their assessment centre (РЦОИ, ФИС ОКО) and course systems.

Each row becomes one fact of the inbound contract and goes the one way every fact goes
(:mod:`services.events.intake`): kept, then applied by the consumer of its topic with the same
validation, versions, grants and dead-letter reasons as a message from Kafka. The fact's
``ce_id`` is derived from the kind, the source and the row's content, so importing the same file
again keeps nothing new and changes nothing; a row corrected in the file is a new fact with a
newer version, which replaces the old one. A row rejected before is tried again.

The report lists every row that was not applied, by its line in the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from setka_contracts import CloudEvent
from setka_contracts.regional import (
    AssessmentResultPublishedV2,
    AttendanceRecordedByRegionV2,
    DeficitDiagnosedV2,
    RegionalFact,
    TrainingCompletedV2,
)
from setka_runtime.db import Database
from setka_runtime.errors import DomainError
from setka_runtime.identities import SnilsRefused, snils_hash
from setka_runtime.spreadsheets import SourceRow, digits, normalize_header, open_table, parse_date
from sqlalchemy import tuple_, update

from .intake import Fact, Outcome, check, inbound_models, outcomes, store, table
from .regional import INBOUND

DEFAULT_SOURCE = "/setka/import"
DEFAULT_SOURCE_SYSTEM = "setka-import"
MAX_PREAMBLE = 10
"""Title rows an export may have above its header («Результаты ВПР-2025 по ОО», a blank, …)."""


class ImportKind(StrEnum):
    assessment_results = "assessment_results"
    trainings = "trainings"
    deficits = "deficits"
    attendance = "attendance"


class UnmappableHeader(Exception):
    """The file's header lacks a column the kind cannot do without (the message is in Russian)."""


_ORGANIZATION = {
    "organization_id": ("ид оо в сетке", "идентификатор оо", "organization id"),
    "inn": ("инн оо", "инн", "инн организации", "инн места работы"),
    "ogrn": ("огрн", "огрн оо", "огрн организации"),
    "school_code": ("код оо", "код оо фис око", "логин оо", "код школы"),
}
_EDUCATOR = {
    "educator_id": ("ид педагога в сетке", "идентификатор педагога в сетке", "educator id"),
    "person_id": (
        "код слушателя",
        "идентификатор слушателя",
        "ид слушателя",
        "код педагога",
        "идентификатор педагога",
        "person id",
    ),
    "snils": ("снилс", "снилс педагога", "снилс слушателя", "snils"),
}
ORGANIZATION = tuple(_ORGANIZATION)
EDUCATOR = tuple(_EDUCATOR)

FIELDS: Mapping[ImportKind, Mapping[str, tuple[str, ...]]] = {
    ImportKind.assessment_results: {
        **_ORGANIZATION,
        "procedure": ("процедура", "оценочная процедура", "вид процедуры", "procedure"),
        "subject": ("предмет", "учебный предмет", "subject"),
        "grade": ("класс", "параллель", "grade"),
        "year": ("год", "учебный год", "год проведения", "year"),
        "participants": (
            "количество участников",
            "кол во участников",
            "число участников",
            "участников",
            "participants",
        ),
        "mean_score": ("средний балл", "средняя отметка", "mean score"),
        "share_2": ("2", "доля 2", "отметка 2", "2 %", "2 процент", "получили 2"),
        "share_3": ("3", "доля 3", "отметка 3", "3 %", "3 процент", "получили 3"),
        "share_4": ("4", "доля 4", "отметка 4", "4 %", "4 процент", "получили 4"),
        "share_5": ("5", "доля 5", "отметка 5", "5 %", "5 процент", "получили 5"),
        "external_id": ("идентификатор", "id записи", "external id"),
    },
    ImportKind.trainings: {
        **_EDUCATOR,
        **_ORGANIZATION,
        "course": (
            "наименование программы",
            "программа",
            "дополнительная профессиональная программа",
            "курс",
            "course",
        ),
        "provider": (
            "организация реализующая программу",
            "образовательная организация дпо",
            "провайдер",
            "организатор",
            "provider",
        ),
        "hours": ("объем часов", "объем программы часов", "часов", "количество часов", "hours"),
        "completed_on": ("дата окончания", "дата окончания обучения", "дата выдачи", "completed on"),
        "external_id": (
            "регистрационный номер удостоверения",
            "номер удостоверения",
            "рег номер",
            "идентификатор",
            "external id",
        ),
    },
    ImportKind.deficits: {
        **_EDUCATOR,
        **_ORGANIZATION,
        "competency": ("компетенция", "дефицит", "профессиональный дефицит", "competency"),
        "level": ("уровень", "уровень дефицита", "выраженность", "level"),
        "diagnosed_on": ("дата диагностики", "дата", "diagnosed on"),
        "external_id": ("идентификатор", "номер", "external id"),
    },
    ImportKind.attendance: {
        "activity_external_id": ("код мероприятия", "идентификатор мероприятия", "мероприятие id"),
        **_ORGANIZATION,
        **_EDUCATOR,
        "hours": ("часы", "часов", "количество часов", "hours"),
        "external_id": ("идентификатор", "номер записи", "external id"),
    },
}
REQUIRED: Mapping[ImportKind, tuple[tuple[str, ...], ...]] = {
    ImportKind.assessment_results: (
        ORGANIZATION,
        ("procedure",),
        ("subject",),
        ("grade",),
        ("year",),
        ("participants",),
        ("mean_score",),
    ),
    ImportKind.trainings: (
        EDUCATOR,
        ORGANIZATION,
        ("course",),
        ("provider",),
        ("hours",),
        ("completed_on",),
    ),
    ImportKind.deficits: (
        EDUCATOR,
        ORGANIZATION,
        ("competency",),
        ("level",),
        ("diagnosed_on",),
    ),
    ImportKind.attendance: (("activity_external_id",), ORGANIZATION, ("hours",)),
}
MODELS: Mapping[ImportKind, type[RegionalFact]] = {
    ImportKind.assessment_results: AssessmentResultPublishedV2,
    ImportKind.trainings: TrainingCompletedV2,
    ImportKind.deficits: DeficitDiagnosedV2,
    ImportKind.attendance: AttendanceRecordedByRegionV2,
}
"""Version 2 of the facts: schools and educators by the references the exports have."""
PROCEDURES = {
    "впр": "vpr",
    "всероссийская проверочная работа": "vpr",
    "vpr": "vpr",
    "огэ": "oge",
    "oge": "oge",
    "егэ": "ege",
    "ege": "ege",
    "рдр": "regional_diagnostic",
    "региональная диагностика": "regional_diagnostic",
    "региональная диагностическая работа": "regional_diagnostic",
    "regional diagnostic": "regional_diagnostic",
}
LEVELS = {
    "низкий": "low",
    "low": "low",
    "средний": "medium",
    "medium": "medium",
    "высокий": "high",
    "high": "high",
}


def map_header(kind: ImportKind, header: Sequence[str]) -> dict[str, int]:
    """Which column feeds which field; raises :class:`UnmappableHeader` naming what is missing."""
    lookup: dict[str, str] = {}
    for name, aliases in FIELDS[kind].items():
        for alias in aliases:
            lookup.setdefault(normalize_header(alias), name)
    columns: dict[str, int] = {}
    for index, title in enumerate(header):
        name = lookup.get(normalize_header(title))
        if name is None:  # «% «2»», «Доля «2», %» and the like
            bare = normalize_header(title).replace("доля", "").replace("процент", "").strip()
            name = lookup.get(bare)
        if name and name not in columns:
            columns[name] = index
    missing = [
        " или ".join(f"«{FIELDS[kind][name][0]}»" for name in group)
        for group in REQUIRED[kind]
        if not any(name in columns for name in group)
    ]
    if missing:
        raise UnmappableHeader(
            f"нет столбца для: {'; '.join(missing)} (заголовок: {', '.join(h for h in header if h)})"
        )
    return columns


def _number(text: str, *, field: str) -> float:
    cleaned = text.replace("\u00a0", "").replace(" ", "").replace(",", ".").removesuffix("%")
    try:
        return float(cleaned)
    except ValueError:
        raise DomainError(f"«{text}» — не число", code="NUMBER_FORMAT", field=field) from None


def _whole(text: str, *, field: str) -> int:
    value = _number(text, field=field)
    if value != int(value):
        raise DomainError(f"«{text}» — не целое число", code="NUMBER_FORMAT", field=field)
    return int(value)


def _choice(table: Mapping[str, str], text: str, *, field: str) -> str:
    value = table.get(normalize_header(text))
    if value is None:
        known = ", ".join(sorted(k for k in table if re.search("[а-я]", k)))
        raise DomainError(f"«{text}» не распознано; ожидается: {known}", code="UNKNOWN_CHOICE", field=field)
    return value


def _year(text: str) -> int:
    """«2025», «2024/2025» or «2024-2025» (a school year is counted by its spring)."""
    found = re.findall(r"\d{4}", text)
    if not found:
        raise DomainError(f"«{text}» — не год", code="NUMBER_FORMAT", field="year")
    return int(found[-1])


def _organization(values: Mapping[str, str]) -> dict[str, str]:
    ref: dict[str, str] = {}
    if values.get("organization_id"):
        ref["id"] = values["organization_id"]
    if values.get("inn"):
        ref["inn"] = digits(values["inn"], width=10)
    if values.get("ogrn"):
        ref["ogrn"] = digits(values["ogrn"], width=13)
    if values.get("school_code"):
        ref["school_code"] = values["school_code"]
    return ref


def _educator(values: Mapping[str, str]) -> dict[str, str]:
    ref: dict[str, str] = {}
    for column, name in (("educator_id", "id"), ("person_id", "person_id"), ("snils", "snils")):
        if values.get(column):
            ref[name] = values[column]
    return ref


def _person(educator: Mapping[str, str], snils_key: str | None) -> str:
    """The educator in a derived external id: never the СНИЛС itself, only its keyed hash."""
    if "id" in educator or "person_id" in educator:
        return educator.get("id") or educator["person_id"]
    if snils_key is None:
        raise DomainError(
            "СНИЛС не принимается: в Setka не задан ключ SNILS_HMAC_KEY",
            code="SNILS_NOT_ACCEPTED",
            field="snils",
        )
    try:
        return "snils:" + snils_hash(educator["snils"], snils_key)[:32]
    except SnilsRefused as error:
        raise DomainError(str(error), code="SNILS_INVALID", field="snils") from None


def _shares(values: Mapping[str, str]) -> dict[str, float]:
    shares: dict[str, float] = {}
    for mark in "2345":
        text = values.get(f"share_{mark}")
        if text:
            shares[mark] = _number(text, field=f"share_{mark}")
    if shares and sum(shares.values()) > 1.5:  # percentages, as exports give them
        shares = {mark: round(value / 100, 4) for mark, value in shares.items()}
    return shares


def row_data(
    kind: ImportKind, values: Mapping[str, str], *, source_system: str, snils_key: str | None = None
) -> dict[str, Any]:
    """A row as the data of its fact (not yet checked against the contract: the consumer does)."""
    data: dict[str, Any] = {"source_system": source_system}
    if kind is ImportKind.assessment_results:
        procedure = _choice(PROCEDURES, values["procedure"], field="procedure")
        grade = _whole(values["grade"], field="grade")
        year = _year(values["year"])
        organization = _organization(values)
        school = organization.get("id") or organization.get("inn") or organization.get("school_code")
        data |= {
            "organization": organization,
            "procedure": procedure,
            "subject": values["subject"],
            "grade": grade,
            "year": year,
            "participants": _whole(values["participants"], field="participants"),
            "mean_score": _number(values["mean_score"], field="mean_score"),
            "mark_shares": _shares(values),
            "external_id": values.get("external_id")
            or f"{procedure}/{school}/{normalize_header(values['subject'])}/{grade}/{year}",
        }
    elif kind is ImportKind.trainings:
        data |= {
            "educator": _educator(values),
            "organization": _organization(values),
            "course": values["course"],
            "provider": values["provider"],
            "hours": _whole(values["hours"], field="hours"),
            "completed_on": parse_date(values["completed_on"], field="completed_on").isoformat(),
        }
        data["external_id"] = values.get("external_id") or "/".join(
            (_person(data["educator"], snils_key), normalize_header(values["course"]), data["completed_on"])
        )
    elif kind is ImportKind.deficits:
        data |= {
            "educator": _educator(values),
            "organization": _organization(values),
            "competency": values["competency"],
            "level": _choice(LEVELS, values["level"], field="level"),
            "diagnosed_on": parse_date(values["diagnosed_on"], field="diagnosed_on").isoformat(),
        }
        data["external_id"] = values.get("external_id") or "/".join(
            (
                _person(data["educator"], snils_key),
                normalize_header(values["competency"]),
                data["diagnosed_on"],
            )
        )
    else:
        data |= {
            "activity_external_id": values["activity_external_id"],
            "organization": _organization(values),
            "hours": _number(values["hours"], field="hours"),
        }
        educator = _educator(values)
        if educator:
            data["educator"] = educator
        organization = data["organization"]
        person = _person(educator, snils_key) if educator else next(iter(organization.values()), "")
        data["external_id"] = values.get("external_id") or f"{values['activity_external_id']}/{person}"
    return data


def fact_id(kind: ImportKind, source: str, data: Mapping[str, Any], *, snils_key: str | None = None) -> str:
    """The row's ``ce_id``: the same row imported again is the same fact (derived from the row
    with a СНИЛС replaced by its keyed hash: an id must not reveal the number)."""
    educator = data.get("educator")
    if isinstance(educator, dict) and "snils" in educator:
        data = {**data, "educator": {**educator, "snils": _person(educator, snils_key)}}
    content = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(f"{kind.value}\x1f{source}\x1f{content}".encode()).hexdigest()
    return f"import-{kind.value}-{digest[:32]}"


@dataclass
class Line:
    """What became of one row."""

    line: int
    outcome: str
    reason: str = ""


@dataclass
class ImportReport:
    kind: ImportKind
    path: Path
    lines: list[Line] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)

    @property
    def problems(self) -> list[Line]:
        return [line for line in self.lines if line.outcome not in ("applied", "repeat")]

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "file": str(self.path),
            "rows": len(self.lines),
            **{o: self.count(o) for o in ("applied", "repeat", "waiting", "rejected", "pending")},
            "lines": [vars(line) for line in self.problems],
        }


OUTCOME_WORDS = {
    "rejected": "отклонена",
    "waiting": "ждёт",
    "pending": "ещё не применена",
    "ignored": "пропущена",
}


def render(report: ImportReport) -> str:
    counts = (
        f"применено {report.count('applied')}, без изменений (уже были) {report.count('repeat')}, "
        f"отклонено {report.count('rejected')}, ждут {report.count('waiting')}, "
        f"ещё не применены {report.count('pending')}"
    )
    lines = [f"{report.kind.value} из {report.path}: строк {len(report.lines)}; {counts}"]
    for line in report.problems:
        lines.append(f"  строка {line.line}: {OUTCOME_WORDS.get(line.outcome, line.outcome)}: {line.reason}")
    return "\n".join(lines)


def read_rows(kind: ImportKind, path: Path) -> tuple[dict[str, int], list[SourceRow]]:
    """The header's columns and the data rows; the header may sit under a few title rows."""
    table = open_table(path)
    rows = list(table.rows)
    try:
        return map_header(kind, table.header), rows
    except UnmappableHeader as error:
        for skipped, row in enumerate(rows[:MAX_PREAMBLE], start=1):
            try:
                return map_header(kind, row.cells), rows[skipped:]
            except UnmappableHeader:
                continue
        raise error from None


async def import_file(
    db: Database,
    path: Path,
    kind: ImportKind,
    *,
    source: str = DEFAULT_SOURCE,
    source_system: str = DEFAULT_SOURCE_SYSTEM,
    sender: str = "setka import",
    snils_key: str | None = None,
    wait_seconds: float = 120.0,
    apply: Callable[[], Any] | None = None,
) -> ImportReport:
    """Keep a fact per row, then wait (up to ``wait_seconds``) for the events service to apply
    them and report each row. ``apply``: applies kept facts here instead (a test's, or a
    process that runs the intake itself)."""
    columns, rows = read_rows(kind, path)
    models = inbound_models(INBOUND)
    model = MODELS[kind]
    report = ImportReport(kind=kind, path=path)
    facts: list[tuple[int, Fact]] = []
    recorded = datetime.now(UTC).replace(microsecond=0).isoformat()
    for row in rows:
        values = {name: row.cells[i] for name, i in columns.items() if i < len(row.cells) and row.cells[i]}
        try:
            data = row_data(kind, values, source_system=source_system, snils_key=snils_key)
            event_id = fact_id(kind, source, data, snils_key=snils_key)
        except DomainError as error:
            report.lines.append(Line(row.line, "rejected", f"{error.field}: {error.message}"))
            continue
        except KeyError as missing:
            report.lines.append(Line(row.line, "rejected", f"пустая ячейка: {missing.args[0]}"))
            continue
        data["recorded_at"] = recorded
        event = CloudEvent(type=model.event_type, source=source, data=data, id=event_id)
        checked = check(event.headers(), event.body(), models, snils_key=snils_key)
        if isinstance(checked, str):
            report.lines.append(Line(row.line, "rejected", checked))
        else:
            facts.append((row.line, checked))
    fresh = await store(db, [fact for _, fact in facts], sender=sender) if facts else []
    kept_before = {fact.key for (_, fact), new in zip(facts, fresh, strict=True) if not new}
    if kept_before:
        await _retry_rejected(db, sorted(kept_before))
    keys = [fact.key for _, fact in facts]
    deadline = asyncio.get_running_loop().time() + wait_seconds
    found: dict[tuple[str, str], Outcome] = {}
    while True:
        if apply is not None:
            await apply()
        found = await outcomes(db, keys)
        done = all(found.get(key, Outcome("pending")).outcome != "pending" for key in keys)
        if done or asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.sleep(0.2)
    for line, fact in facts:
        result = found.get(fact.key, Outcome("pending"))
        if fact.key in kept_before and result.outcome == "applied":
            result = Outcome("repeat")  # applied when the file was imported before
        report.lines.append(Line(line, result.outcome, result.reason))
    report.lines.sort(key=lambda line: line.line)
    return report


async def _retry_rejected(db: Database, keys: Sequence[tuple[str, str]]) -> None:
    """Rows rejected before (an educator who did not work there yet) are handed over again."""
    async with db.session() as session, session.begin():
        for start in range(0, len(keys), 500):
            await session.execute(
                update(table)
                .where(
                    tuple_(table.c.source, table.c.event_id).in_(list(keys[start : start + 500])),
                    table.c.outcome == "dead-lettered",
                )
                .values(applied_at=None, outcome=None, reason=None)
            )
