"""Where a registry write lands, and which educators a caller may see: the lookups access control
needs (the rules themselves are :meth:`setka_runtime.access.Identity.may_act_on`).

Each write's scope is read in the write's own transaction, before the command runs. An unknown or
malformed id is no error here: its target has no region, so only an admin of every region passes,
and the command itself then answers with its usual "not found".

The organizations an educator is concerned by are those they work at now; one whose every post has
ended stays with the organizations they worked at.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from setka_runtime.access import ALL_REGIONS, Identity, Role, Target
from setka_runtime.errors import DomainError
from setka_runtime.graphql import to_uuid
from sqlalchemy import ColumnElement, Row, Select, and_, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from . import rules
from .models import (
    Agreement,
    AgreementAmendment,
    AgreementParty,
    Educator,
    Employment,
    InteractionGroup,
    Membership,
    Municipality,
    Network,
    Organization,
    Regulation,
    Resource,
    ResourceRequest,
)

UNKNOWN = Target()
"""The target of what is not found: in no region."""


def _id(value: Any) -> uuid.UUID | None:
    return None if value is None else to_uuid(value)


async def _first(session: AsyncSession, query: Select[Any]) -> Row[Any] | None:
    """The first row of ``query``; an id that is None (malformed) matches nothing."""
    return (await session.execute(query)).first()


def _only(values: set[Any]) -> Any:
    return next(iter(values)) if len(values) == 1 else None


def combined(targets: Iterable[Target]) -> Target:
    """One target for several things: their region and municipality when all share one, every
    organization of each. Whoever may act on it may act on each of them (for a school
    representative: when their organization is the only one)."""
    found = list(targets)
    if not found:
        return UNKNOWN
    return Target(
        region_code=_only({t.region_code for t in found}),
        municipality_id=_only({t.municipality_id for t in found}),
        organization_ids=frozenset().union(*(t.organization_ids for t in found)),
    )


# -- organizations ---------------------------------------------------------------------------------


async def _organization_targets(session: AsyncSession, idents: Iterable[Any]) -> list[Target]:
    """One target per id given (an unknown one: :data:`UNKNOWN`), in one query."""
    wanted = [_id(i) for i in idents]
    known = [i for i in wanted if i is not None]
    rows = (
        (
            await session.execute(
                select(Organization.id, Organization.region_code, Organization.municipality_id).where(
                    Organization.id.in_(known)
                )
            )
        ).all()
        if known
        else []
    )
    found = {row.id: Target.of(row.region_code, row.municipality_id, [row.id]) for row in rows}
    return [found.get(i, UNKNOWN) if i is not None else UNKNOWN for i in wanted]


async def organization(session: AsyncSession, ident: Any) -> Target:
    """The organization's region, municipality and itself."""
    (target,) = await _organization_targets(session, [ident])
    return target


async def organizations(session: AsyncSession, idents: Iterable[Any]) -> Target:
    """Several organizations at once (the parties to an agreement, an educator's employers)."""
    return combined(await _organization_targets(session, idents))


async def place(
    session: AsyncSession,
    region_code: str | None,
    municipality_id: Any = None,
    municipality: str | None = None,
) -> Target:
    """A region and municipality given in an input (by id, or by name within the region)."""
    try:
        region = rules.check_region_code(region_code) if region_code else None
    except DomainError:
        region = None
    if region is None:
        return UNKNOWN
    ident = _id(municipality_id)
    if ident is None and municipality_id is None and municipality and municipality.strip():
        ident = await session.scalar(
            select(Municipality.id).where(
                Municipality.region_code == region, Municipality.name == " ".join(municipality.split())
            )
        )
    return Target.of(region, ident)


async def organization_change(
    session: AsyncSession, ident: Any, *, kind: str | None, municipality_id: Any
) -> Target | None:
    """Where an organization's change of kind or of municipality lands (the organization and its
    new municipality), or None when the change keeps both: these are the registry's structure,
    which its editors change, not a school's own details."""
    row = await _first(
        session,
        select(
            Organization.id, Organization.kind, Organization.region_code, Organization.municipality_id
        ).where(Organization.id == _id(ident)),
    )
    if row is None:
        return None
    moved = municipality_id is not None and _id(municipality_id) != row.municipality_id
    if not moved and (kind is None or kind.strip() == row.kind):
        return None
    here = Target.of(row.region_code, row.municipality_id, [row.id])
    if not moved:
        return here
    return combined([here, Target.of(row.region_code, _id(municipality_id), [row.id])])


