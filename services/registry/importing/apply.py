"""Upserting imported rows through the registry's domain functions.

Nothing here writes a table itself: a new organization is registered, a known one updated, a
membership joined or ended by the same functions the subgraph calls, so every change records
its event and every rule applies. What the importers add is finding what a row refers to (by
ИНН or the assessment-system code, a few queries per chunk) and telling created, updated and
unchanged apart — an unchanged row calls nothing that writes, so it emits no event.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from setka_runtime.errors import DomainError
from setka_runtime.russian import day
from setka_runtime.spreadsheets import digits, parse_date
from setka_runtime.sql import insert_many, one_of
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import educators, networks, reference, rules, statuses
from ..models import Educator, Employment, Membership, Municipality, Network, Organization, Region
from ..organizations import (
    RegisterOrganization,
    UpdateOrganization,
    register_organization,
    register_organizations,
    update_organization,
)
from .engine import Outcome, RowImporter
from .mapping import (
    MEMBERSHIP_ROLES,
    ORGANIZATION_KINDS,
    QUALIFICATION_CATEGORIES,
    SCHOOL_STATUSES,
    ImportKind,
    split_list,
    vocabulary_value,
)

_SHORT_NAME_LIMIT = 200


def _inn(record: dict[str, str], name: str, *, field: str) -> str | None:
    text = record.get(name)
    if not text:
        return None
    plain = len(text) == 10 and text.isdigit()  # as nearly every file has it: nothing to clean up
    return rules.check_inn(text if plain else digits(text, width=10), field=field)


def _code(record: dict[str, str], name: str, *, field: str) -> str | None:
    text = record.get(name)
    return rules.check_school_code(text, field=field) if text else None


class RegionScope:
    """The region an import may touch: a regional admin's own (rows about another region are
    refused, each with its line) or every region (``None``: an operator, an admin of all)."""

    def __init__(self, region_code: str | None = None) -> None:
        self.region_code = region_code

    def check(self, region_code: str | None, *, field: str = "regionCode") -> None:
        if self.region_code is None or region_code == self.region_code:
            return
        where = f"региона {region_code}" if region_code else "неизвестного региона"
        raise DomainError(
            f"Строка касается {where}, а вы можете загружать данные только региона {self.region_code}",
            code="OUTSIDE_REGION",
            field=field,
        )


EVERY_REGION = RegionScope()


@dataclass(frozen=True)
class _Known:
    """What a chunk's rows refer to, as plain values (never ORM objects a rollback could expire)."""

    by_inn: dict[str, uuid.UUID] = field(default_factory=dict)
    by_code: dict[str, uuid.UUID] = field(default_factory=dict)
    regions: dict[uuid.UUID, str] = field(default_factory=dict)
    parties: dict[uuid.UUID, networks.JoiningParty] = field(default_factory=dict)
    """Without objects: each organization's archive date and identifiers (for joining networks)."""
    loaded: list[Organization] = field(default_factory=list)
    """Held so the session's (weak) identity map keeps them for the domain functions' lookups."""

    def find(self, inn: str | None, code: str | None) -> uuid.UUID | None:
        """The organization with this ИНН or code; a row naming two different ones is refused."""
        by_inn = self.by_inn.get(inn) if inn else None
        by_code = self.by_code.get(code) if code else None
        if by_inn and by_code and by_inn != by_code:
            raise DomainError(
                f"ИНН {inn} и код {code} принадлежат двум разным зарегистрированным организациям",
                code="IDENTIFIERS_OF_TWO_ORGANIZATIONS",
                field="schoolCode",
            )
        return by_inn or by_code

    def any_of(self, inn: str | None, code: str | None) -> uuid.UUID | None:
        """Like :meth:`find`, never refusing: for looking ahead, the row itself is refused later."""
        return (self.by_inn.get(inn) if inn else None) or (self.by_code.get(code) if code else None)


async def _organizations(
    session: AsyncSession,
    inns: set[str],
    codes: set[str],
    *,
    include_archived: bool = True,
    objects: bool = True,
) -> _Known:
    """One query for a chunk; with ``objects`` the rows also land in the session, so the domain
    functions that look an organization up by id find it there without another query; without,
    only the identifiers and regions are read, as plain values."""
    known = _Known()
    if not inns and not codes:
        return known
    conditions = []
    if inns:
        conditions.append(one_of(session, Organization.inn, sorted(inns)))
    if codes:
        conditions.append(one_of(session, Organization.school_code, sorted(codes)))
    columns = (
        Organization.id,
        Organization.inn,
        Organization.school_code,
        Organization.region_code,
        Organization.archived_at,
    )
    query = (select(Organization) if objects else select(*columns)).where(or_(*conditions))
    if not include_archived:
        query = query.where(Organization.archived_at.is_(None))
    if objects:
        known.loaded.extend((await session.scalars(query)).all())
        found = [(o.id, o.inn, o.school_code, o.region_code, o.archived_at) for o in known.loaded]
    else:
        found = [tuple(row) for row in (await session.execute(query)).all()]
    for ident, inn, school_code, region_code, archived_at in found:
        if not objects:
            known.parties[ident] = networks.JoiningParty(ident, archived_at, inn, school_code)
        known.regions[ident] = region_code
        if inn:
            known.by_inn[inn] = ident
        if school_code:
            known.by_code[school_code] = ident
    return known


