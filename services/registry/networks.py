"""Networks, their members (участники сети) and centres, and their interaction groups."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

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
    OrganizationKind,
    SchoolStatus,
)
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import lookups, reference, rules, statuses
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
        raise DomainError("a municipal network needs its municipality", field="municipalityId")
    governing = await lookups.organization(session, command.governing_body_id, field="governingBodyId")
    if governing.kind != OrganizationKind.education_authority:
        raise DomainError(
            "the governing body must be an education authority (управление образования, министерство)",
            field="governingBodyId",
        )
    if governing.region_code != region_code:
        raise DomainError("the governing body is in another region", field="governingBodyId")
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


async def _active_network(session: AsyncSession, network_id: uuid.UUID) -> Network:
    network = await lookups.network(session, network_id)
    if network.status != NetworkStatus.active:
        raise DomainError("the network is closed", field="networkId")
    return network


async def close_network(session: AsyncSession, network_id: uuid.UUID, ended_on: date) -> Network:
    """End a network on a date; its open memberships end with it."""
    network = await _active_network(session, network_id)
    rules.check_period(network.started_on, ended_on, field="endedOn")
    open_rows = [m for m in await memberships_in(session, network.id) if m.left_on is None]
    if any(m.joined_on >= ended_on for m in open_rows):
        raise DomainError("some members joined on or after that date", field="endedOn")
    for membership in open_rows:
        await _end(session, membership, ended_on)
    network.ended_on = ended_on
    network.status = NetworkStatus.closed.value
    await session.flush()
    await outbox.record(
        session, NetworkClosed(network_id=network.id, name=network.name, ended_on=ended_on), source=SOURCE
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
    if role == MemberRole.centre:
        held = await statuses.statuses_on(session, organization.id, on)
        if SchoolStatus.stable_results not in held:
            raise DomainError(
                f"only a school with stable_results on {on.isoformat()} can become a centre", field="role"
            )
    elif role == MemberRole.supported:
        held = await statuses.statuses_on(session, organization.id, on)
        if not SUPPORTED_STATUSES & set(held):
            raise DomainError(
                f"a supported member must hold low_results or adverse_social_conditions on {on.isoformat()}",
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
        raise DomainError("the network does not run on that date", field="joinedOn")
    await check_role_allowed(session, organization, role, command.joined_on)
    for other in await memberships_in(session, network.id, organization.id):
        if rules.overlaps(command.joined_on, command.left_on, other.joined_on, other.left_on):
            raise DomainError(
                f"the organization is already a member ({other.role}) from {other.joined_on.isoformat()}",
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
        raise DomainError("no such membership", field="membershipId")
    if membership.left_on is not None:
        raise DomainError("the membership has already ended", field="membershipId")
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
            raise DomainError("the organization is already a centre of this network", field="organizationId")
        if other.joined_on >= on or other.left_on is not None:
            raise DomainError(
                f"the organization has a membership from {other.joined_on.isoformat()} that overlaps",
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
                "an organization of the group is not a member of the network", field="organizationIds"
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
                "an educator of the group does not work at a member of the network", field="educatorIds"
            )


async def form_interaction_group(session: AsyncSession, command: FormInteractionGroup) -> InteractionGroup:
    """Form a group of interaction (РМО, творческая группа) of educators and organizations."""
    network = await _active_network(session, command.network_id)
    educator_ids = list(dict.fromkeys(command.educator_ids))
    organization_ids = list(dict.fromkeys(command.organization_ids))
    if not educator_ids and not organization_ids:
        raise DomainError("a group needs at least one member", field="educatorIds")
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
        raise DomainError("no such interaction group", field="groupId")
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
        raise DomainError("a group needs at least one member", field="removeEducatorIds")
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
