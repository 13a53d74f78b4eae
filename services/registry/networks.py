"""Networks, their members (участники сети) and centres, and their interaction groups."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from setka_contracts.registry import (
    CentreDesignated,
    InteractionGroupChanged,
    InteractionGroupFormed,
    MemberJoined,
    MemberLeft,
    MemberRole,
    NetworkClosed,
    NetworkCreated,
    NetworkLevel,
    NetworkStatus,
    NetworkUpdated,
    OrganizationKind,
    SchoolStatus,
)
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from setka_runtime.russian import day
from setka_runtime.sql import one_of
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import lookups, reference, rules, statuses
from .bulk import insert_while_building
from .models import (
    Employment,
    InteractionGroup,
    InteractionGroupMember,
    Membership,
    Network,
    Organization,
)
from .paging import Page, fetch_page

SOURCE = "/setka/registry"

SUPPORTED_STATUSES = frozenset({SchoolStatus.low_results, SchoolStatus.adverse_social_conditions})


@dataclass(frozen=True)
class CreateNetwork:
    name: str
    level: str
    region_code: str
    governing_body_id: uuid.UUID
    started_on: date
    municipality_id: uuid.UUID | None = None
    coordinator_id: uuid.UUID | None = None
    ended_on: date | None = None


async def create_network(session: AsyncSession, command: CreateNetwork) -> Network:
    """Set up a network under an education authority (its governing body)."""
    name = rules.check_name(command.name, field="name", limit=500)
    level = rules.check_choice(command.level, NetworkLevel, field="level")
    region_code = rules.check_region_code(command.region_code)
    rules.check_period(command.started_on, command.ended_on, field="endedOn")
    municipality = await reference.find_municipality(
        session, region_code=region_code, name=None, municipality_id=command.municipality_id
    )
    if level == NetworkLevel.municipal and municipality is None:
        raise DomainError(
            "Укажите муниципальное образование муниципальной сети",
            code="MUNICIPALITY_REQUIRED",
            field="municipalityId",
        )
    governing = await _governing_body(session, command.governing_body_id, region_code)
    if command.coordinator_id is not None:
        await lookups.organization(session, command.coordinator_id, field="coordinatorId")
    network = Network(
        name=name,
        level=level.value,
        region_code=region_code,
        municipality_id=municipality.id if municipality else None,
        governing_body_id=governing.id,
        coordinator_id=command.coordinator_id,
        started_on=command.started_on,
        ended_on=command.ended_on,
        status=NetworkStatus.active.value,
        search_text=rules.search_key(name),
    )
    session.add(network)
    await session.flush()
    await outbox.record(
        session,
        NetworkCreated(
            network_id=network.id,
            name=network.name,
            level=level,
            region_code=network.region_code,
            municipality_id=network.municipality_id,
            governing_body_id=network.governing_body_id,
            coordinator_id=network.coordinator_id,
            started_on=network.started_on,
            ended_on=network.ended_on,
        ),
        source=SOURCE,
    )
    return network


async def _governing_body(session: AsyncSession, ident: uuid.UUID, region_code: str) -> Organization:
    """A network's governing body: an active education authority of the network's region."""
    governing = await lookups.organization(session, ident, field="governingBodyId")
    if governing.kind != OrganizationKind.education_authority:
        raise DomainError(
            "Высший орган управления сети — орган управления образованием (управление образования,"
            " министерство)",
            code="GOVERNING_BODY_NOT_AUTHORITY",
            field="governingBodyId",
        )
    if governing.region_code != region_code:
        raise DomainError(
            "Орган управления — из другого региона",
            code="GOVERNING_BODY_IN_ANOTHER_REGION",
            field="governingBodyId",
        )
    return governing


@dataclass(frozen=True)
class UpdateNetwork:
    """A correction of a network: only the fields given change. Its region and dates stay (a
    network of another region is another network; it ends by being closed)."""

    network_id: uuid.UUID
    name: str | None = None
    level: str | None = None
    municipality_id: uuid.UUID | None = None
    """The network's municipality; a municipal network must have one, another level has none."""
    governing_body_id: uuid.UUID | None = None
    coordinator_id: uuid.UUID | None = None
    remove_coordinator: bool = False
    """The network has no coordinator organization from now on."""


CORRECTED = ("name", "level", "municipality_id", "governing_body_id", "coordinator_id")
"""The fields of a network a correction may change, as ``network.updated`` names them."""