# ---------------------------------------------------------------------------------------------
# organizations


@dataclass(frozen=True)
class OrganizationRow:
    """One organization as the file gives it; ``None`` means the file says nothing about it."""

    full_name: str
    short_name: str | None
    kind: str | None
    region: str | None
    municipality: str | None
    inn: str | None
    ogrn: str | None
    school_code: str | None
    address: str | None
    website: str | None
    email: str | None
    phone: str | None
    statuses: tuple[str, ...] = ()
    """School statuses (ШНОР, ШФНСУ, stable results) the school holds from ``status_since``."""
    status_since: date | None = None


class OrganizationImporter(RowImporter[OrganizationRow]):
    """Registers organizations not yet known and updates known ones, found by ИНН or code."""

    kind = ImportKind.organizations

    def __init__(self, *, today: date | None = None, scope: RegionScope = EVERY_REGION) -> None:
        self._today = today or date.today()
        self._scope = scope
        self._known = _Known()
        self._regions: dict[str, str] | None = None
        self._municipalities: dict[tuple[str, str], uuid.UUID] = {}

    def parse(self, record: dict[str, str]) -> OrganizationRow:
        inn = _inn(record, "inn", field="inn")
        code = _code(record, "school_code", field="schoolCode")
        if not inn and not code:
            raise DomainError(
                "В строке нужен ИНН или код школы, чтобы найти организацию",
                code="IDENTIFIER_REQUIRED",
                field="inn",
            )
        full_name = rules.check_name(record.get("full_name", ""), field="fullName", limit=500)
        kind = record.get("kind")
        ogrn = record.get("ogrn")
        since = record.get("status_since")
        return OrganizationRow(
            full_name=full_name,
            short_name=record.get("short_name"),
            kind=vocabulary_value(ORGANIZATION_KINDS, kind, field="kind") if kind else None,
            region=record.get("region_code"),
            municipality=record.get("municipality"),
            inn=inn,
            ogrn=rules.check_ogrn(digits(ogrn, width=13)) if ogrn else None,
            school_code=code,
            address=record.get("address"),
            website=record.get("website"),
            email=record.get("email"),
            phone=record.get("phone"),
            statuses=tuple(
                dict.fromkeys(
                    vocabulary_value(SCHOOL_STATUSES, word, field="status")
                    for word in split_list(record.get("statuses", ""))
                )
            ),
            status_since=parse_date(since, field="statusSince") if since else None,
        )

    def keys(self, value: OrganizationRow) -> Sequence[tuple[str, Hashable]]:
        keys: list[tuple[str, Hashable]] = []
        if value.inn:
            keys.append(("inn", value.inn))
        if value.school_code:
            keys.append(("school_code", value.school_code))
        return keys

    async def prepare(self, session: AsyncSession, rows: Sequence[OrganizationRow]) -> None:
        if self._regions is None:
            self._regions = {
                rules.fold(name): code
                for code, name in (await session.execute(select(Region.code, Region.name)))
            }
            for ident, region_code, name in await session.execute(
                select(Municipality.id, Municipality.region_code, Municipality.name)
            ):
                self._municipalities[reference.municipality_key(region_code, name)] = ident
        self._known = await _organizations(
            session, {r.inn for r in rows if r.inn}, {r.school_code for r in rows if r.school_code}
        )

    def _region_code(self, row: OrganizationRow) -> str:
        """Given as a code or a name; otherwise the tax region in the ИНН or the code's digits."""
        if row.region:
            text = row.region.strip()
            if text.isdigit():
                return rules.check_region_code(text.zfill(2))
            code = (self._regions or {}).get(rules.fold(text))
            if code is None:
                raise DomainError(
                    f"Неизвестный регион «{text}»: укажите его код, например 39",
                    code="REGION_UNKNOWN",
                    field="regionCode",
                )
            return code
        if row.inn:
            return row.inn[:2]
        assert row.school_code is not None
        return row.school_code[3:5]

    def _registration(self, value: OrganizationRow) -> RegisterOrganization:
        region_code = self._region_code(value)
        self._scope.check(region_code)
        return RegisterOrganization(
            full_name=value.full_name,
            short_name=value.short_name or _shortened(value.full_name),
            kind=value.kind or "school",
            region_code=region_code,
            municipality=value.municipality,
            inn=value.inn,
            ogrn=value.ogrn,
            school_code=value.school_code,
            address=value.address,
            website=value.website,
            email=value.email,
            phone=value.phone,
        )

    def _remember(self, ident: uuid.UUID, inn: str | None, code: str | None) -> None:
        # a later row of the same chunk can not name it again (duplicates are refused), but keep
        # the chunk's view true anyway
        if inn:
            self._known.by_inn[inn] = ident
        if code:
            self._known.by_code[code] = ident

    async def apply_many(self, session: AsyncSession, values: Sequence[OrganizationRow]) -> list[Outcome]:
        """A chunk at once: the new organizations registered together (the same rules, in bulk),
        the known ones updated one by one. A refusal raises: the engine then goes row by row."""
        new = [value for value in values if self._known.find(value.inn, value.school_code) is None]
        registered = await register_organizations(
            session,
            [self._registration(value) for value in new],
            unheld=True,  # prepare read every organization with the chunk's ИНН or codes: none of these
        )
        fresh = set()
        for value, organization in zip(new, registered, strict=True):
            self._remember(organization["id"], organization["inn"], organization["school_code"])
            await self._enter_statuses(session, organization["id"], value)
            fresh.add(id(value))
        return [
            Outcome.created if id(value) in fresh else await self.apply(session, value) for value in values
        ]

    async def apply(self, session: AsyncSession, value: OrganizationRow) -> Outcome:
        existing = self._known.find(value.inn, value.school_code)
        if existing is None:
            organization = await register_organization(session, self._registration(value))
            self._remember(organization.id, organization.inn, organization.school_code)
            await self._enter_statuses(session, organization.id, value)
            return Outcome.created
        current = await session.get(Organization, existing)
        assert current is not None
        self._scope.check(current.region_code)
        stamp = current.updated_at
        updated = await update_organization(
            session,
            UpdateOrganization(
                organization_id=existing,
                full_name=value.full_name,
                short_name=value.short_name,
                kind=value.kind,
                municipality_id=self._municipality_id(current, value.municipality),
                inn=value.inn,
                ogrn=value.ogrn,
                school_code=value.school_code,
                address=value.address,
                website=value.website,
                email=value.email,
                phone=value.phone,
            ),
        )
        entered = await self._enter_statuses(session, existing, value)
        return Outcome.unchanged if updated.updated_at == stamp and not entered else Outcome.updated

    async def _enter_statuses(
        self, session: AsyncSession, organization_id: uuid.UUID, value: OrganizationRow
    ) -> int:
        """Enter the statuses the school does not hold on that date yet; returns how many.

        A status that contradicts one held (low and stable results at once) is refused by the
        rule, and the row with it.
        """
        if not value.statuses:
            return 0
        on = value.status_since or self._today
        held = {s.value for s in await statuses.statuses_on(session, organization_id, on)}
        entered = 0
        for status in value.statuses:
            if status in held:
                continue
            await statuses.enter_status(
                session,
                statuses.EnterStatus(
                    organization_id=organization_id, status=status, entered_on=on, basis="импорт из файла"
                ),
            )
            entered += 1
        return entered

    def _municipality_id(self, organization: Organization, name: str | None) -> uuid.UUID | None:
        """A known municipality to place the organization in; ``None`` when nothing moves.

        An organization kept with only the name of a municipality the registry did not know yet
        is placed in it once that municipality has been loaded."""
        if not name:
            return None
        same = rules.fold(name) == rules.fold(organization.municipality or "")
        if same and organization.municipality_id is not None:
            return None
        ident = self._municipalities.get(reference.municipality_key(organization.region_code, name))
        if ident is None:
            if same:  # still not loaded: it stays where it is
                return None
            raise DomainError(
                f"Неизвестное муниципальное образование «{name}» в регионе {organization.region_code};"
                " сначала загрузите муниципальные образования региона"
                " (setka import FILE --kind municipalities)",
                code="MUNICIPALITY_NOT_FOUND",
                field="municipality",
            )
        return None if ident == organization.municipality_id else ident


