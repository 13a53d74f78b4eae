"""Agreements on network interaction (договоры) and regulating documents (положения, приказы), and
their corrections: an agreement is amended (дополнительное соглашение) or terminated; a document
gets a new edition (новая редакция), which supersedes the one in force and leaves it readable, or is
withdrawn (утратил силу). Nothing is deleted: each correction is a new version with its event."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from setka_contracts.registry import (
    AgreementAmended,
    AgreementSigned,
    AgreementStatus,
    AgreementTerminated,
    RegulationIssued,
    RegulationKind,
    RegulationRevised,
    RegulationStatus,
    RegulationWithdrawn,
)
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from setka_runtime.russian import day
from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import lookups, rules
from .models import Agreement, AgreementAmendment, AgreementParty, Organization, Regulation
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
        raise DomainError(
            "В договоре нужны хотя бы две разные стороны", code="PARTIES_TOO_FEW", field="partyIds"
        )
    parties = [await lookups.organization(session, p, field="partyIds") for p in party_ids]
    if command.valid_from < command.signed_on:
        raise DomainError(
            "Договор не может вступить в силу раньше, чем подписан",
            code="EFFECT_BEFORE_SIGNING",
            field="validFrom",
        )
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


async def _signed_agreement(session: AsyncSession, agreement_id: uuid.UUID) -> Agreement:
    """The agreement, locked for the change, if it has not been terminated."""
    agreement = await session.get(
        Agreement, lookups.as_uuid(agreement_id, field="agreementId"), with_for_update=True
    )
    if agreement is None:
        raise DomainError("Такого договора нет", code="AGREEMENT_NOT_FOUND", field="agreementId")
    if agreement.status == AgreementStatus.terminated:
        raise DomainError("Договор уже расторгнут", code="AGREEMENT_TERMINATED", field="agreementId")
    return agreement


async def terminate_agreement(session: AsyncSession, agreement_id: uuid.UUID, on: date) -> Agreement:
    """End an agreement early: ``on`` is the first day it no longer holds."""
    agreement = await _signed_agreement(session, agreement_id)
    rules.check_period(agreement.valid_from, on, field="on")
    if agreement.valid_to is not None and on >= agreement.valid_to:
        raise DomainError("К этой дате срок договора уже истёк", code="AGREEMENT_EXPIRED", field="on")
    agreement.status = AgreementStatus.terminated.value
    agreement.terminated_on = on
    agreement.version += 1
    await session.flush()
    await outbox.record(
        session,
        AgreementTerminated(
            agreement_id=agreement.id,
            number=agreement.number,
            signed_on=agreement.signed_on,
            terminated_on=on,
            version=agreement.version,
        ),
        source=SOURCE,
    )
    return agreement


@dataclass(frozen=True)
class AmendAgreement:
    """An amendment (дополнительное соглашение): its number and date, what it rests on, and what it
    changes — parties added or removed, the end date, the subject."""

    agreement_id: uuid.UUID
    number: str
    amended_on: date
    basis: str | None = None
    add_party_ids: list[uuid.UUID] = field(default_factory=list)
    remove_party_ids: list[uuid.UUID] = field(default_factory=list)
    valid_to: date | None = None
    """The new first day the agreement no longer holds."""
    open_ended: bool = False
    """The agreement holds with no end date from now on."""
    subject: str | None = None


async def amend_agreement(session: AsyncSession, command: AmendAgreement) -> Agreement:
    """Record an amendment to an agreement in force and apply it; records ``agreement.amended``
    with the agreement's next version.

    The amendment is signed while the agreement holds (not before it was signed, not in the
    future, before its end); it changes something; parties added are active organizations not yet
    party, parties removed are parties, and two at least remain; a new end date comes after both
    the start and the amendment (ending it earlier than that is a termination)."""
    agreement = await _signed_agreement(session, command.agreement_id)
    number = rules.check_name(command.number, field="number", limit=100)
    basis = rules.optional_text(command.basis, field="basis", limit=1000)
    if command.amended_on < agreement.signed_on:
        raise DomainError(
            "Дополнительное соглашение не может быть подписано раньше договора",
            code="AMENDMENT_BEFORE_AGREEMENT",
            field="amendedOn",
        )
    if command.amended_on > date.today():
        raise DomainError(
            "Документ не может быть подписан в будущем", code="DATE_IN_FUTURE", field="amendedOn"
        )
    if agreement.valid_to is not None and command.amended_on >= agreement.valid_to:
        raise DomainError(
            f"Срок договора истёк {day(agreement.valid_to)}: изменить его уже нельзя",
            code="AGREEMENT_EXPIRED",
            field="amendedOn",
        )
    taken = await session.scalar(
        select(AgreementAmendment.id).where(
            AgreementAmendment.agreement_id == agreement.id, AgreementAmendment.number == number
        )
    )
    if taken is not None:
        raise DomainError(
            f"У договора уже есть дополнительное соглашение № {number}",
            code="AMENDMENT_NUMBER_TAKEN",
            field="number",
        )
    parties = (await parties_of(session, [agreement.id]))[agreement.id]
    wanted = dict.fromkeys(lookups.as_uuid(p, field="addPartyIds") for p in command.add_party_ids)
    added = [p for p in wanted if p not in parties]  # a party already there is no change
    added_parties = [await lookups.organization(session, p, field="addPartyIds") for p in added]
    removed = list(
        dict.fromkeys(lookups.as_uuid(p, field="removePartyIds") for p in command.remove_party_ids)
    )
    if any(p not in parties for p in removed):
        raise DomainError(
            "Исключить можно только сторону договора", code="NOT_A_PARTY", field="removePartyIds"
        )
    after = [p for p in parties if p not in removed] + added
    if len(after) < 2:
        raise DomainError(
            "В договоре должны остаться хотя бы две стороны", code="PARTIES_TOO_FEW", field="removePartyIds"
        )
    if command.open_ended and command.valid_to is not None:
        raise DomainError(
            "Укажите новую дату окончания или бессрочность, но не то и другое",
            code="VALID_TO_CONFLICT",
            field="validTo",
        )
    changes_valid_to = (command.open_ended and agreement.valid_to is not None) or (
        command.valid_to is not None and command.valid_to != agreement.valid_to
    )
    valid_to = None if command.open_ended else (command.valid_to or agreement.valid_to)
    if command.valid_to is not None:
        rules.check_period(agreement.valid_from, command.valid_to, field="validTo")
        if command.valid_to <= command.amended_on:
            raise DomainError(
                "Новая дата окончания должна быть позже даты дополнительного соглашения; чтобы прекратить"
                " договор раньше, расторгните его",
                code="VALID_TO_BEFORE_AMENDMENT",
                field="validTo",
            )
    subject = (
        rules.check_name(command.subject, field="subject", limit=2000)
        if command.subject is not None
        else None
    )
    changes_subject = subject is not None and subject != agreement.subject
    if not (added or removed or changes_valid_to or changes_subject):
        raise DomainError(
            "Дополнительное соглашение ничего не меняет: укажите стороны, срок или предмет",
            code="NOTHING_CHANGED",
        )
    agreement.version += 1
    amendment = AgreementAmendment(
        agreement_id=agreement.id,
        version=agreement.version,
        number=number,
        amended_on=command.amended_on,
        basis=basis,
        added_party_ids=[str(p) for p in added],
        removed_party_ids=[str(p) for p in removed],
        subject_before=agreement.subject if changes_subject else None,
        valid_to_before=agreement.valid_to,
        valid_to_after=valid_to,
        changes_valid_to=changes_valid_to,
    )
    session.add(amendment)
    if changes_subject and subject is not None:
        agreement.subject = subject
    agreement.valid_to = valid_to
    if removed:
        await session.execute(
            delete(AgreementParty).where(
                AgreementParty.agreement_id == agreement.id, AgreementParty.organization_id.in_(removed)
            )
        )
    session.add_all(AgreementParty(agreement_id=agreement.id, organization_id=p) for p in added)
    await session.flush()
    inns = await _inns(session, after, added_parties)
    await outbox.record(
        session,
        AgreementAmended(
            agreement_id=agreement.id,
            version=agreement.version,
            amendment_id=amendment.id,
            amendment_number=amendment.number,
            amended_on=amendment.amended_on,
            basis=amendment.basis,
            added_party_ids=added,
            removed_party_ids=removed,
            number=agreement.number,
            signed_on=agreement.signed_on,
            subject=agreement.subject,
            party_ids=after,
            party_inns=[inns.get(p) for p in after],
            network_id=agreement.network_id,
            valid_from=agreement.valid_from,
            valid_to=agreement.valid_to,
        ),
        source=SOURCE,
    )
    return agreement


async def _inns(
    session: AsyncSession, ids: Sequence[uuid.UUID], known: Sequence[Organization]
) -> dict[uuid.UUID, str | None]:
    found: dict[uuid.UUID, str | None] = {o.id: o.inn for o in known}
    rest = [i for i in ids if i not in found]
    if rest:
        rows = await session.execute(
            select(Organization.id, Organization.inn).where(Organization.id.in_(rest))
        )
        found.update({row.id: row.inn for row in rows.all()})
    return found


async def amendments_of(
    session: AsyncSession, agreement_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[AgreementAmendment]]:
    """Each agreement's amendments, oldest first (for loaders)."""
    rows = await session.scalars(
        select(AgreementAmendment)
        .where(AgreementAmendment.agreement_id.in_(agreement_ids))
        .order_by(AgreementAmendment.version)
    )
    result: dict[uuid.UUID, list[AgreementAmendment]] = defaultdict(list)
    for row in rows.all():
        result[row.agreement_id].append(row)
    return result


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
        raise DomainError("Документ не может быть издан в будущем", code="DATE_IN_FUTURE", field="issuedOn")
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
        status=RegulationStatus.in_force.value,
        edition=1,
    )
    regulation.first_edition_id = regulation.id
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


