"""Educators (педагогические работники) and where they work: one person, several employments."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from setka_contracts.registry import (
    ERASED_NAME,
    EducatorEmployment,
    EducatorErased,
    EducatorRegistered,
    EducatorUpdated,
    QualificationCategory,
)
from setka_runtime import erasure, outbox
from setka_runtime.errors import DomainError
from setka_runtime.identities import SnilsRefused, snils_hash
from setka_runtime.sql import one_of
from sqlalchemy import JSON, ColumnElement, Table, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from . import lookups, rules
from .bulk import insert_while_building
from .models import Educator, Employment, Organization
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
    snils: str | None = None
    """СНИЛС: checked and kept only as its keyed hash; an empty one removes the hash kept."""


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
        return _state(educator, (await employments_of(session, [educator.id]))[educator.id], sort=False)
    return _state(educator, employments)


def _state(educator: Any, employments: Sequence[Any], *, sort: bool = True) -> dict[str, object]:
    """The educator as its events carry it, from the educator and its employments (stored rows,
    or the values a registration is about to store); ``sort`` them as :func:`employments_of`
    orders them (PostgreSQL puts a post without a start last)."""
    if sort:
        employments = sorted(employments, key=lambda e: (e.started_on is None, e.started_on or date.min))
    return {
        "educator_id": educator.id,
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


def snils_hash_of(snils: str | None, key: str | None) -> str | None:
    """The keyed hash of a СНИЛС given, checked by its check digits (never the number itself);
    None when none is given. The one place the registry turns a СНИЛС into what it keeps."""
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


async def _claim_snils(session: AsyncSession, digest: str | None, educator_id: uuid.UUID | None) -> None:
    """One СНИЛС names one person: refused when another educator already has it (a fact naming
    the СНИЛС must find one educator)."""
    if digest is None:
        return
    other = select(Educator.id).where(Educator.snils_hash == digest)
    if educator_id is not None:
        other = other.where(Educator.id != educator_id)
    if await session.scalar(other.limit(1)) is not None:
        raise DomainError("Этот СНИЛС уже указан у другого педагога", code="SNILS_TAKEN", field="snils")


async def register_educator(
    session: AsyncSession, command: RegisterEducator, *, snils_key: str | None = None
) -> Educator:
    """Register a person with their posts; records ``educator.registered``."""
    external_id = rules.optional_text(command.external_id, field="externalId", limit=100)
    digest = snils_hash_of(command.snils, snils_key)
    await _claim_snils(session, digest, None)
    educator = Educator(
        external_id=external_id,
        snils_hash=digest,
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


def _json_encoded(
    session: AsyncSession, table: Table, rows: list[dict[str, object]]
) -> list[dict[str, object]]:
    """``rows`` as :func:`insert_many` takes them: on PostgreSQL its ``COPY`` sends values as
    they are, so a JSON column's are encoded here as the column's type encodes them."""
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        return rows
    encoders = {
        column.name: encode
        for column in table.columns
        if isinstance(column.type, JSON)
        and (encode := column.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    }
    encoded: list[dict[str, object]] = []
    for row in rows:
        copy = dict(row)
        for name, encode in encoders.items():
            if name in copy:
                copy[name] = encode(copy[name])
        encoded.append(copy)
    return encoded


async def register_educators(
    session: AsyncSession,
    commands: Sequence[RegisterEducator],
    *,
    snils_key: str | None = None,
    organizations: Mapping[uuid.UUID, datetime | None] | None = None,
    unheld: bool = False,
) -> list[dict[str, object]]:
    """Register many people with their posts by the rules of :func:`register_educator`, reading
    and writing in bulk (an import's chunk); one ``educator.registered`` each. The first command a
    rule refuses raises its :class:`DomainError` and nothing is written: the caller then registers
    them one by one (each refusal with its own reason). Returns the educators as stored.
    ``organizations``: the archive date (``None``: active) of every organization the posts name,
    when the caller has read them in this transaction already (not read again); ``unheld``: the
    caller has read in this transaction that no educator holds any of the commands' codes
    (``external_id``: not read again; the unique index still stands behind it)."""
    if not commands:
        return []
    educators: list[dict[str, object]] = []
    for command in commands:
        educators.append(
            {
                "id": uuid.uuid4(),
                "external_id": rules.optional_text(command.external_id, field="externalId", limit=100),
                "snils_hash": snils_hash_of(command.snils, snils_key),
                "last_name": rules.check_name(command.last_name, field="lastName", limit=100),
                "first_name": rules.check_name(command.first_name, field="firstName", limit=100),
                "middle_name": rules.optional_text(command.middle_name, field="middleName", limit=100),
                "qualification_category": rules.check_choice(
                    command.qualification_category, QualificationCategory, field="qualificationCategory"
                ).value,
                "subjects": rules.normalize_subjects(command.subjects),
                "created_at": datetime.now(UTC),
            }
        )
        educators[-1]["search_text"] = rules.search_key(
            educators[-1]["last_name"], educators[-1]["first_name"], educators[-1]["middle_name"]
        )
    digests = [e["snils_hash"] for e in educators if e["snils_hash"]]
    if len(digests) != len(set(digests)) or (
        digests
        and await session.scalar(
            select(Educator.id).where(one_of(session, Educator.snils_hash, digests)).limit(1)
        )
    ):
        raise DomainError("Этот СНИЛС уже указан у другого педагога", code="SNILS_TAKEN", field="snils")
    codes = [e["external_id"] for e in educators if e["external_id"]]
    taken = (
        await session.scalar(
            select(Educator.external_id).where(one_of(session, Educator.external_id, codes)).limit(1)
        )
        if codes and not unheld
        else None
    )
    if taken is not None or len(codes) != len(set(codes)):
        code = taken or next(c for c in codes if codes.count(c) > 1)
        raise DomainError(
            f"Педагог с кодом {code} уже зарегистрирован", code="IDENTIFIER_TAKEN", field="externalId"
        )
    wanted = {post.organization_id for command in commands for post in command.posts}
    if organizations is None or not wanted <= organizations.keys():
        organizations = {
            ident: archived
            for ident, archived in await session.execute(
                select(Organization.id, Organization.archived_at).where(
                    one_of(session, Organization.id, sorted(wanted, key=str))
                )
            )
        }
    employments: list[dict[str, object]] = []
    held: dict[object, list[SimpleNamespace]] = {}
    for command, educator in zip(commands, educators, strict=True):
        posts = held[educator["id"]] = []
        for post in command.posts:
            if post.organization_id not in organizations:
                raise DomainError(
                    "Такой организации нет", code="ORGANIZATION_NOT_FOUND", field="organizationId"
                )
            if organizations[post.organization_id] is not None:
                raise DomainError(
                    "Организация в архиве", code="ORGANIZATION_ARCHIVED", field="organizationId"
                )
            position = rules.check_name(post.position, field="position", limit=200)
            if any(
                other.organization_id == post.organization_id
                and rules.overlaps(
                    post.started_on or date.min, None, other.started_on or date.min, other.ended_on
                )
                for other in posts
            ):
                raise DomainError(
                    "Педагог уже работает в этой организации", code="ALREADY_EMPLOYED", field="organizationId"
                )
            employment = {
                "id": uuid.uuid4(),
                "educator_id": educator["id"],
                "organization_id": post.organization_id,
                "position": position,
                "started_on": post.started_on,
            }
            posts.append(SimpleNamespace(**employment, ended_on=None))
            employments.append(employment)
    events = await insert_while_building(
        session,
        [
            (Educator.__table__, _json_encoded(session, Educator.__table__, educators)),
            (Employment.__table__, employments),
        ],
        (
            EducatorRegistered(**_state(SimpleNamespace(**educator), held[educator["id"]]))  # type: ignore[arg-type]
            for educator in educators
        ),
    )
    await outbox.record_many(session, events, source=SOURCE)
    return educators


async def _updated(session: AsyncSession, educator: Educator) -> None:
    educator.updated_at = datetime.now(UTC)
    _refresh_search(educator)
    await session.flush()
    await outbox.record(session, EducatorUpdated(**await _snapshot(session, educator)), source=SOURCE)


def _present(educator: Educator, *, field: str = "id") -> Educator:
    """The educator, unless their personal data was erased: an erased person is not edited again."""
    if educator.erased_at is not None:
        raise DomainError("Персональные данные этого педагога удалены", code="EDUCATOR_ERASED", field=field)
    return educator


async def update_educator(
    session: AsyncSession, command: UpdateEducator, *, snils_key: str | None = None
) -> Educator:
    """Change what the command gives; records ``educator.updated`` (with the СНИЛС's hash, so the
    events service learns it) when anything changed."""
    educator = _present(await lookups.educator(session, command.educator_id, field="id"))
    before = (
        educator.last_name,
        educator.first_name,
        educator.middle_name,
        educator.qualification_category,
        list(educator.subjects),
        educator.snils_hash,
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
    if command.snils is not None:
        digest = snils_hash_of(command.snils, snils_key)
        await _claim_snils(session, digest, educator.id)
        educator.snils_hash = digest
    after = (
        educator.last_name,
        educator.first_name,
        educator.middle_name,
        educator.qualification_category,
        list(educator.subjects),
        educator.snils_hash,
    )
    if after != before:
        await _updated(session, educator)
    return educator


async def employ(session: AsyncSession, educator_id: uuid.UUID, post: Post) -> Employment:
    """The educator takes a post (another one, perhaps at a second organization)."""
    educator = _present(await lookups.educator(session, educator_id), field="educatorId")
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
    educator = _present(await lookups.educator(session, employment.educator_id), field="employmentId")
    rules.check_period(employment.started_on, ended_on, field="endedOn")
    employment.ended_on = ended_on
    await _updated(session, educator)
    return employment


class ErasureCause:
    REQUEST = "request"
    RETENTION = "retention"


@dataclass(frozen=True)
class Erased:
    """An erasure done: the educator as it is now, and what identified them (held only until the
    dead letters are purged after commit, see :func:`setka_runtime.deadletters.purge`)."""

    educator: Educator
    needles: list[str]


def _name_forms(educator: Educator) -> list[str]:
    last, first, middle = educator.last_name, educator.first_name, educator.middle_name
    forms = [f"{last} {first} {middle}" if middle else "", f"{last} {first}", f"{first} {last}"]
    return [form for form in forms if form.strip()]


async def erase_educator(
    session: AsyncSession,
    educator_id: uuid.UUID,
    *,
    cause: str = ErasureCause.REQUEST,
    reason: str | None = None,
) -> Erased:
    """Erase the educator's personal data (152-ФЗ) and record ``educator.erased``.

    The row stays, with its id, qualification, subjects and posts but no name, no external
    code and no keyed hash of the СНИЛС: facts about the person (attendance, trainings) still
    join and every figure stays the same, while nothing of it names them. This service's outbox
    is scrubbed in the same transaction; the other services scrub theirs when the event reaches
    them."""
    educator = _present(await lookups.educator(session, educator_id, field="id"))
    reason = rules.optional_text(reason, field="reason", limit=500)
    needles = _name_forms(educator)
    external_id = educator.external_id
    educator.last_name = ERASED_NAME
    educator.first_name = ""
    educator.middle_name = None
    educator.external_id = None
    educator.snils_hash = None
    educator.search_text = ""
    now = datetime.now(UTC)
    educator.updated_at = now
    educator.erased_at = now
    educator.erasure_cause = cause
    educator.erasure_reason = reason
    await session.flush()
    await erasure.forget(
        session, str(educator.id), needles=[*needles, *([external_id] if external_id else [])]
    )
    await outbox.record(
        session, EducatorErased(educator_id=educator.id, erased_at=now, cause=cause), source=SOURCE
    )
    return Erased(educator=educator, needles=needles)


async def departed_before(session: AsyncSession, today: date, retention_days: int) -> list[uuid.UUID]:
    """Educators not erased yet whose every post has ended, the last more than ``retention_days``
    before ``today``."""
    horizon = today - timedelta(days=retention_days)
    still = exists().where(Employment.educator_id == Educator.id, Employment.ended_on.is_(None))
    last_end = (
        select(Employment.educator_id, func.max(Employment.ended_on).label("ended"))
        .group_by(Employment.educator_id)
        .subquery()
    )
    rows = await session.scalars(
        select(Educator.id)
        .join(last_end, last_end.c.educator_id == Educator.id)
        .where(Educator.erased_at.is_(None), ~still, last_end.c.ended < horizon)
        .order_by(Educator.id)
    )
    return list(rows.all())


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
    query = select(Educator).where(Educator.erased_at.is_(None))  # an erased person is listed no more
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