def _shortened(full_name: str) -> str:
    return full_name if len(full_name) <= _SHORT_NAME_LIMIT else full_name[: _SHORT_NAME_LIMIT - 1] + "…"


# ---------------------------------------------------------------------------------------------
# memberships


@dataclass(frozen=True)
class MembershipRow:
    network: str
    organization_inn: str | None
    organization_code: str | None
    role: str
    joined_on: date | None
    left_on: date | None


class MembershipImporter(RowImporter[MembershipRow]):
    """Joins organizations to networks (found by name) in a role, or ends their membership.

    A row that matches a membership already recorded (same network, organization and role,
    and the same joining date when the file gives one) changes nothing unless it adds a date
    of leaving.
    """

    kind = ImportKind.memberships

    def __init__(self, *, today: date | None = None, scope: RegionScope = EVERY_REGION) -> None:
        self._today = today or date.today()
        self._scope = scope
        self._networks: dict[str, uuid.UUID] | None = None
        self._network_regions: dict[uuid.UUID, str] = {}
        self._known = _Known()
        self._folded: dict[str, str] = {}
        self._memberships: dict[tuple[uuid.UUID, uuid.UUID], list[Any]] = defaultdict(list)
        """The memberships recorded of a chunk's (network, organization) pairs, as plain rows."""

    def _fold(self, network: str) -> str:
        """A network's name as names are compared (a file names a few networks many times)."""
        folded = self._folded.get(network)
        if folded is None:
            folded = self._folded[network] = rules.fold(network)
        return folded

    def parse(self, record: dict[str, str]) -> MembershipRow:
        inn = _inn(record, "organization_inn", field="organizationInn")
        code = _code(record, "organization_code", field="organizationCode")
        if not inn and not code:
            raise DomainError(
                "В строке нужен ИНН или код организации", code="IDENTIFIER_REQUIRED", field="organizationInn"
            )
        joined = record.get("joined_on")
        left = record.get("left_on")
        return MembershipRow(
            network=rules.check_name(record.get("network", ""), field="network", limit=500),
            organization_inn=inn,
            organization_code=code,
            role=vocabulary_value(MEMBERSHIP_ROLES, record.get("role", ""), field="role"),
            joined_on=parse_date(joined, field="joinedOn") if joined else None,
            left_on=parse_date(left, field="leftOn") if left else None,
        )

    def keys(self, value: MembershipRow) -> Sequence[tuple[str, Hashable]]:
        who = value.organization_inn or value.organization_code
        return [("membership", f"{self._fold(value.network)} / {who} / {value.role} / {value.joined_on}")]

    async def prepare(self, session: AsyncSession, rows: Sequence[MembershipRow]) -> None:
        if self._networks is None:
            self._networks = {}
            for ident, name, region_code in await session.execute(
                select(Network.id, Network.name, Network.region_code)
            ):
                self._networks[rules.fold(name)] = ident
                self._network_regions[ident] = region_code
        self._known = await _organizations(
            session,
            {r.organization_inn for r in rows if r.organization_inn},
            {r.organization_code for r in rows if r.organization_code},
            objects=False,  # plain values, handed to join_networks (not read again)
        )

    async def _kept_memberships(self, session: AsyncSession, rows: Sequence[MembershipRow]) -> None:
        """The memberships the chunk's rows may be about, in one query, as plain rows."""
        self._memberships = defaultdict(list)
        network_ids = {(self._networks or {}).get(self._fold(r.network)) for r in rows} - {None}
        organization_ids = {self._known.any_of(r.organization_inn, r.organization_code) for r in rows} - {
            None
        }
        if not network_ids or not organization_ids:
            return
        query = (
            select(
                Membership.id,
                Membership.network_id,
                Membership.organization_id,
                Membership.role,
                Membership.joined_on,
                Membership.left_on,
            )
            .where(
                one_of(session, Membership.network_id, sorted(network_ids, key=str)),
                one_of(session, Membership.organization_id, sorted(organization_ids, key=str)),
            )
            .order_by(Membership.joined_on)
        )
        for membership in (await session.execute(query)).all():
            self._memberships[(membership.network_id, membership.organization_id)].append(membership)

    def _parties(self, value: MembershipRow) -> tuple[uuid.UUID, uuid.UUID]:
        """The network and the organization the row names, both in the region the import may touch."""
        network_id = (self._networks or {}).get(self._fold(value.network))
        if network_id is None:
            raise DomainError(
                f"Сети «{value.network}» нет; сначала создайте её", code="NETWORK_NOT_FOUND", field="network"
            )
        organization_id = self._known.find(value.organization_inn, value.organization_code)
        if organization_id is None:
            who = (
                f"ИНН {value.organization_inn}"
                if value.organization_inn
                else f"кодом {value.organization_code}"
            )
            raise DomainError(
                f"Нет организации с {who}; сначала загрузите организации",
                code="ORGANIZATION_NOT_FOUND",
                field="organization",
            )
        self._scope.check(self._network_regions.get(network_id), field="network")
        self._scope.check(self._known.regions.get(organization_id), field="organization")
        return network_id, organization_id

    async def apply_many(self, session: AsyncSession, values: Sequence[MembershipRow]) -> list[Outcome]:
        """A chunk at once: the new memberships joined together (the same rules, in bulk), the
        ones a row ends left one by one. A refusal raises: the engine then goes row by row, so
        each refused row is reported with its line. Rows about the same network and organization
        depend on each other's effect: such a chunk goes a row at a time."""
        await self._kept_memberships(session, values)
        parties = [self._parties(value) for value in values]
        if len(set(parties)) != len(parties):
            return [await self.apply(session, value) for value in values]
        outcomes: list[Outcome | None] = []
        joins: list[networks.JoinNetwork] = []
        for value, (network_id, organization_id) in zip(values, parties, strict=True):
            kept = self._memberships.get((network_id, organization_id), [])
            if self._same(value, kept):
                outcomes.append(await self._settle(session, value, kept))
                continue
            outcomes.append(None)
            joins.append(self._joining(value, network_id, organization_id))
        # what the chunk's reads found is handed over, not read again: a row that ends a
        # membership is about another pair than every join (the pairs of a chunk differ)
        known = networks.Parties(
            organizations={
                join.organization_id: self._known.parties.get(join.organization_id) for join in joins
            },
            held={
                pair: [(m.joined_on, m.left_on, m.role) for m in self._memberships.get(pair, [])]
                for pair in ((join.network_id, join.organization_id) for join in joins)
            },
        )
        await networks.join_networks(session, joins, parties=known)
        return [Outcome.created if outcome is None else outcome for outcome in outcomes]

    async def apply(self, session: AsyncSession, value: MembershipRow) -> Outcome:
        network_id, organization_id = self._parties(value)
        kept = await networks.memberships_in(session, network_id, organization_id)
        if self._same(value, kept):
            return await self._settle(session, value, kept)
        await networks.join_network(session, self._joining(value, network_id, organization_id))
        return Outcome.created

    @staticmethod
    def _same(value: MembershipRow, kept: Sequence[Membership]) -> list[Membership]:
        """The memberships recorded that the row is about: same role (and joining date, if given)."""
        return [
            m
            for m in kept
            if m.role == value.role and (value.joined_on is None or m.joined_on == value.joined_on)
        ]

    def _joining(
        self, value: MembershipRow, network_id: uuid.UUID, organization_id: uuid.UUID
    ) -> networks.JoinNetwork:
        return networks.JoinNetwork(
            network_id=network_id,
            organization_id=organization_id,
            role=value.role,
            joined_on=value.joined_on or self._today,
            left_on=value.left_on,
        )

    async def _settle(
        self, session: AsyncSession, value: MembershipRow, kept: Sequence[Membership]
    ) -> Outcome:
        """A row about a membership recorded: unchanged, or the membership ends on its date."""
        membership = self._same(value, kept)[-1]
        if value.left_on is None or value.left_on == membership.left_on:
            return Outcome.unchanged
        if membership.left_on is not None:
            raise DomainError(
                f"Участие уже завершилось {day(membership.left_on)}", code="MEMBERSHIP_ENDED", field="leftOn"
            )
        await networks.leave_network(session, membership.id, value.left_on)
        return Outcome.updated