def _state(network: Network) -> dict[str, object]:
    return {name: getattr(network, name) for name in CORRECTED}


async def update_network(session: AsyncSession, command: UpdateNetwork) -> Network:
    """Correct an active network's name, level, municipality, governing body or coordinator; records
    ``network.updated`` with the whole new state and the next version if anything changed (a
    correction that changes nothing records nothing, as for an organization).

    The rules are those of its creation: a municipal network has a municipality of its region (a
    network of another level has none, so a change of level away from municipal drops it); the
    governing body is an active education authority of the region; the coordinator an active
    organization."""
    network = await _active_network(session, command.network_id, lock=True)
    before = _state(network)
    if command.name is not None:
        network.name = rules.check_name(command.name, field="name", limit=500)
    level = NetworkLevel(network.level)
    if command.level is not None:
        level = rules.check_choice(command.level, NetworkLevel, field="level")
    if command.municipality_id is not None:
        if level != NetworkLevel.municipal:
            raise DomainError(
                "У межмуниципальной и региональной сети нет одного муниципального образования",
                code="MUNICIPALITY_NOT_FOR_LEVEL",
                field="municipalityId",
            )
        municipality = await reference.find_municipality(
            session, region_code=network.region_code, name=None, municipality_id=command.municipality_id
        )
        network.municipality_id = municipality.id if municipality else None
    elif level != NetworkLevel(network.level) and level != NetworkLevel.municipal:
        network.municipality_id = None
    if level == NetworkLevel.municipal and network.municipality_id is None:
        raise DomainError(
            "Укажите муниципальное образование муниципальной сети",
            code="MUNICIPALITY_REQUIRED",
            field="municipalityId",
        )
    network.level = level.value
    if command.governing_body_id is not None:
        network.governing_body_id = (
            await _governing_body(session, command.governing_body_id, network.region_code)
        ).id
    if command.remove_coordinator and command.coordinator_id is not None:
        raise DomainError(
            "Укажите нового координатора или снимите прежнего, но не то и другое сразу",
            code="COORDINATOR_CONFLICT",
            field="coordinatorId",
        )
    if command.coordinator_id is not None:
        network.coordinator_id = (
            await lookups.organization(session, command.coordinator_id, field="coordinatorId")
        ).id
    elif command.remove_coordinator:
        network.coordinator_id = None
    after = _state(network)
    changed = [name for name in CORRECTED if after[name] != before[name]]
    if not changed:
        return network
    network.search_text = rules.search_key(network.name)
    network.version += 1
    network.updated_at = datetime.now(UTC)
    await session.flush()
    await outbox.record(
        session,
        NetworkUpdated(
            network_id=network.id,
            version=network.version,
            name=network.name,
            level=level,
            region_code=network.region_code,
            municipality_id=network.municipality_id,
            governing_body_id=network.governing_body_id,
            coordinator_id=network.coordinator_id,
            started_on=network.started_on,
            ended_on=network.ended_on,
            changed=changed,
            updated_at=network.updated_at,
        ),
        source=SOURCE,
    )
    return network


async def _active_network(session: AsyncSession, network_id: uuid.UUID, *, lock: bool = False) -> Network:
    network = await lookups.network(session, network_id, lock=lock)
    if network.status != NetworkStatus.active:
        raise DomainError("Сеть закрыта", code="NETWORK_CLOSED", field="networkId")
    return network


async def close_network(session: AsyncSession, network_id: uuid.UUID, ended_on: date) -> Network:
    """End a network on a date; its open memberships end with it."""
    network = await _active_network(session, network_id, lock=True)
    rules.check_period(network.started_on, ended_on, field="endedOn")
    open_rows = [m for m in await memberships_in(session, network.id) if m.left_on is None]
    if any(m.joined_on >= ended_on for m in open_rows):
        raise DomainError(
            "Некоторые участники вступили в сеть в этот день или позже",
            code="MEMBERS_JOINED_LATER",
            field="endedOn",
        )
    for membership in open_rows:
        await _end(session, membership, ended_on)
    network.ended_on = ended_on
    network.status = NetworkStatus.closed.value
    network.version += 1
    await session.flush()
    await outbox.record(
        session,
        NetworkClosed(network_id=network.id, name=network.name, ended_on=ended_on, version=network.version),
        source=SOURCE,
    )
    return network


