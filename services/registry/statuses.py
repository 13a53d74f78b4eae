"""Dated statuses of schools (ШНОР, ШФНСУ, stable results) and their risk profiles."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from setka_contracts.registry import (
    OrganizationKind,
    OrganizationStatusChanged,
    RiskFactor,
    RiskLevel,
    RiskProfileAssessed,
    SchoolStatus,
    StatusChange,
)
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import lookups, rules
from .models import Organization, OrganizationStatus, RiskFactorLevel, RiskProfile

SOURCE = "/setka/registry"

Period = tuple[SchoolStatus, date, date | None]


def _require_school(organization: Organization, field: str = "organizationId") -> None:
    if organization.kind != OrganizationKind.school:
        raise DomainError(
            "Статусы и рисковые профили ведутся только для школ", code="NOT_A_SCHOOL", field=field
        )


async def history(session: AsyncSession, organization_id: uuid.UUID) -> list[OrganizationStatus]:
    query = (
        select(OrganizationStatus)
        .where(OrganizationStatus.organization_id == organization_id)
        .order_by(OrganizationStatus.entered_on, OrganizationStatus.status)
    )
    return list((await session.scalars(query)).all())


async def histories(
    session: AsyncSession, organization_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[OrganizationStatus]]:
    """Status histories of many organizations in one query (for loaders)."""
    query = (
        select(OrganizationStatus)
        .where(OrganizationStatus.organization_id.in_(organization_ids))
        .order_by(OrganizationStatus.entered_on, OrganizationStatus.status)
    )
    result: dict[uuid.UUID, list[OrganizationStatus]] = defaultdict(list)
    for row in (await session.scalars(query)).all():
        result[row.organization_id].append(row)
    return result


def periods(rows: list[OrganizationStatus]) -> list[Period]:
    return [(SchoolStatus(row.status), row.entered_on, row.left_on) for row in rows]


async def statuses_on(session: AsyncSession, organization_id: uuid.UUID, on: date) -> list[SchoolStatus]:
    return rules.statuses_on(periods(await history(session, organization_id)), on)


@dataclass(frozen=True)
class EnterStatus:
    organization_id: uuid.UUID
    status: str
    entered_on: date
    left_on: date | None = None
    basis: str | None = None


async def enter_status(session: AsyncSession, command: EnterStatus) -> OrganizationStatus:
    """A school enters a status list on a date (optionally with the date it leaves it)."""
    organization = await lookups.organization(session, command.organization_id)
    _require_school(organization)
    status = rules.check_choice(command.status, SchoolStatus, field="status")
    rules.check_period(command.entered_on, command.left_on, field="leftOn")
    existing = await history(session, organization.id)
    rules.check_status_conflict(status, command.entered_on, command.left_on, periods(existing))
    row = OrganizationStatus(
        organization_id=organization.id,
        status=status.value,
        entered_on=command.entered_on,
        left_on=command.left_on,
        basis=rules.optional_text(command.basis, field="basis", limit=300),
    )
    session.add(row)
    await session.flush()
    await _record(session, organization, status, StatusChange.entered, command.entered_on, row.basis)
    return row


@dataclass(frozen=True)
class LeaveStatus:
    organization_id: uuid.UUID
    status: str
    left_on: date
    basis: str | None = None


async def leave_status(session: AsyncSession, command: LeaveStatus) -> OrganizationStatus:
    """A school leaves a status list: ``left_on`` is the first day it no longer holds it."""
    organization = await lookups.organization(session, command.organization_id)
    status = rules.check_choice(command.status, SchoolStatus, field="status")
    open_periods = [row for row in await history(session, organization.id) if row.status == status.value]
    row = next((r for r in open_periods if r.left_on is None), None)
    if row is None:
        raise DomainError(
            f"У школы нет статуса «{rules.STATUS_NAMES[status]}» без даты окончания",
            code="STATUS_NOT_HELD",
            field="status",
        )
    rules.check_period(row.entered_on, command.left_on, field="leftOn")
    row.left_on = command.left_on
    if command.basis:
        row.basis = rules.optional_text(command.basis, field="basis", limit=300)
    await session.flush()
    await _record(session, organization, status, StatusChange.left, command.left_on, row.basis)
    return row


async def _record(
    session: AsyncSession,
    organization: Organization,
    status: SchoolStatus,
    change: StatusChange,
    effective_on: date,
    basis: str | None,
) -> None:
    await outbox.record(
        session,
        OrganizationStatusChanged(
            organization_id=organization.id,
            inn=organization.inn,
            school_code=organization.school_code,
            status=status,
            change=change,
            effective_on=effective_on,
            basis=basis,
            current_statuses=await statuses_on(session, organization.id, date.today()),
        ),
        source=SOURCE,
    )


@dataclass(frozen=True)
class AssessRiskProfile:
    organization_id: uuid.UUID
    assessed_on: date
    factors: Mapping[str, str]
    """Every risk factor of «500+» with its level: low, medium or high."""


def check_factors(factors: Mapping[str, str]) -> dict[RiskFactor, RiskLevel]:
    checked: dict[RiskFactor, RiskLevel] = {}
    for name, level in factors.items():
        factor = rules.check_choice(name, RiskFactor, field="factors")
        checked[factor] = rules.check_choice(level, RiskLevel, field="factors")
    missing = [f.value for f in RiskFactor if f not in checked]
    if missing:
        raise DomainError(
            f"Укажите уровень каждого фактора риска; не указаны: {', '.join(missing)}",
            code="RISK_FACTORS_MISSING",
            field="factors",
        )
    return {factor: checked[factor] for factor in RiskFactor}


async def assess_risk_profile(session: AsyncSession, command: AssessRiskProfile) -> RiskProfile:
    """Store a school's risk profile for a date; a second one for the same date replaces it."""
    organization = await lookups.organization(session, command.organization_id)
    _require_school(organization)
    if command.assessed_on > date.today():
        raise DomainError("Дата оценки не может быть в будущем", code="DATE_IN_FUTURE", field="assessedOn")
    factors = check_factors(command.factors)
    profile = await session.scalar(
        select(RiskProfile).where(
            RiskProfile.organization_id == organization.id, RiskProfile.assessed_on == command.assessed_on
        )
    )
    if profile is None:
        profile = RiskProfile(organization_id=organization.id, assessed_on=command.assessed_on)
        session.add(profile)
        await session.flush()
    else:
        await session.execute(delete(RiskFactorLevel).where(RiskFactorLevel.profile_id == profile.id))
    session.add_all(
        RiskFactorLevel(profile_id=profile.id, factor=factor.value, level=level.value)
        for factor, level in factors.items()
    )
    await session.flush()
    await outbox.record(
        session,
        RiskProfileAssessed(
            organization_id=organization.id,
            profile_id=profile.id,
            inn=organization.inn,
            school_code=organization.school_code,
            assessed_on=profile.assessed_on,
            factors=factors,
        ),
        source=SOURCE,
    )
    return profile


async def profiles_of(
    session: AsyncSession, organization_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[RiskProfile]]:
    """Risk profiles of many schools, newest first."""
    query = (
        select(RiskProfile)
        .where(RiskProfile.organization_id.in_(organization_ids))
        .order_by(RiskProfile.assessed_on.desc())
    )
    result: dict[uuid.UUID, list[RiskProfile]] = defaultdict(list)
    for row in (await session.scalars(query)).all():
        result[row.organization_id].append(row)
    return result


async def factor_levels(
    session: AsyncSession, profile_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[RiskFactorLevel]]:
    query = select(RiskFactorLevel).where(RiskFactorLevel.profile_id.in_(profile_ids))
    result: dict[uuid.UUID, list[RiskFactorLevel]] = defaultdict(list)
    order = {factor.value: index for index, factor in enumerate(RiskFactor)}
    for row in (await session.scalars(query)).all():
        result[row.profile_id].append(row)
    for rows in result.values():
        rows.sort(key=lambda r: order.get(r.factor, len(order)))
    return result
