"""Loading the demo dataset into an empty registry through the domain functions.

Going through the same functions as the subgraph and the import means every demo record obeys
the rules (a centre has stable results on the day it joins, a supported school is in the list)
and records its event in the outbox, so the other services receive the demo regions as they
would receive real ones.
"""

from __future__ import annotations

import logging
import uuid

from setka_runtime.db import Database
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import agreements, educators, networks, organizations, reference, resources, statuses
from ..models import Organization
from .dataset import DEFAULT_SEED, DemoDataset, DemoOrganization, generate

log = logging.getLogger(__name__)


def demo_organizations(seed: int = DEFAULT_SEED) -> tuple[DemoOrganization, ...]:
    return generate(seed).organizations


async def load(db: Database, *, seed: int = DEFAULT_SEED, scale: int = 1) -> int:
    """Load the demo into an empty registry in one transaction; returns the records written.

    A registry with any organization is left alone (returns 0), so loading twice is harmless.
    """
    async with db.session() as session, session.begin():
        if await session.scalar(select(func.count()).select_from(Organization)):
            return 0
        return await load_dataset(session, generate(seed, scale=scale))


async def load_dataset(session: AsyncSession, dataset: DemoDataset) -> int:
    written = await reference.load_reference(session)
    written += await reference.load_reference(
        session,
        [
            reference.RegionData(
                region.code,
                region.name,
                tuple(m.name for m in dataset.municipalities if m.region_code == region.code),
            )
            for region in dataset.regions
        ],
    )
    ids: dict[str, uuid.UUID] = {}
    for org in dataset.organizations:
        row = await organizations.register_organization(
            session,
            organizations.RegisterOrganization(
                full_name=org.full_name,
                short_name=org.short_name,
                kind=org.kind,
                region_code=org.region_code,
                municipality=org.municipality,
                inn=org.inn,
                ogrn=org.ogrn,
                school_code=org.school_code,
                address=org.address,
                website=org.website,
                email=org.email,
            ),
        )
        ids[org.key] = row.id
        for status in org.statuses:
            await statuses.enter_status(
                session,
                statuses.EnterStatus(
                    organization_id=row.id,
                    status=status.status,
                    entered_on=status.since,
                    left_on=status.until,
                    basis="Синтетический приказ органа управления образованием (демо)",
                ),
            )
        written += 1 + len(org.statuses)
    for profile in dataset.risk_profiles:
        await statuses.assess_risk_profile(
            session,
            statuses.AssessRiskProfile(
                organization_id=ids[profile.organization],
                assessed_on=profile.assessed_on,
                factors=dict(profile.levels),
            ),
        )
    written += len(dataset.risk_profiles)
    educator_ids: dict[str, uuid.UUID] = {}
    for person in dataset.educators:
        person_row = await educators.register_educator(
            session,
            educators.RegisterEducator(
                last_name=person.last_name,
                first_name=person.first_name,
                middle_name=person.middle_name,
                qualification_category=person.qualification_category,
                subjects=list(person.subjects),
                posts=[
                    educators.Post(organization_id=ids[o], position=person.position)
                    for o in person.organizations
                ],
                external_id=f"demo-{person.key}",
            ),
        )
        educator_ids[person.key] = person_row.id
    written += len(dataset.educators)
    network_ids: dict[str, uuid.UUID] = {}
    for network in dataset.networks:
        governing = dataset.organization(network.governing_body)
        municipality = None
        if network.level == "municipal":
            municipality = await reference.find_municipality(
                session, region_code=governing.region_code, name=governing.municipality, municipality_id=None
            )
        network_row = await networks.create_network(
            session,
            networks.CreateNetwork(
                name=network.name,
                level=network.level,
                region_code=governing.region_code,
                governing_body_id=ids[network.governing_body],
                coordinator_id=ids[network.coordinator],
                started_on=network.started_on,
                municipality_id=municipality.id if municipality else None,
            ),
        )
        network_ids[network.key] = network_row.id
    for membership in dataset.memberships:
        await networks.join_network(
            session,
            networks.JoinNetwork(
                network_id=network_ids[membership.network],
                organization_id=ids[membership.organization],
                role=membership.role,
                joined_on=membership.joined_on,
            ),
        )
    written += len(dataset.networks) + len(dataset.memberships)
    for resource in dataset.resources:
        await resources.offer_resource(
            session,
            resources.OfferResource(
                owner_id=ids[resource.organization],
                kind=resource.kind,
                title=resource.title,
                description=resource.description,
                subjects=list(resource.subjects),
                capacity=resource.capacity,
                available_from=resource.available_from,
                available_to=resource.available_to,
            ),
        )
    for agreement in dataset.agreements:
        await agreements.sign_agreement(
            session,
            agreements.SignAgreement(
                number=agreement.number,
                signed_on=agreement.signed_on,
                subject=agreement.subject,
                party_ids=[ids[p] for p in agreement.parties],
                valid_from=agreement.valid_from,
                valid_to=agreement.valid_to,
                network_id=network_ids[agreement.network],
            ),
        )
    for regulation in dataset.regulations:
        await agreements.issue_regulation(
            session,
            agreements.IssueRegulation(
                kind=regulation.kind,
                number=regulation.number,
                issued_on=regulation.issued_on,
                issuer_id=ids[regulation.issuer],
                title=regulation.title,
                link=regulation.link,
                network_id=network_ids[regulation.network],
            ),
        )
    for group in dataset.groups:
        await networks.form_interaction_group(
            session,
            networks.FormInteractionGroup(
                network_id=network_ids[group.network],
                name=group.name,
                purpose=group.purpose,
                educator_ids=[educator_ids[e] for e in group.educators],
                organization_ids=[ids[o] for o in group.organizations],
            ),
        )
    written += (
        len(dataset.resources) + len(dataset.agreements) + len(dataset.regulations) + len(dataset.groups)
    )
    log.info(
        "demo registry: %d organizations, %d educators, %d networks, %d memberships (synthetic data)",
        len(dataset.organizations),
        len(dataset.educators),
        len(dataset.networks),
        len(dataset.memberships),
    )
    return written