async def memberships_in(
    session: AsyncSession, network_id: uuid.UUID, organization_id: uuid.UUID | None = None
) -> list[Membership]:
    query = select(Membership).where(Membership.network_id == network_id)
    if organization_id is not None:
        query = query.where(Membership.organization_id == organization_id)
    return list((await session.scalars(query.order_by(Membership.joined_on))).all())


async def check_role_allowed(
    session: AsyncSession, organization: Organization, role: MemberRole, on: date
) -> None:
    """A centre needs stable results on that date; a supported school ШНОР or ШФНСУ."""
    if role in (MemberRole.centre, MemberRole.supported):
        _role_allowed(role, await statuses.statuses_on(session, organization.id, on), on)


def _role_allowed(role: MemberRole, held: Sequence[SchoolStatus], on: date) -> None:
    """:func:`check_role_allowed` with the statuses the organization holds on that date."""
    if role == MemberRole.centre:
        if SchoolStatus.stable_results not in held:
            raise DomainError(
                f"Центром может стать только школа со стабильными результатами на {day(on)}",
                code="CENTRE_NEEDS_STABLE_RESULTS",
                field="role",
            )
    elif role == MemberRole.supported:
        if not SUPPORTED_STATUSES & set(held):
            raise DomainError(
                f"Сопровождаемая школа должна быть ШНОР или ШФНСУ на {day(on)}",
                code="SUPPORTED_NEEDS_STATUS",
                field="role",
            )


@dataclass(frozen=True)
class JoinNetwork:
    network_id: uuid.UUID
    organization_id: uuid.UUID
    role: str
    joined_on: date
    left_on: date | None = None
    """Given for a membership that is already over (an import of history)."""


async def join_network(session: AsyncSession, command: JoinNetwork) -> Membership:
    """An organization joins a network in a role; a centre is also designated as such."""
    network = await _active_network(session, command.network_id)
    organization = await lookups.organization(session, command.organization_id)
    role = rules.check_choice(command.role, MemberRole, field="role")
    rules.check_period(command.joined_on, command.left_on, field="leftOn")
    if command.joined_on < network.started_on or (
        network.ended_on is not None and command.joined_on >= network.ended_on
    ):
        raise DomainError("Сеть в этот день не действует", code="NETWORK_NOT_RUNNING", field="joinedOn")
    await check_role_allowed(session, organization, role, command.joined_on)
    for other in await memberships_in(session, network.id, organization.id):
        if rules.overlaps(command.joined_on, command.left_on, other.joined_on, other.left_on):
            raise DomainError(
                f"Организация уже участвует в сети ({rules.role_name(other.role)}) с {day(other.joined_on)}",
                code="ALREADY_MEMBER",
                field="joinedOn",
            )
    membership = Membership(
        network_id=network.id,
        organization_id=organization.id,
        role=role.value,
        joined_on=command.joined_on,
    )
    session.add(membership)
    await session.flush()
    await outbox.record(
        session,
        MemberJoined(
            network_id=network.id,
            membership_id=membership.id,
            organization_id=organization.id,
            inn=organization.inn,
            school_code=organization.school_code,
            role=role,
            joined_on=membership.joined_on,
        ),
        source=SOURCE,
    )
    if role == MemberRole.centre:
        await outbox.record(
            session,
            CentreDesignated(
                network_id=network.id,
                membership_id=membership.id,
                organization_id=organization.id,
                inn=organization.inn,
                designated_on=membership.joined_on,
            ),
            source=SOURCE,
        )
    if command.left_on is not None:
        await _end(session, membership, command.left_on, organization)
    return membership


class JoiningParty(NamedTuple):
    """What :func:`join_networks` needs of an organization it joins (plain values)."""

    id: uuid.UUID
    archived_at: datetime | None
    inn: str | None
    school_code: str | None


@dataclass(frozen=True)
class Parties:
    """What :func:`join_networks` reads about its commands' organizations and memberships, given
    by a caller that has read it in the same transaction already (an import's chunk): every
    organization the commands name (``None`` for one that does not exist) and every membership
    recorded of each (network, organization) pair they name, as (joined on, left on, role)."""

    organizations: dict[uuid.UUID, JoiningParty | None]
    held: dict[tuple[uuid.UUID, uuid.UUID], list[tuple[date, date | None, str]]]