async def _in_force(session: AsyncSession, regulation_id: uuid.UUID) -> Regulation:
    """The regulating document, locked for the change, if it is the edition in force."""
    regulation = await session.get(
        Regulation, lookups.as_uuid(regulation_id, field="regulationId"), with_for_update=True
    )
    if regulation is None:
        raise DomainError("Такого документа нет", code="REGULATION_NOT_FOUND", field="regulationId")
    if regulation.status == RegulationStatus.superseded:
        raise DomainError(
            "Эта редакция документа уже заменена новой: измените действующую",
            code="REGULATION_SUPERSEDED",
            field="regulationId",
        )
    if regulation.status == RegulationStatus.withdrawn:
        raise DomainError(
            f"Документ утратил силу {day(regulation.withdrawn_on or regulation.issued_on)}",
            code="REGULATION_WITHDRAWN",
            field="regulationId",
        )
    return regulation


@dataclass(frozen=True)
class ReviseRegulation:
    """A new edition (новая редакция) of the document in force: the order that approves it (number,
    date), and its title and link if they change."""

    regulation_id: uuid.UUID
    number: str
    issued_on: date
    title: str | None = None
    link: str | None = None


async def revise_regulation(session: AsyncSession, command: ReviseRegulation) -> Regulation:
    """Record a new edition of a regulating document: it comes into force and supersedes the
    edition in force, which stays readable as superseded. Its kind, issuer and network are the
    document's. Records ``regulation.revised``, keyed by the document's first edition."""
    previous = await _in_force(session, command.regulation_id)
    if command.issued_on > date.today():
        raise DomainError("Документ не может быть издан в будущем", code="DATE_IN_FUTURE", field="issuedOn")
    if command.issued_on < previous.issued_on:
        raise DomainError(
            f"Новая редакция не может быть издана раньше прежней ({day(previous.issued_on)})",
            code="EDITION_BEFORE_PREVIOUS",
            field="issuedOn",
        )
    issuer = await lookups.organization(session, previous.issuer_id, field="regulationId")
    edition = Regulation(
        kind=previous.kind,
        number=rules.check_name(command.number, field="number", limit=100),
        issued_on=command.issued_on,
        issuer_id=issuer.id,
        title=(
            rules.check_name(command.title, field="title", limit=1000)
            if command.title is not None
            else previous.title
        ),
        link=rules.check_link(command.link, field="link") if command.link is not None else previous.link,
        network_id=previous.network_id,
        status=RegulationStatus.in_force.value,
        edition=previous.edition + 1,
        first_edition_id=previous.first_edition_id or previous.id,
        supersedes_id=previous.id,
    )
    session.add(edition)
    await session.flush()
    previous.status = RegulationStatus.superseded.value
    previous.superseded_by_id = edition.id
    await session.flush()
    assert edition.first_edition_id is not None
    await outbox.record(
        session,
        RegulationRevised(
            regulation_id=edition.id,
            first_edition_id=edition.first_edition_id,
            supersedes_id=previous.id,
            edition=edition.edition,
            kind=RegulationKind(edition.kind),
            number=edition.number,
            issued_on=edition.issued_on,
            issuer_id=edition.issuer_id,
            title=edition.title,
            link=edition.link,
            network_id=edition.network_id,
        ),
        source=SOURCE,
    )
    return edition