# ---------------------------------------------------------------------------------------------
# educators


@dataclass(frozen=True)
class EducatorRow:
    last_name: str
    first_name: str
    middle_name: str | None
    position: str
    subjects: list[str] | None
    qualification_category: str | None
    external_id: str | None
    organization_inn: str | None
    organization_code: str | None
    snils: str | None = None
    """As the file gives it, checked (only its keyed hash is ever stored)."""

    @property
    def search(self) -> str:
        return rules.search_key(self.last_name, self.first_name, self.middle_name)


def _split_name(full_name: str) -> tuple[str, str, str | None]:
    """«Иванова Мария Петровна» → (last, first, middle); «… Гасан оглы» keeps the rest as middle."""
    parts = full_name.split()
    if len(parts) < 2:
        raise DomainError("В ФИО нужны хотя бы фамилия и имя", code="NAME_INCOMPLETE", field="fullName")
    return parts[0], parts[1], " ".join(parts[2:]) or None


class EducatorImporter(RowImporter[EducatorRow]):
    """Registers educators with their post, or updates them; found by their external id if the
    file has one, otherwise by the same full name among the people working at the organization.

    Without an external id a person working at two organizations becomes two records: nothing in
    such a file says they are one person.
    """

    kind = ImportKind.educators

    def __init__(self, *, scope: RegionScope = EVERY_REGION, snils_key: str | None = None) -> None:
        self._scope = scope
        self._snils_key = snils_key
        self._known = _Known()
        self._by_external: dict[str, uuid.UUID] = {}
        self._by_name: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
        self._posts: set[tuple[uuid.UUID, uuid.UUID]] = set()
        self._loaded: list[Educator] = []
        """Held so the session's (weak) identity map keeps them for the domain functions' lookups."""

    def parse(self, record: dict[str, str]) -> EducatorRow:
        inn = _inn(record, "organization_inn", field="organizationInn")
        code = _code(record, "organization_code", field="organizationCode")
        if not inn and not code:
            raise DomainError(
                "В строке нужен ИНН или код организации", code="IDENTIFIER_REQUIRED", field="organizationInn"
            )
        if record.get("full_name"):
            last, first, middle = _split_name(record["full_name"])
        else:
            last = record.get("last_name", "")
            first = record.get("first_name", "")
            middle = record.get("middle_name")
            if not last or not first:
                raise DomainError("Нужны фамилия и имя", code="NAME_INCOMPLETE", field="firstName")
        category = record.get("qualification_category")
        subjects = record.get("subjects")
        snils = digits(record["snils"], width=11) if record.get("snils") else None  # Excel drops a 0
        educators.snils_hash_of(snils, self._snils_key)  # a bad СНИЛС is refused with its line
        return EducatorRow(
            last_name=rules.check_name(last, field="lastName", limit=100),
            first_name=rules.check_name(first, field="firstName", limit=100),
            middle_name=rules.optional_text(middle, field="middleName", limit=100),
            position=rules.check_name(record.get("position") or "учитель", field="position", limit=200),
            subjects=rules.normalize_subjects(split_list(subjects)) if subjects else None,
            qualification_category=(
                vocabulary_value(QUALIFICATION_CATEGORIES, category, field="qualificationCategory")
                if category
                else None
            ),
            external_id=rules.optional_text(record.get("external_id"), field="externalId", limit=100),
            organization_inn=inn,
            organization_code=code,
            snils=snils,
        )

    def keys(self, value: EducatorRow) -> Sequence[tuple[str, Hashable]]:
        who = value.external_id or value.search
        where = value.organization_inn or value.organization_code
        return [("educator", f"{who} @ {where}")]

    async def prepare(self, session: AsyncSession, rows: Sequence[EducatorRow]) -> None:
        self._known = await _organizations(
            session,
            {r.organization_inn for r in rows if r.organization_inn},
            {r.organization_code for r in rows if r.organization_code},
            include_archived=False,
            objects=False,  # a new post reads its organization itself (the rows of a re-run add none)
        )
        self._by_external, self._by_name, self._posts, self._loaded = {}, {}, set(), []
        externals = {r.external_id for r in rows if r.external_id}
        if externals:
            self._loaded.extend(
                (
                    await session.scalars(
                        select(Educator).where(one_of(session, Educator.external_id, sorted(externals)))
                    )
                ).all()
            )
            self._by_external = {e.external_id: e.id for e in self._loaded if e.external_id}
        unnamed = {
            self._known.any_of(r.organization_inn, r.organization_code) for r in rows if not r.external_id
        } - {None}
        if unnamed:
            current = (
                select(Employment.organization_id, Educator)
                .join(Educator, Educator.id == Employment.educator_id)
                .where(
                    one_of(session, Employment.organization_id, sorted(unnamed, key=str)),
                    Employment.ended_on.is_(None),
                )
            )
            for organization_id, educator in (await session.execute(current)).all():
                self._loaded.append(educator)
                self._by_name.setdefault((organization_id, educator.search_text), educator.id)
        if self._loaded:
            posts = select(Employment.educator_id, Employment.organization_id).where(
                one_of(session, Employment.educator_id, sorted({e.id for e in self._loaded}, key=str)),
                Employment.ended_on.is_(None),
            )
            self._posts.update((e, o) for e, o in (await session.execute(posts)).all())

    def _organization_of(self, value: EducatorRow) -> uuid.UUID:
        """The active organization the row names, in the region the import may touch."""
        organization_id = self._known.find(value.organization_inn, value.organization_code)
        if organization_id is None:
            who = (
                f"ИНН {value.organization_inn}"
                if value.organization_inn
                else f"кодом {value.organization_code}"
            )
            raise DomainError(
                f"Нет действующей организации с {who}; сначала загрузите организации",
                code="ORGANIZATION_NOT_FOUND",
                field="organization",
            )
        self._scope.check(self._known.regions.get(organization_id), field="organization")
        return organization_id

    def _existing(self, value: EducatorRow, organization_id: uuid.UUID) -> uuid.UUID | None:
        if value.external_id:
            return self._by_external.get(value.external_id)
        return self._by_name.get((organization_id, value.search))

    def _registration(self, value: EducatorRow, organization_id: uuid.UUID) -> educators.RegisterEducator:
        return educators.RegisterEducator(
            last_name=value.last_name,
            first_name=value.first_name,
            middle_name=value.middle_name,
            qualification_category=value.qualification_category or "none",
            subjects=value.subjects or [],
            posts=[educators.Post(organization_id=organization_id, position=value.position)],
            external_id=value.external_id,
            snils=value.snils,
        )

    async def apply_many(self, session: AsyncSession, values: Sequence[EducatorRow]) -> list[Outcome]:
        """A chunk at once: the new educators registered together with their posts (the same
        rules, in bulk), the known ones updated one by one. A refusal raises: the engine then goes
        row by row, so each refused row is reported with its line."""
        places = [self._organization_of(value) for value in values]
        new = [
            (value, place)
            for value, place in zip(values, places, strict=True)
            if self._existing(value, place) is None
        ]
        registered = await educators.register_educators(
            session,
            [self._registration(value, place) for value, place in new],
            snils_key=self._snils_key,
            # the chunk's organizations as read (active ones only): not read again
            organizations={place: None for _, place in new},
            unheld=True,  # prepare read every educator with the chunk's codes: none of these
        )
        fresh = set()
        for (value, place), educator in zip(new, registered, strict=True):
            ident = educator["id"]
            assert isinstance(ident, uuid.UUID)
            if value.external_id:
                self._by_external[value.external_id] = ident
            self._posts.add((ident, place))
            fresh.add(id(value))
        return [
            Outcome.created if id(value) in fresh else await self.apply(session, value) for value in values
        ]

    async def apply(self, session: AsyncSession, value: EducatorRow) -> Outcome:
        organization_id = self._organization_of(value)
        existing = self._existing(value, organization_id)
        if existing is None:
            educator = await educators.register_educator(
                session, self._registration(value, organization_id), snils_key=self._snils_key
            )
            if value.external_id:
                self._by_external[value.external_id] = educator.id
            self._posts.add((educator.id, organization_id))
            return Outcome.created
        person = await session.get(Educator, existing)
        assert person is not None
        stamp = person.updated_at
        await educators.update_educator(
            session,
            educators.UpdateEducator(
                educator_id=existing,
                last_name=value.last_name,
                first_name=value.first_name,
                middle_name=value.middle_name,
                qualification_category=value.qualification_category,
                subjects=value.subjects,
                snils=value.snils,  # a row without one leaves the СНИЛС kept as it is
            ),
            snils_key=self._snils_key,
        )
        if (existing, organization_id) not in self._posts:
            await educators.employ(
                session, existing, educators.Post(organization_id=organization_id, position=value.position)
            )
            self._posts.add((existing, organization_id))
        return Outcome.unchanged if person.updated_at == stamp else Outcome.updated