async def join_networks(
    session: AsyncSession, commands: Sequence[JoinNetwork], *, parties: Parties | None = None
) -> list[uuid.UUID]:
    """Many joins by the rules of :func:`join_network`, reading and writing in bulk (an import's
    chunk), with the same events (``member.joined``; ``centre.designated`` for a centre;
    ``member.left`` for a membership already over). The first command a rule refuses raises its
    :class:`DomainError` and nothing is written: the caller then joins them one by one. Returns
    the memberships' ids. ``parties``: the organizations and memberships, when the caller has
    read them in this transaction already (not read again)."""
    if not commands:
        return []
    network_ids = sorted({lookups.as_uuid(c.network_id, field="networkId") for c in commands}, key=str)
    organization_ids = {lookups.as_uuid(c.organization_id, field="organizationId") for c in commands}
    found_networks = {
        n.id: n
        for n in (await session.scalars(select(Network).where(one_of(session, Network.id, network_ids))))
    }
    found_organizations: dict[uuid.UUID, Any]
    if parties is not None:
        found_organizations = {ident: party for ident, party in parties.organizations.items() if party}
    else:
        found_organizations = {  # plain values: what the rules and the events need, no objects to build
            ident: JoiningParty(ident, archived_at, inn, school_code)
            for ident, archived_at, inn, school_code in await session.execute(
                select(
                    Organization.id, Organization.archived_at, Organization.inn, Organization.school_code
                ).where(one_of(session, Organization.id, sorted(organization_ids, key=str)))
            )
        }
    checked_roles: dict[str, MemberRole] = {}  # a chunk names a few roles many times
    for command in commands:
        if command.role not in checked_roles:
            checked_roles[command.role] = rules.check_choice(command.role, MemberRole, field="role")
    roles = [checked_roles[c.role] for c in commands]
    checked = sorted(
        {c.organization_id for c, role in zip(commands, roles, strict=True) if role != MemberRole.partner},
        key=str,
    )
    histories = await statuses.histories(session, checked) if checked else {}
    held: dict[tuple[uuid.UUID, uuid.UUID], list[tuple[date, date | None, str]]] = defaultdict(list)
    if parties is not None:
        held.update((pair, list(kept)) for pair, kept in parties.held.items())
    else:
        kept = select(
            Membership.network_id,
            Membership.organization_id,
            Membership.joined_on,
            Membership.left_on,
            Membership.role,
        ).where(
            one_of(session, Membership.network_id, network_ids),
            one_of(session, Membership.organization_id, sorted(organization_ids, key=str)),
        )
        for network_id, organization_id, joined_on, left_on, role in (await session.execute(kept)).all():
            held[(network_id, organization_id)].append((joined_on, left_on, role))
    rows: list[dict[str, object]] = []
    joined: list[tuple[JoinNetwork, MemberRole, Any, uuid.UUID, uuid.UUID]] = []
    for command, role in zip(commands, roles, strict=True):
        network = found_networks.get(command.network_id)
        if network is None:
            raise DomainError("Такой сети нет", code="NETWORK_NOT_FOUND", field="networkId")
        if network.status != NetworkStatus.active:
            raise DomainError("Сеть закрыта", code="NETWORK_CLOSED", field="networkId")
        organization = found_organizations.get(command.organization_id)
        if organization is None:
            raise DomainError("Такой организации нет", code="ORGANIZATION_NOT_FOUND", field="organizationId")
        if organization.archived_at is not None:
            raise DomainError("Организация в архиве", code="ORGANIZATION_ARCHIVED", field="organizationId")
        rules.check_period(command.joined_on, command.left_on, field="leftOn")
        if command.joined_on < network.started_on or (
            network.ended_on is not None and command.joined_on >= network.ended_on
        ):
            raise DomainError("Сеть в этот день не действует", code="NETWORK_NOT_RUNNING", field="joinedOn")
        if role != MemberRole.partner:
            on = command.joined_on
            _role_allowed(
                role, rules.statuses_on(statuses.periods(histories.get(organization.id, [])), on), on
            )
        pair = (network.id, organization.id)
        recorded = held[pair]
        for joined_on, left_on, other_role in sorted(recorded, key=lambda m: m[0]) if recorded else ():
            if rules.overlaps(command.joined_on, command.left_on, joined_on, left_on):
                raise DomainError(
                    f"Организация уже участвует в сети ({rules.role_name(other_role)}) с {day(joined_on)}",
                    code="ALREADY_MEMBER",
                    field="joinedOn",
                )
        held[pair].append((command.joined_on, command.left_on, role.value))
        membership_id = uuid.uuid4()
        rows.append(
            {
                "id": membership_id,
                "network_id": network.id,
                "organization_id": organization.id,
                "role": role.value,
                "joined_on": command.joined_on,
                "left_on": command.left_on,
            }
        )
        joined.append((command, role, organization, network.id, membership_id))

    def events_of() -> Iterator[Any]:
        for command, role, organization, network_id, membership_id in joined:
            who = {
                "network_id": network_id,
                "membership_id": membership_id,
                "organization_id": organization.id,
            }
            yield MemberJoined(
                **who,
                inn=organization.inn,
                school_code=organization.school_code,
                role=role,
                joined_on=command.joined_on,
            )
            if role == MemberRole.centre:
                yield CentreDesignated(**who, inn=organization.inn, designated_on=command.joined_on)
            if command.left_on is not None:
                yield MemberLeft(
                    **who,
                    inn=organization.inn,
                    school_code=organization.school_code,
                    role=role,
                    joined_on=command.joined_on,
                    left_on=command.left_on,
                )

    events = await insert_while_building(session, [(Membership.__table__, rows)], events_of())
    await outbox.record_many(session, events, source=SOURCE)
    return [row["id"] for row in rows]  # type: ignore[misc]