# -- educators -------------------------------------------------------------------------------------


def _current(today: date) -> ColumnElement[bool]:
    return or_(Employment.ended_on.is_(None), Employment.ended_on > today)


async def _employers(session: AsyncSession, educator_id: uuid.UUID) -> list[uuid.UUID]:
    """The organizations the educator works at; if none now, those they worked at."""
    query = select(Employment.organization_id, Employment.ended_on)
    rows = (await session.execute(query.where(Employment.educator_id == educator_id))).all()
    today = date.today()
    now = [r.organization_id for r in rows if r.ended_on is None or r.ended_on > today]
    return list(dict.fromkeys(now or [r.organization_id for r in rows]))


async def educator(session: AsyncSession, ident: Any, *also: Any) -> Target:
    """The organizations the educator works at (and ``also`` those, e.g. a new post's)."""
    key = await session.scalar(select(Educator.id).where(Educator.id == _id(ident)))
    if key is None:
        return UNKNOWN
    return await organizations(session, [*await _employers(session, key), *also])


async def employment(session: AsyncSession, ident: Any) -> Target:
    """The educator whose post it is (the post's organization included)."""
    row = await _first(
        session,
        select(Employment.educator_id, Employment.organization_id).where(Employment.id == _id(ident)),
    )
    if row is None:
        return UNKNOWN
    return await educator(session, row.educator_id, row.organization_id)


def educators_visible_to(identity: Identity) -> ColumnElement[bool]:
    """A condition on :class:`Educator` rows: those whose personal data the caller may read — a
    regional admin their region's (``*``: all), a coordinator their municipality's, a school
    representative their organization's (where they work, see the module's note)."""
    places: list[ColumnElement[bool]] = []
    if Role.regional_admin in identity.roles and identity.region_code is not None:
        if identity.region_code == ALL_REGIONS:
            return true()
        places.append(Organization.region_code == identity.region_code)
    municipality, own = _id(identity.municipality_id), _id(identity.organization_id)
    if Role.municipal_coordinator in identity.roles and municipality is not None:
        places.append(Organization.municipality_id == municipality)
    if Role.school_representative in identity.roles and own is not None:
        places.append(Organization.id == own)
    if not places:
        return false()
    today = date.today()
    mine = and_(
        Employment.educator_id == Educator.id, Employment.organization_id == Organization.id, or_(*places)
    )
    works_here_now = exists().where(mine, _current(today))
    works_now = exists().where(Employment.educator_id == Educator.id, _current(today))
    worked_here = exists().where(mine)
    return or_(works_here_now, and_(~works_now, worked_here))


# -- networks, resources, agreements ---------------------------------------------------------------


async def network(session: AsyncSession, ident: Any, *organization_ids: Any) -> Target:
    """The network's region and municipality (none: a regional or inter-municipal network)."""
    row = await _first(
        session, select(Network.region_code, Network.municipality_id).where(Network.id == _id(ident))
    )
    if row is None:
        return UNKNOWN
    return Target.of(row.region_code, row.municipality_id, [_id(o) for o in organization_ids])


async def network_move(
    session: AsyncSession, ident: Any, *, level: str | None, municipality_id: Any
) -> Target | None:
    """Where a network lands when a correction moves it to another municipality or makes it
    inter-municipal or regional (then it is the region's: no municipality), or None when the
    correction keeps its place: a caller must be in scope of both places."""
    row = await _first(
        session,
        select(Network.region_code, Network.level, Network.municipality_id).where(Network.id == _id(ident)),
    )
    if row is None:
        return None
    if municipality_id is not None:
        wanted = _id(municipality_id)
        return None if wanted == row.municipality_id else Target.of(row.region_code, wanted)
    leaving = level is not None and level.strip() not in (row.level, "municipal")
    if leaving and row.municipality_id is not None:
        return Target.of(row.region_code, None)
    return None


async def membership(session: AsyncSession, ident: Any) -> Target:
    """The network of the membership (with the member, for the record)."""
    row = await _first(
        session,
        select(Membership.network_id, Membership.organization_id).where(Membership.id == _id(ident)),
    )
    return UNKNOWN if row is None else await network(session, row.network_id, row.organization_id)


async def interaction_group(session: AsyncSession, ident: Any) -> Target:
    """The network the group belongs to."""
    network_id = await session.scalar(
        select(InteractionGroup.network_id).where(InteractionGroup.id == _id(ident))
    )
    return UNKNOWN if network_id is None else await network(session, network_id)


