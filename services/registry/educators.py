"""Educators (педагогические работники) and where they work: one person, several employments."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from setka_contracts.registry import (
    EducatorEmployment,
    EducatorRegistered,
    EducatorUpdated,
    QualificationCategory,
)
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from setka_runtime.identities import SnilsRefused, snils_hash
from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from . import lookups, rules
from .models import Educator, Employment
from .paging import Page, fetch_page

SOURCE = "/setka/registry"


@dataclass(frozen=True)
class Post:
    """An employment to start: where, as whom, from when."""

    organization_id: uuid.UUID
    position: str
    started_on: date | None = None


@dataclass(frozen=True)
class RegisterEducator:
    last_name: str
    first_name: str
    middle_name: str | None = None
    qualification_category: str = "none"
    subjects: list[str] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)
    external_id: str | None = None
    """The educator's code in a regional system, for imports to upsert by."""
    snils: str | None = None
    """СНИЛС: checked, kept and published only as its keyed hash (HMAC-SHA256, SNILS_HMAC_KEY)."""


@dataclass(frozen=True)
class UpdateEducator:
    """``None`` leaves a field as it is."""

    educator_id: uuid.UUID
    last_name: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    qualification_category: str | None = None
    subjects: list[str] | None = None


def _refresh_search(educator: Educator) -> None:
    educator.search_text = rules.search_key(educator.last_name, educator.first_name, educator.middle_name)


async def employments_of(
    session: AsyncSession, educator_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Employment]]:
    rows = await session.scalars(
        select(Employment).where(Employment.educator_id.in_(educator_ids)).order_by(Employment.started_on)
    )
    result: dict[uuid.UUID, list[Employment]] = defaultdict(list)
    for row in rows.all():
        result[row.educator_id].append(row)
    return result


async def _snapshot(
    session: AsyncSession, educator: Educator, employments: list[Employment] | None = None
) -> dict[str, object]:
    """The educator as its events carry it; ``employments`` when the caller holds them all
    (a new educator's), else read."""
    if employments is None:
        employments = (await employments_of(session, [educator.id]))[educator.id]
    else:  # as employments_of orders them (PostgreSQL puts a post without a start last)
        employments = sorted(employments, key=lambda e: (e.started_on is None, e.started_on or date.min))
    return {
        "educator_id": educator.id,
        "external_id": educator.external_id,
        "last_name": educator.last_name,
        "first_name": educator.first_name,
        "middle_name": educator.middle_name,
        "qualification_category": QualificationCategory(educator.qualification_category),
        "subjects": list(educator.subjects),
        "snils_hash": educator.snils_hash,
        "employments": [
            EducatorEmployment(
                employment_id=e.id,
                organization_id=e.organization_id,
                position=e.position,
                started_on=e.started_on,
                ended_on=e.ended_on,
            )
            for e in employments
        ],
    }


async def _add_post(
    session: AsyncSession, educator: Educator, post: Post, held: list[Employment] | None = None
) -> Employment:
    """A post for the educator; ``held`` are all its employments when the caller has them (they
    are read otherwise), and the new one is added to it."""
    organization = await lookups.organization(session, post.organization_id, field="organizationId")
    position = rules.check_name(post.position, field="position", limit=200)
    if held is None:
        held = (await employments_of(session, [educator.id]))[educator.id]
    for other in held:
        if other.organization_id != organization.id:
            continue
        if rules.overlaps(post.started_on or date.min, None, other.started_on or date.min, other.ended_on):
            raise DomainError(
                "Педагог уже работает в этой организации", code="ALREADY_EMPLOYED", field="organizationId"
            )
    employment = Employment(
        educator_id=educator.id,
        organization_id=organization.id,
        position=position,
        started_on=post.started_on,
    )
    session.add(employment)
    await session.flush()
    held.append(employment)
    return employment


def _snils_hash(snils: str | None, key: str | None) -> str | None:
    """The keyed hash of a СНИЛС given (never the number itself)."""
    if snils is None or not snils.strip():
        return None
    if key is None:
        raise DomainError(
            "СНИЛС не принимается: в Setka не задан ключ SNILS_HMAC_KEY",
            code="SNILS_NOT_ACCEPTED",
            field="snils",
        )
    try:
        return snils_hash(snils, key)
    except SnilsRefused:
        raise DomainError(
            "СНИЛС не прошёл проверку контрольного числа: проверьте номер",
            code="INVALID_SNILS",
            field="snils",
        ) from None