async def _end(
    session: AsyncSession, membership: Membership, left_on: date, organization: Organization | None = None
) -> None:
    organization = organization or await lookups.organization(
        session, membership.organization_id, active=False
    )
    membership.left_on = left_on
    await session.flush()
    await outbox.record(
        session,
        MemberLeft(
            network_id=membership.network_id,
            membership_id=membership.id,
            organization_id=membership.organization_id,
            inn=organization.inn,
            school_code=organization.school_code,
            role=MemberRole(membership.role),
            joined_on=membership.joined_on,
            left_on=left_on,
        ),
        source=SOURCE,
    )


async def leave_network(session: AsyncSession, membership_id: uuid.UUID, left_on: date) -> Membership:
    """End a membership: ``left_on`` is the first day the organization is no longer a member."""
    membership = await session.get(Membership, lookups.as_uuid(membership_id, field="membershipId"))
    if membership is None:
        raise DomainError("Такого участия в сети нет", code="MEMBERSHIP_NOT_FOUND", field="membershipId")
    if membership.left_on is not None:
        raise DomainError("Участие уже завершено", code="MEMBERSHIP_ENDED", field="membershipId")
    rules.check_period(membership.joined_on, left_on, field="leftOn")
    await _end(session, membership, left_on)
    return membership


async def designate_centre(
    session: AsyncSession, network_id: uuid.UUID, organization_id: uuid.UUID, on: date
) -> Membership:
    """Make a member (or a newcomer) the network's centre from a date; its earlier role ends then."""
    network = await _active_network(session, network_id)
    organization = await lookups.organization(session, organization_id)
    await check_role_allowed(session, organization, MemberRole.centre, on)
    for other in await memberships_in(session, network.id, organization.id):
        if not rules.overlaps(on, None, other.joined_on, other.left_on):
            continue
        if other.role == MemberRole.centre:
            raise DomainError(
                "Организация уже центр этой сети", code="ALREADY_CENTRE", field="organizationId"
            )
        if other.joined_on >= on or other.left_on is not None:
            raise DomainError(
                f"Участие организации с {day(other.joined_on)} пересекается с этой датой",
                code="MEMBERSHIP_OVERLAPS",
                field="on",
            )
        await _end(session, other, on, organization)
    return await join_network(
        session,
        JoinNetwork(network_id=network.id, organization_id=organization.id, role="centre", joined_on=on),
    )


async def end_memberships_of(session: AsyncSession, organization: Organization, on: date) -> None:
    """An archived organization leaves every network it is still in."""
    rows = await session.scalars(
        select(Membership).where(Membership.organization_id == organization.id, Membership.left_on.is_(None))
    )
    for membership in list(rows.all()):
        await _end(session, membership, max(on, membership.joined_on + timedelta(days=1)), organization)


@dataclass(frozen=True)
class NetworkFilter:
    region_code: str | None = None
    level: str | None = None
    status: str | None = None
    organization_id: uuid.UUID | None = None
    """Networks the organization is a member of (on ``on``, or ever if ``on`` is not given)."""
    on: date | None = None
    search: str | None = None


