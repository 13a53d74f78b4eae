"""Who may change and see what in the events service: the one place ids become scopes.

* **Writes.** Each mutation's ``scope`` (see :func:`setka_runtime.graphql.run_command`) is one of
  the functions below: the :class:`Target` a write lands in, read from the local copy of the
  registry in the write's transaction. An id that is malformed or unknown is an empty target
  (no region): only an admin of every region passes it, and then the command itself reports its
  usual ValidationError.
* **Reads.** What a caller's roles reach, as SQL conditions: activities not yet announced are
  seen only by those who may act on them, draft plans by the network's editors and its members'
  representatives (the plan is drawn up jointly); a network's meetings by its editors, its
  members' representatives and the read-only roles of its region, never anonymously; educators'
  trainings and deficits only by the personal-data roles, each in their scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from setka_contracts.events import ActivityStatus, PlanStatus
from setka_runtime.access import (
    EDITORS,
    PARTICIPANTS,
    PERSONAL_DATA_ROLES,
    AccessDenied,
    Identity,
    Role,
    Target,
)
from setka_runtime.graphql import Scope, to_uuid
from setka_runtime.reach import READERS, Reach
from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from .models import (
    Activity,
    KnownEmployment,
    KnownMembership,
    KnownNetwork,
    KnownOrganization,
    Meeting,
    MeetingDecision,
    Mobility,
    Plan,
    PlanItem,
    PlanProposal,
)

NOWHERE = Target()
"""The target of an unknown id: no region, so only an admin of every region acts on it."""

# --- where a write lands --------------------------------------------------------------------------


async def organizations_target(session: AsyncSession, ids: Iterable[object]) -> Target:
    """The organizations concerned, and the region and municipality they share (none where they
    differ); :data:`NOWHERE` if one of them is malformed or unknown."""
    keys = [to_uuid(i) for i in ids]
    if not keys or None in keys:
        return NOWHERE
    rows = (
        await session.execute(
            select(
                KnownOrganization.id, KnownOrganization.region_code, KnownOrganization.municipality_id
            ).where(KnownOrganization.id.in_(keys))
        )
    ).all()
    if len(rows) != len(set(keys)):
        return NOWHERE
    regions = {r.region_code for r in rows}
    municipalities = {r.municipality_id for r in rows}
    return Target.of(
        regions.pop() if len(regions) == 1 else None,
        municipalities.pop() if len(municipalities) == 1 else None,
        [r.id for r in rows],
    )


def organizations(*ids: object) -> Scope:
    """A write about these organizations (an activity's host, a participant, a mobility's two)."""
    return lambda session: organizations_target(session, ids)


async def _network_target(session: AsyncSession, network_id: object) -> Target:
    key = to_uuid(network_id)
    row = (
        None
        if key is None
        else (
            await session.execute(
                select(KnownNetwork.region_code, KnownNetwork.municipality_id).where(KnownNetwork.id == key)
            )
        ).first()
    )
    return NOWHERE if row is None else Target.of(row.region_code, row.municipality_id)


def network(network_id: object) -> Scope:
    """A write about a network's plan: the network's region and municipality (if it is one's)."""
    return lambda session: _network_target(session, network_id)


def plan(plan_id: object) -> Scope:
    """A write about a plan: its network's scope."""

    async def scope(session: AsyncSession) -> Target:
        key = to_uuid(plan_id)
        query = select(Plan.network_id).where(Plan.id == key)
        network_id = None if key is None else await session.scalar(query)
        return NOWHERE if network_id is None else await _network_target(session, network_id)

    return scope


async def _plan_and(session: AsyncSession, network_id: object, organization_id: object) -> Target:
    """The plan's network's scope, with the organization concerned: its representative acts on
    it, and so do the network's editors (never the editors of the organization's own municipality
    alone: the plan is the network's)."""
    key, organization = to_uuid(network_id), to_uuid(organization_id)
    query = select(KnownNetwork.region_code, KnownNetwork.municipality_id).where(KnownNetwork.id == key)
    row = None if key is None or organization is None else (await session.execute(query)).first()
    return NOWHERE if row is None else Target.of(row.region_code, row.municipality_id, [organization])


def plan_member(plan_id: object, organization_id: object) -> Scope:
    """A member's proposal to a plan: its organization's representative, the network's editors."""

    async def scope(session: AsyncSession) -> Target:
        key = to_uuid(plan_id)
        network_id = (
            None if key is None else await session.scalar(select(Plan.network_id).where(Plan.id == key))
        )
        return await _plan_and(session, network_id, organization_id)

    return scope


def proposal(proposal_id: object) -> Scope:
    """A decision on a proposal: the scope of its plan's network (its editors)."""

    async def scope(session: AsyncSession) -> Target:
        key = to_uuid(proposal_id)
        query = select(Plan.network_id).join(PlanProposal, PlanProposal.plan_id == Plan.id)
        network_id = None if key is None else await session.scalar(query.where(PlanProposal.id == key))
        return NOWHERE if network_id is None else await _network_target(session, network_id)

    return scope


def plan_item(item_id: object) -> Scope:
    """A task marked done: its responsible organization's representative, the network's editors."""

    async def scope(session: AsyncSession) -> Target:
        key = to_uuid(item_id)
        query = select(Plan.network_id, PlanItem.responsible_organization_id).join(
            PlanItem, PlanItem.plan_id == Plan.id
        )
        row = None if key is None else (await session.execute(query.where(PlanItem.id == key))).first()
        if row is None:
            return NOWHERE
        if row.responsible_organization_id is None:
            return await _network_target(session, row.network_id)
        return await _plan_and(session, row.network_id, row.responsible_organization_id)

    return scope


def meeting(meeting_id: object) -> Scope:
    """A write about a meeting (changing, holding, cancelling it, recording its decisions): its
    network's scope, the network's editors'."""

    async def scope(session: AsyncSession) -> Target:
        key = to_uuid(meeting_id)
        network_id = (
            None if key is None else await session.scalar(select(Meeting.network_id).where(Meeting.id == key))
        )
        return NOWHERE if network_id is None else await _network_target(session, network_id)

    return scope


def decision(decision_id: object) -> Scope:
    """A meeting's decision carried into the plan: its network's scope, the network's editors'."""

    async def scope(session: AsyncSession) -> Target:
        key = to_uuid(decision_id)
        query = select(Meeting.network_id).join(MeetingDecision, MeetingDecision.meeting_id == Meeting.id)
        network_id = None if key is None else await session.scalar(query.where(MeetingDecision.id == key))
        return NOWHERE if network_id is None else await _network_target(session, network_id)

    return scope


async def _host(session: AsyncSession, activity_id: object) -> uuid.UUID | None:
    key = to_uuid(activity_id)
    if key is None:
        return None
    return await session.scalar(select(Activity.host_organization_id).where(Activity.id == key))


def activity(activity_id: object) -> Scope:
    """A write about an activity: its host organization (its region and municipality)."""

    async def scope(session: AsyncSession) -> Target:
        host = await _host(session, activity_id)
        return NOWHERE if host is None else await organizations_target(session, [host])

    return scope


def participant(activity_id: object, organization_id: object | None) -> Scope:
    """A participant's write about an activity: the participating organization, or the host's
    when none is named."""
    if organization_id is not None:
        return organizations(organization_id)
    return activity(activity_id)


def participant_or_host(activity_id: object, organization_id: object) -> Scope:
    """Attendance: recorded by the participating organization, or by the activity's host (who
    knows who came), or by a coordinator or admin covering either."""

    async def scope(session: AsyncSession) -> tuple[Target, ...]:
        host = await _host(session, activity_id)
        participant = await organizations_target(session, [organization_id])
        return (participant,) if host is None else (participant, await organizations_target(session, [host]))

    return scope


def mobility(mobility_id: object) -> Scope:
    """A correction of a mobility record: the two organizations it is about, as when recorded."""

    async def scope(session: AsyncSession) -> Target:
        key = to_uuid(mobility_id)
        row = (
            None
            if key is None
            else (
                await session.execute(
                    select(Mobility.home_organization_id, Mobility.host_organization_id).where(
                        Mobility.id == key
                    )
                )
            ).first()
        )
        if row is None:
            return NOWHERE
        return await organizations_target(session, [row.home_organization_id, row.host_organization_id])

    return scope


# --- what a caller reaches, for reads -------------------------------------------------------------


def unpublished_activities(caller: Identity) -> ColumnElement[bool] | None:
    """Activities the caller sees before they are announced: those they may act on (an editor of
    the host's region or municipality, the host's representative); None when they see all."""
    return Reach.of(caller, PARTICIPANTS).organizations(Activity.host_organization_id, KnownOrganization)


def visible_activities(caller: Identity) -> ColumnElement[bool] | None:
    """Activities the caller sees: announced ones (and later) by everyone, planned ones only by
    those who may act on them; None when the caller sees all."""
    hosted = unpublished_activities(caller)
    return None if hosted is None else or_(Activity.status != ActivityStatus.planned.value, hosted)


def member_networks(caller: Identity) -> Any | None:
    """The networks the caller's organization is a member of today, if the caller represents one."""
    organization = to_uuid(caller.organization_id) if caller.organization_id else None
    if not caller.authenticated or Role.school_representative not in caller.roles or organization is None:
        return None
    today = date.today()
    return select(KnownMembership.network_id).where(
        KnownMembership.organization_id == organization,
        KnownMembership.joined_on <= today,
        or_(KnownMembership.left_on.is_(None), KnownMembership.left_on > today),
    )


def visible_plans(caller: Identity) -> ColumnElement[bool] | None:
    """Plans the caller sees: agreed ones (and later) by everyone; drafts by the editors of the
    network's region or municipality and by the representatives of its members, who plan jointly
    (they propose items to the draft); None when the caller sees all."""
    drafted = Reach.of(caller, EDITORS).networks(Plan.network_id, KnownNetwork)
    if drafted is None:
        return None
    members = member_networks(caller)
    shown = [Plan.status != PlanStatus.draft.value, drafted]
    if members is not None:
        shown.append(Plan.network_id.in_(members))
    return or_(*shown)


def visible_meetings(caller: Identity) -> ColumnElement[bool]:
    """Meetings the caller sees: a network's by the editors of its region or municipality and by
    the read-only roles of its region, and by the representatives of its members today; nothing
    for anonymous callers. Whose educators take part stays personal data (see
    :func:`educators_shown`)."""
    reached = Reach.of(caller, EDITORS, regional=READERS).networks(Meeting.network_id, KnownNetwork)
    if reached is None:
        return true()
    members = member_networks(caller)
    return reached if members is None else or_(reached, Meeting.network_id.in_(members))


def personal_data(caller: Identity, column: Any) -> ColumnElement[bool] | None:
    """Educators' personal data the caller sees: of the organizations in the scope of their
    personal-data role; None when they see all."""
    return Reach.of(caller, PERSONAL_DATA_ROLES).organizations(column, KnownOrganization)


async def educators_shown(
    session: AsyncSession, caller: Identity, organization_ids: list[uuid.UUID]
) -> list[bool]:
    """For each organization, whether the caller sees which of its educators took part in what (an
    educator's id on an attendance, a registration, an activity): the personal-data roles, each in
    their scope. Anyone else sees that the organization took part, not who."""
    reach = Reach.of(caller, PERSONAL_DATA_ROLES)
    if reach.everything:
        return [True] * len(organization_ids)
    if reach.nothing:
        return [False] * len(organization_ids)
    rows = (
        await session.execute(
            select(
                KnownOrganization.id, KnownOrganization.region_code, KnownOrganization.municipality_id
            ).where(KnownOrganization.id.in_(organization_ids))
        )
    ).all()
    known = {r.id: Target.of(r.region_code, r.municipality_id, [r.id]) for r in rows}
    return [caller.may_act_on(known.get(key, NOWHERE), PERSONAL_DATA_ROLES) for key in organization_ids]


async def require_educator(
    session: AsyncSession, caller: Identity, educator_id: uuid.UUID, *, what: str
) -> None:
    """What one educator took part in is personal data: only the personal-data roles see it, for
    an educator of an organization in their scope (where they work or worked)."""
    if not caller.authenticated:
        raise AccessDenied(f"Sign in to see {what}", code="UNAUTHENTICATED")
    if not caller.has(*PERSONAL_DATA_ROLES):
        raise AccessDenied(f"You may not see {what}: it is personal data")
    rows = (
        await session.execute(
            select(KnownOrganization.id, KnownOrganization.region_code, KnownOrganization.municipality_id)
            .join(KnownEmployment, KnownEmployment.organization_id == KnownOrganization.id)
            .where(KnownEmployment.educator_id == educator_id)
        )
    ).all()
    targets = [Target.of(r.region_code, r.municipality_id, [r.id]) for r in rows] or [NOWHERE]
    if not any(caller.may_act_on(target, PERSONAL_DATA_ROLES) for target in targets):
        raise AccessDenied(f"{what} is outside your scope ({caller.scope_text()})")
