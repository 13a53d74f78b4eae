"""Agreements on network interaction (договоры) and regulating documents (положения, приказы)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from setka_contracts.registry import (
    AgreementSigned,
    AgreementStatus,
    AgreementTerminated,
    RegulationIssued,
    RegulationKind,
)
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import lookups, rules
from .models import Agreement, AgreementParty, Regulation
from .paging import Page, fetch_page

SOURCE = "/setka/registry"


@dataclass(frozen=True)
class SignAgreement:
    number: str
    signed_on: date
    subject: str
    party_ids: list[uuid.UUID]
    valid_from: date
    valid_to: date | None = None
    """The first day the agreement no longer holds; open-ended if not given."""
    network_id: uuid.UUID | None = None


async def sign_agreement(session: AsyncSession, command: SignAgreement) -> Agreement:
    """Record a signed agreement between two or more active organizations."""
    number = rules.check_name(command.number, field="number", limit=100)
    subject = rules.check_name(command.subject, field="subject", limit=2000)
    party_ids = list(dict.fromkeys(lookups.as_uuid(p, field="partyIds") for p in command.party_ids))
    if len(party_ids) < 2:
        raise DomainError("an agreement needs at least two different parties", field="partyIds")
    parties = [await lookups.organization(session, p, field="partyIds") for p in party_ids]
    if command.valid_from < command.signed_on:
        raise DomainError("an agreement cannot take effect before it is signed", field="validFrom")
    rules.check_period(command.valid_from, command.valid_to, field="validTo")
    if command.network_id is not None:
        await lookups.network(session, command.network_id)
    agreement = Agreement(
        number=number,
        signed_on=command.signed_on,
        subject=subject,
        valid_from=command.valid_from,
        valid_to=command.valid_to,
        status=AgreementStatus.signed.value,
        network_id=command.network_id,
    )
    session.add(agreement)
    await session.flush()
    session.add_all(AgreementParty(agreement_id=agreement.id, organization_id=p.id) for p in parties)
    await session.flush()
    await outbox.record(
        session,
        AgreementSigned(
            agreement_id=agreement.id,
            number=agreement.number,
            signed_on=agreement.signed_on,
            subject=agreement.subject,
            party_ids=[p.id for p in parties],
            party_inns=[p.inn for p in parties],
            network_id=agreement.network_id,
            valid_from=agreement.valid_from,
            valid_to=agreement.valid_to,
        ),
        source=SOURCE,
    )
    return agreement


async def terminate_agreement(session: AsyncSession, agreement_id: uuid.UUID, on: date) -> Agreement:
    """End an agreement early: ``on`` is the first day it no longer holds."""
    agreement = await session.get(Agreement, lookups.as_uuid(agreement_id, field="agreementId"))
    if agreement is None:
        raise DomainError("no such agreement", field="agreementId")
    if agreement.status == AgreementStatus.terminated:
        raise DomainError("the agreement has already been terminated", field="agreementId")
    rules.check_period(agreement.valid_from, on, field="on")
    if agreement.valid_to is not None and on >= agreement.valid_to:
        raise DomainError("the agreement has expired by then", field="on")
    agreement.status = AgreementStatus.terminated.value
    agreement.terminated_on = on
    await session.flush()
    await outbox.record(
        session,
        AgreementTerminated(
            agreement_id=agreement.id,
            number=agreement.number,
            signed_on=agreement.signed_on,
            terminated_on=on,
        ),
        source=SOURCE,
    )
    return agreement


async def parties_of(
    session: AsyncSession, agreement_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    rows = await session.execute(
        select(AgreementParty.agreement_id, AgreementParty.organization_id).where(
            AgreementParty.agreement_id.in_(agreement_ids)
        )
    )
    result: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for agreement_id, organization_id in rows.all():
        result[agreement_id].append(organization_id)
    return result


async def list_agreements(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID | None,
    network_id: uuid.UUID | None,
    first: int,
    after: str | None,
) -> Page[Agreement]:
    query = select(Agreement)
    if organization_id:
        query = query.where(
            exists().where(
                AgreementParty.agreement_id == Agreement.id, AgreementParty.organization_id == organization_id
            )
        )
    if network_id:
        query = query.where(Agreement.network_id == network_id)
    return await fetch_page(
        session, query, order=[Agreement.signed_on, Agreement.id], first=first, after=after
    )


@dataclass(frozen=True)
class IssueRegulation:
    kind: str
    number: str
    issued_on: date
    issuer_id: uuid.UUID
    title: str
    link: str | None = None
    network_id: uuid.UUID | None = None


async def issue_regulation(session: AsyncSession, command: IssueRegulation) -> Regulation:
    """Record a regulating document (положение, приказ) issued by an organization."""
    kind = rules.check_choice(command.kind, RegulationKind, field="kind")
    issuer = await lookups.organization(session, command.issuer_id, field="issuerId")
    if command.issued_on > date.today():
        raise DomainError("a document cannot be issued in the future", field="issuedOn")
    if command.network_id is not None:
        await lookups.network(session, command.network_id)
    regulation = Regulation(
        kind=kind.value,
        number=rules.check_name(command.number, field="number", limit=100),
        issued_on=command.issued_on,
        issuer_id=issuer.id,
        title=rules.check_name(command.title, field="title", limit=1000),
        link=rules.check_link(command.link, field="link"),
        network_id=command.network_id,
    )
    session.add(regulation)
    await session.flush()
    await outbox.record(
        session,
        RegulationIssued(
            regulation_id=regulation.id,
            kind=kind,
            number=regulation.number,
            issued_on=regulation.issued_on,
            issuer_id=issuer.id,
            title=regulation.title,
            link=regulation.link,
            network_id=regulation.network_id,
        ),
        source=SOURCE,
    )
    return regulation


async def list_regulations(
    session: AsyncSession,
    *,
    network_id: uuid.UUID | None,
    issuer_id: uuid.UUID | None,
    first: int,
    after: str | None,
) -> Page[Regulation]:
    query = select(Regulation)
    if network_id:
        query = query.where(Regulation.network_id == network_id)
    if issuer_id:
        query = query.where(Regulation.issuer_id == issuer_id)
    return await fetch_page(
        session, query, order=[Regulation.issued_on, Regulation.id], first=first, after=after
    )