async def list_networks(
    session: AsyncSession, criteria: NetworkFilter, *, first: int, after: str | None
) -> Page[Network]:
    query = select(Network)
    if criteria.region_code:
        query = query.where(Network.region_code == criteria.region_code)
    if criteria.level:
        query = query.where(Network.level == criteria.level)
    if criteria.status:
        query = query.where(Network.status == criteria.status)
    if criteria.organization_id:
        condition = [
            Membership.network_id == Network.id,
            Membership.organization_id == criteria.organization_id,
        ]
        if criteria.on:
            condition += [
                Membership.joined_on <= criteria.on,
                (Membership.left_on.is_(None)) | (Membership.left_on > criteria.on),
            ]
        query = query.where(exists().where(*condition))
    query = rules.matching(query, Network.search_text, criteria.search)
    return await fetch_page(session, query, order=[Network.name, Network.id], first=first, after=after)


@dataclass(frozen=True)
class MembershipFilter:
    network_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    role: str | None = None
    on: date | None = None
    """Only memberships in force on that date; every one, past and present, if not given."""


async def list_memberships(
    session: AsyncSession, criteria: MembershipFilter, *, first: int, after: str | None
) -> Page[Membership]:
    query = select(Membership)
    if criteria.network_id:
        query = query.where(Membership.network_id == criteria.network_id)
    if criteria.organization_id:
        query = query.where(Membership.organization_id == criteria.organization_id)
    if criteria.role:
        query = query.where(Membership.role == criteria.role)
    if criteria.on:
        query = query.where(
            Membership.joined_on <= criteria.on,
            (Membership.left_on.is_(None)) | (Membership.left_on > criteria.on),
        )
    return await fetch_page(
        session, query, order=[Membership.joined_on, Membership.id], first=first, after=after
    )


async def memberships_by_network(
    session: AsyncSession, network_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Membership]]:
    """Every membership of many networks in one query (for loaders), in joining order."""
    query = (
        select(Membership)
        .where(Membership.network_id.in_(network_ids))
        .order_by(Membership.joined_on, Membership.id)
    )
    result: dict[uuid.UUID, list[Membership]] = defaultdict(list)
    for row in (await session.scalars(query)).all():
        result[row.network_id].append(row)
    return result


async def memberships_by_organization(
    session: AsyncSession, organization_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Membership]]:
    query = (
        select(Membership)
        .where(Membership.organization_id.in_(organization_ids))
        .order_by(Membership.joined_on, Membership.id)
    )
    result: dict[uuid.UUID, list[Membership]] = defaultdict(list)
    for row in (await session.scalars(query)).all():
        result[row.organization_id].append(row)
    return result


async def _is_member_on(
    session: AsyncSession, network_id: uuid.UUID, organization_id: uuid.UUID, on: date
) -> bool:
    return any(
        rules.holds_on(m.joined_on, m.left_on, on)
        for m in await memberships_in(session, network_id, organization_id)
    )


@dataclass(frozen=True)
class FormInteractionGroup:
    network_id: uuid.UUID
    name: str
    purpose: str
    educator_ids: list[uuid.UUID] = field(default_factory=list)
    organization_ids: list[uuid.UUID] = field(default_factory=list)


async def _check_group_members(
    session: AsyncSession, network: Network, educator_ids: list[uuid.UUID], organization_ids: list[uuid.UUID]
) -> None:
    """Organizations must be members of the network today; educators must work at one of them."""
    today = date.today()
    for organization_id in organization_ids:
        await lookups.organization(session, organization_id, field="organizationIds")
        if not await _is_member_on(session, network.id, organization_id, today):
            raise DomainError(
                "Организация группы не участвует в сети",
                code="GROUP_ORGANIZATION_NOT_MEMBER",
                field="organizationIds",
            )
    for educator_id in educator_ids:
        await lookups.educator(session, educator_id, field="educatorIds")
        works_at_member = await session.scalar(
            select(
                exists().where(
                    Employment.educator_id == educator_id,
                    (Employment.ended_on.is_(None)) | (Employment.ended_on > today),
                    exists().where(
                        Membership.organization_id == Employment.organization_id,
                        Membership.network_id == network.id,
                        Membership.joined_on <= today,
                        (Membership.left_on.is_(None)) | (Membership.left_on > today),
                    ),
                )
            )
        )
        if not works_at_member:
            raise DomainError(
                "Педагог группы не работает в организации — участнице сети",
                code="GROUP_EDUCATOR_NOT_AT_MEMBER",
                field="educatorIds",
            )