async def withdraw_regulation(
    session: AsyncSession, regulation_id: uuid.UUID, on: date, reason: str
) -> Regulation:
    """The document in force is withdrawn (утратил силу): ``on`` is the first day it no longer
    holds; it stays readable. Records ``regulation.withdrawn``."""
    regulation = await _in_force(session, regulation_id)
    text = rules.check_name(reason, field="reason", limit=1000)
    if on <= regulation.issued_on:
        raise DomainError("Документ утрачивает силу позже, чем издан", code="END_NOT_AFTER_START", field="on")
    regulation.status = RegulationStatus.withdrawn.value
    regulation.withdrawn_on = on
    regulation.withdrawal_reason = text
    await session.flush()
    await outbox.record(
        session,
        RegulationWithdrawn(
            regulation_id=regulation.id,
            first_edition_id=regulation.first_edition_id or regulation.id,
            edition=regulation.edition,
            kind=RegulationKind(regulation.kind),
            number=regulation.number,
            issued_on=regulation.issued_on,
            withdrawn_on=on,
            reason=text,
        ),
        source=SOURCE,
    )
    return regulation


async def editions_of(
    session: AsyncSession, first_edition_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Regulation]]:
    """Every edition of each document, oldest first (for loaders)."""
    rows = await session.scalars(
        select(Regulation)
        .where(Regulation.first_edition_id.in_(first_edition_ids))
        .order_by(Regulation.edition)
    )
    result: dict[uuid.UUID, list[Regulation]] = defaultdict(list)
    for row in rows.all():
        if row.first_edition_id is not None:
            result[row.first_edition_id].append(row)
    return result


async def list_regulations(
    session: AsyncSession,
    *,
    network_id: uuid.UUID | None,
    issuer_id: uuid.UUID | None,
    first: int,
    after: str | None,
    status: str | None = None,
) -> Page[Regulation]:
    query = select(Regulation)
    if status:
        query = query.where(Regulation.status == status)
    if network_id:
        query = query.where(Regulation.network_id == network_id)
    if issuer_id:
        query = query.where(Regulation.issuer_id == issuer_id)
    return await fetch_page(
        session, query, order=[Regulation.issued_on, Regulation.id], first=first, after=after
    )