# ---------------------------------------------------------------------------------------------
# municipalities (reference data)


@dataclass(frozen=True)
class MunicipalityRow:
    region_code: str | None
    region_name: str | None
    municipality: str
    oktmo: str | None


class MunicipalityImporter(RowImporter[MunicipalityRow]):
    """Loads a region's municipalities (and the region itself when it is new): the reference data
    organizations are placed in and municipal coordinators are scoped to. A municipality already
    known under the same name (case and spacing aside) is left as it is, unless the row gives it
    an ОКТМО code it lacks; nothing is ever removed or renamed."""

    kind = ImportKind.municipalities

    def __init__(self, *, scope: RegionScope = EVERY_REGION) -> None:
        self._scope = scope
        self._region_names: dict[str, str] = {}
        self._region_codes: set[str] = set()
        """The regions the registry knew when the chunk began (read by :meth:`prepare`)."""
        self._known: dict[tuple[str, str], tuple[uuid.UUID, str | None]] = {}
        self._read_regions: set[str] = set()
        """The municipalities of the regions read so far in this run, with those the run added:
        each region is read once, not once per chunk (the rows of one file are all different)."""

    def parse(self, record: dict[str, str]) -> MunicipalityRow:
        code = record.get("region_code")
        name = record.get("region_name")
        if name and not code and name.strip().isdigit():  # a «Регион» column holding codes
            code, name = name, None
        oktmo = record.get("oktmo")
        return MunicipalityRow(
            region_code=rules.check_region_code(digits(code, width=2)) if code else None,
            region_name=rules.check_name(name, field="regionName", limit=200) if name else None,
            municipality=rules.check_name(record.get("municipality", ""), field="municipality", limit=200),
            oktmo=reference.check_oktmo(oktmo) if oktmo else None,
        )

    def keys(self, value: MunicipalityRow) -> Sequence[tuple[str, Hashable]]:
        region = value.region_code or rules.fold(value.region_name or "")
        return [("municipality", f"{region} / {rules.fold(value.municipality)}")]

    async def prepare(self, session: AsyncSession, rows: Sequence[MunicipalityRow]) -> None:
        known = (await session.execute(select(Region.code, Region.name))).all()
        self._region_names = {rules.fold(name): code for code, name in known}
        self._region_codes = {code for code, _ in known}

    def _region_code(self, value: MunicipalityRow) -> str:
        """The row's region, given by code or by a known name, in the region the import may touch."""
        code = value.region_code
        if code is None:
            code = self._region_names.get(rules.fold(value.region_name or ""))
            if code is None:
                raise DomainError(
                    f"Неизвестный регион «{value.region_name}»: укажите его код в столбце «Код региона»",
                    code="REGION_UNKNOWN",
                    field="regionCode",
                )
        self._scope.check(code)
        return code

    async def apply_many(self, session: AsyncSession, values: Sequence[MunicipalityRow]) -> list[Outcome]:
        """A chunk at once: the municipalities of the chunk's regions read in one query, the new
        ones added in one statement; a region new to the registry and an ОКТМО code a known one
        gains go one by one. A refusal raises: the engine then goes row by row."""
        codes = [self._region_code(value) for value in values]
        names = [rules.check_name(value.municipality, field="municipality", limit=200) for value in values]
        unread = set(codes) - self._read_regions
        self._known.update(await reference.municipality_codes(session, unread))
        self._read_regions |= unread
        known = dict(self._known)  # this chunk's additions kept only if the whole chunk goes in
        keys = [reference.municipality_key(code, name) for code, name in zip(codes, names, strict=True)]
        if len(set(keys)) != len(keys):  # two spellings of one municipality: each row sees the other
            return [await self.apply(session, value) for value in values]
        outcomes: list[Outcome] = []
        added: list[dict[str, Any]] = []
        regions = set(self._region_codes)  # known to be there: only a new region is written
        for value, code, name, key in zip(values, codes, names, keys, strict=True):
            region_added = code not in regions and await reference.ensure_region(
                session, code, value.region_name
            )
            regions.add(code)
            if key in known:
                ident, oktmo = known[key]
                change = reference.Change.unchanged
                if value.oktmo and value.oktmo != oktmo:
                    found = await session.get(Municipality, ident)
                    assert found is not None
                    change = reference.gain_oktmo(found, value.oktmo)
                    known[key] = (ident, value.oktmo)
            else:
                ident = uuid.uuid4()
                added.append({"id": ident, "region_code": code, "name": name, "oktmo": value.oktmo})
                known[key] = (ident, value.oktmo)
                change = reference.Change.created
            outcomes.append(_municipality_outcome(change, region_added=region_added))
        await session.flush()
        await insert_many(session, Municipality.__table__, added)
        self._known = known
        return outcomes

    async def apply(self, session: AsyncSession, value: MunicipalityRow) -> Outcome:
        code = self._region_code(value)
        region_added = await reference.ensure_region(session, code, value.region_name)
        added = await reference.ensure_municipality(session, code, value.municipality, oktmo=value.oktmo)
        return _municipality_outcome(added, region_added=region_added)


def _municipality_outcome(added: reference.Change, *, region_added: bool) -> Outcome:
    if added is reference.Change.created:
        return Outcome.created
    if added is reference.Change.updated or region_added:
        return Outcome.updated
    return Outcome.unchanged


def importer_for(
    kind: ImportKind, *, scope: RegionScope = EVERY_REGION, snils_key: str | None = None
) -> RowImporter[Any]:
    """A fresh importer (its caches belong to one run) that touches only ``scope``'s region;
    ``snils_key`` hashes the educators' СНИЛС (SNILS_HMAC_KEY)."""
    if kind == ImportKind.organizations:
        return OrganizationImporter(scope=scope)
    if kind == ImportKind.educators:
        return EducatorImporter(scope=scope, snils_key=snils_key)
    if kind == ImportKind.municipalities:
        return MunicipalityImporter(scope=scope)
    return MembershipImporter(scope=scope)