async def form_interaction_group(session: AsyncSession, command: FormInteractionGroup) -> InteractionGroup:
    """Form a group of interaction (РМО, творческая группа) of educators and organizations."""
    network = await _active_network(session, command.network_id)
    educator_ids = list(dict.fromkeys(command.educator_ids))
    organization_ids = list(dict.fromkeys(command.organization_ids))
    if not educator_ids and not organization_ids:
        raise DomainError("В группе нужен хотя бы один участник", code="GROUP_EMPTY", field="educatorIds")
    group = InteractionGroup(
        network_id=network.id,
        name=rules.check_name(command.name, field="name", limit=300),
        purpose=rules.check_name(command.purpose, field="purpose", limit=2000),
    )
    await _check_group_members(session, network, educator_ids, organization_ids)
    session.add(group)
    await session.flush()
    session.add_all(InteractionGroupMember(group_id=group.id, educator_id=e) for e in educator_ids)
    session.add_all(InteractionGroupMember(group_id=group.id, organization_id=o) for o in organization_ids)
    await session.flush()
    await outbox.record(
        session,
        InteractionGroupFormed(
            group_id=group.id,
            network_id=network.id,
            name=group.name,
            purpose=group.purpose,
            educator_ids=educator_ids,
            organization_ids=organization_ids,
        ),
        source=SOURCE,
    )
    return group


async def group_members(
    session: AsyncSession, group_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[InteractionGroupMember]]:
    rows = await session.scalars(
        select(InteractionGroupMember).where(InteractionGroupMember.group_id.in_(group_ids))
    )
    result: dict[uuid.UUID, list[InteractionGroupMember]] = defaultdict(list)
    for row in rows.all():
        result[row.group_id].append(row)
    return result


@dataclass(frozen=True)
class ChangeGroupMembers:
    group_id: uuid.UUID
    add_educator_ids: list[uuid.UUID] = field(default_factory=list)
    add_organization_ids: list[uuid.UUID] = field(default_factory=list)
    remove_educator_ids: list[uuid.UUID] = field(default_factory=list)
    remove_organization_ids: list[uuid.UUID] = field(default_factory=list)


async def change_group_members(session: AsyncSession, command: ChangeGroupMembers) -> InteractionGroup:
    group = await session.get(InteractionGroup, lookups.as_uuid(command.group_id, field="groupId"))
    if group is None:
        raise DomainError("Такой группы взаимодействия нет", code="GROUP_NOT_FOUND", field="groupId")
    network = await _active_network(session, group.network_id)
    members = (await group_members(session, [group.id]))[group.id]
    educators = {m.educator_id: m for m in members if m.educator_id}
    organizations = {m.organization_id: m for m in members if m.organization_id}
    new_educators = [e for e in dict.fromkeys(command.add_educator_ids) if e not in educators]
    new_organizations = [o for o in dict.fromkeys(command.add_organization_ids) if o not in organizations]
    await _check_group_members(session, network, new_educators, new_organizations)
    for ident in command.remove_educator_ids:
        if ident in educators:
            await session.delete(educators.pop(ident))
    for ident in command.remove_organization_ids:
        if ident in organizations:
            await session.delete(organizations.pop(ident))
    if not educators and not organizations and not new_educators and not new_organizations:
        raise DomainError(
            "В группе нужен хотя бы один участник", code="GROUP_EMPTY", field="removeEducatorIds"
        )
    session.add_all(InteractionGroupMember(group_id=group.id, educator_id=e) for e in new_educators)
    session.add_all(InteractionGroupMember(group_id=group.id, organization_id=o) for o in new_organizations)
    await session.flush()
    await outbox.record(
        session,
        InteractionGroupChanged(
            group_id=group.id,
            network_id=group.network_id,
            educator_ids=[*educators, *new_educators],
            organization_ids=[*organizations, *new_organizations],
        ),
        source=SOURCE,
    )
    return group


async def groups_by_network(
    session: AsyncSession, network_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[InteractionGroup]]:
    rows = await session.scalars(
        select(InteractionGroup)
        .where(InteractionGroup.network_id.in_(network_ids))
        .order_by(InteractionGroup.name, InteractionGroup.id)
    )
    result: dict[uuid.UUID, list[InteractionGroup]] = defaultdict(list)
    for row in rows.all():
        result[row.network_id].append(row)
    return result