async def register_educator(
    session: AsyncSession, command: RegisterEducator, *, snils_key: str | None = None
) -> Educator:
    """Register a person with their posts; records ``educator.registered``."""
    external_id = rules.optional_text(command.external_id, field="externalId", limit=100)
    educator = Educator(
        external_id=external_id,
        snils_hash=_snils_hash(command.snils, snils_key),
        last_name=rules.check_name(command.last_name, field="lastName", limit=100),
        first_name=rules.check_name(command.first_name, field="firstName", limit=100),
        middle_name=rules.optional_text(command.middle_name, field="middleName", limit=100),
        qualification_category=rules.check_choice(
            command.qualification_category, QualificationCategory, field="qualificationCategory"
        ).value,
        subjects=rules.normalize_subjects(command.subjects),
    )
    _refresh_search(educator)
    session.add(educator)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:  # the only unique column an educator has is its code
        raise DomainError(
            f"Педагог с кодом {external_id} уже зарегистрирован", code="IDENTIFIER_TAKEN", field="externalId"
        ) from None
    held: list[Employment] = []  # a new educator holds no post yet: nothing to read
    for post in command.posts:
        await _add_post(session, educator, post, held)
    await outbox.record(
        session, EducatorRegistered(**await _snapshot(session, educator, held)), source=SOURCE
    )
    return educator


async def _updated(session: AsyncSession, educator: Educator) -> None:
    educator.updated_at = datetime.now(UTC)
    _refresh_search(educator)
    await session.flush()
    await outbox.record(session, EducatorUpdated(**await _snapshot(session, educator)), source=SOURCE)


async def update_educator(session: AsyncSession, command: UpdateEducator) -> Educator:
    educator = await lookups.educator(session, command.educator_id, field="id")
    before = (
        educator.last_name,
        educator.first_name,
        educator.middle_name,
        educator.qualification_category,
        list(educator.subjects),
    )
    if command.last_name is not None:
        educator.last_name = rules.check_name(command.last_name, field="lastName", limit=100)
    if command.first_name is not None:
        educator.first_name = rules.check_name(command.first_name, field="firstName", limit=100)
    if command.middle_name is not None:
        educator.middle_name = rules.optional_text(command.middle_name, field="middleName", limit=100)
    if command.qualification_category is not None:
        educator.qualification_category = rules.check_choice(
            command.qualification_category, QualificationCategory, field="qualificationCategory"
        ).value
    if command.subjects is not None:
        educator.subjects = rules.normalize_subjects(command.subjects)
    after = (
        educator.last_name,
        educator.first_name,
        educator.middle_name,
        educator.qualification_category,
        list(educator.subjects),
    )
    if after != before:
        await _updated(session, educator)
    return educator


async def employ(session: AsyncSession, educator_id: uuid.UUID, post: Post) -> Employment:
    """The educator takes a post (another one, perhaps at a second organization)."""
    educator = await lookups.educator(session, educator_id)
    employment = await _add_post(session, educator, post)
    await _updated(session, educator)
    return employment


async def end_employment(session: AsyncSession, employment_id: uuid.UUID, ended_on: date) -> Employment:
    """``ended_on`` is the first day the educator no longer holds the post."""
    employment = await session.get(Employment, lookups.as_uuid(employment_id, field="employmentId"))
    if employment is None:
        raise DomainError("Такой должности нет", code="EMPLOYMENT_NOT_FOUND", field="employmentId")
    if employment.ended_on is not None:
        raise DomainError(
            "Работа в этой должности уже завершена", code="EMPLOYMENT_ENDED", field="employmentId"
        )
    rules.check_period(employment.started_on, ended_on, field="endedOn")
    employment.ended_on = ended_on
    educator = await lookups.educator(session, employment.educator_id)
    await _updated(session, educator)
    return employment


@dataclass(frozen=True)
class EducatorFilter:
    organization_id: uuid.UUID | None = None
    """Educators currently working at the organization."""
    qualification_category: str | None = None
    search: str | None = None


async def list_educators(
    session: AsyncSession,
    criteria: EducatorFilter,
    *,
    first: int,
    after: str | None,
    within: ColumnElement[bool] | None = None,
) -> Page[Educator]:
    """A page of educators ordered by name; only those ``within`` holds for, if given (the caller's
    scope, see :func:`services.registry.scopes.educators_visible_to`)."""
    query = select(Educator)
    if within is not None:
        query = query.where(within)
    if criteria.organization_id:
        today = date.today()
        query = query.where(
            exists().where(
                Employment.educator_id == Educator.id,
                Employment.organization_id == criteria.organization_id,
                (Employment.ended_on.is_(None)) | (Employment.ended_on > today),
            )
        )
    if criteria.qualification_category:
        query = query.where(Educator.qualification_category == criteria.qualification_category)
    query = rules.matching(query, Educator.search_text, criteria.search)
    return await fetch_page(
        session, query, order=[Educator.last_name, Educator.first_name, Educator.id], first=first, after=after
    )