async def resource(session: AsyncSession, ident: Any) -> Target:
    """The organization that owns the resource."""
    owner = await session.scalar(select(Resource.owner_id).where(Resource.id == _id(ident)))
    return UNKNOWN if owner is None else await organization(session, owner)


async def documents(session: AsyncSession, organization_ids: Iterable[Any], network_id: Any = None) -> Target:
    """The organizations an agreement or a regulation binds, and its network if it has one: the
    caller must be in scope of each."""
    targets = await _organization_targets(session, organization_ids)
    if network_id is not None:
        targets.append(await network(session, network_id))
    return combined(targets)


async def agreement(session: AsyncSession, ident: Any, *added_party_ids: Any) -> Target:
    """The parties to the agreement and its network (and ``added_party_ids``, parties an
    amendment adds: the caller must be in scope of those too)."""
    key = _id(ident)
    row = await _first(session, select(Agreement.network_id).where(Agreement.id == key))
    if row is None:
        return UNKNOWN
    parties = await session.scalars(
        select(AgreementParty.organization_id).where(AgreementParty.agreement_id == key)
    )
    return await documents(session, [*parties.all(), *added_party_ids], row.network_id)


async def agreement_places(session: AsyncSession, ident: Any) -> list[Target]:
    """Each party to the agreement and its network, one target each: where its people are."""
    key = _id(ident)
    row = await _first(session, select(Agreement.network_id).where(Agreement.id == key))
    if row is None:
        return []
    parties = await session.scalars(
        select(AgreementParty.organization_id).where(AgreementParty.agreement_id == key)
    )
    targets = await _organization_targets(session, parties.all())
    if row.network_id is not None:
        targets.append(await network(session, row.network_id))
    return targets


async def amendment(session: AsyncSession, ident: Any) -> Target:
    """An amendment's agreement: its parties and network."""
    agreement_id = await session.scalar(
        select(AgreementAmendment.agreement_id).where(AgreementAmendment.id == _id(ident))
    )
    return UNKNOWN if agreement_id is None else await agreement(session, agreement_id)


async def regulation(session: AsyncSession, ident: Any) -> Target:
    """The issuer of the regulating document and its network."""
    row = await _first(
        session, select(Regulation.issuer_id, Regulation.network_id).where(Regulation.id == _id(ident))
    )
    return UNKNOWN if row is None else await documents(session, [row.issuer_id], row.network_id)


# -- requests for resources ------------------------------------------------------------------------


async def resource_request_owner(session: AsyncSession, ident: Any) -> Target:
    """The organization that owns the requested resource: it accepts or declines."""
    owner = await session.scalar(select(ResourceRequest.owner_id).where(ResourceRequest.id == _id(ident)))
    return UNKNOWN if owner is None else await organization(session, owner)


async def resource_request_side(session: AsyncSession, ident: Any, side: Any) -> Target:
    """The side of a request named in a command (the owner or the requester): the caller must be in
    its scope. A side that is neither is no error here: the command refuses it."""
    row = await _first(
        session,
        select(ResourceRequest.owner_id, ResourceRequest.requester_id).where(
            ResourceRequest.id == _id(ident)
        ),
    )
    if row is None:
        return UNKNOWN
    named = _id(side)
    return await organization(
        session, named if named in (row.owner_id, row.requester_id) else row.requester_id
    )


def _organizations_in_scope(identity: Identity) -> ColumnElement[bool] | None:
    """A condition on :class:`Organization` rows: those the caller's participant roles cover; None
    for every organization (an admin of every region)."""
    places: list[ColumnElement[bool]] = []
    if Role.regional_admin in identity.roles and identity.region_code is not None:
        if identity.region_code == ALL_REGIONS:
            return None
        places.append(Organization.region_code == identity.region_code)
    municipality, own = _id(identity.municipality_id), _id(identity.organization_id)
    if Role.municipal_coordinator in identity.roles and municipality is not None:
        places.append(Organization.municipality_id == municipality)
    if Role.school_representative in identity.roles and own is not None:
        places.append(Organization.id == own)
    return or_(*places) if places else false()


def resource_requests_visible_to(identity: Identity) -> ColumnElement[bool]:
    """A condition on :class:`ResourceRequest` rows: those whose owner or requester the caller's
    scope covers (a school's people see their school's requests both ways, editors their
    region's or municipality's)."""
    scope = _organizations_in_scope(identity)
    if scope is None:
        return true()
    side = select(Organization.id).where(scope)
    return or_(ResourceRequest.owner_id.in_(side), ResourceRequest.requester_id.in_(side))
