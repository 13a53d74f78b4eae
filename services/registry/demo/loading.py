"""Loading the demo dataset into an empty registry through the domain functions.

Going through the same functions as the subgraph and the import means every demo record also
records its event in the outbox, so the other services receive the demo regions as they would
receive real ones.
"""

from __future__ import annotations

from setka_runtime.db import Database
from sqlalchemy import func, select

from ..models import Organization
from ..organizations import RegisterOrganization, register_organization
from .dataset import DEFAULT_SEED, DemoOrganization, generate


def demo_organizations(seed: int = DEFAULT_SEED) -> tuple[DemoOrganization, ...]:
    return generate(seed).organizations


async def load(db: Database, *, seed: int = DEFAULT_SEED) -> int:
    """Load the demo into an empty registry; a registry with any organization is left alone."""
    async with db.session() as session, session.begin():
        if await session.scalar(select(func.count()).select_from(Organization)):
            return 0
        dataset = generate(seed)
        for org in dataset.organizations:
            await register_organization(
                session,
                RegisterOrganization(
                    full_name=org.full_name,
                    short_name=org.short_name,
                    kind=org.kind,
                    region_code=org.region_code,
                    municipality=org.municipality,
                    inn=org.inn,
                ),
            )
    return len(dataset.organizations)
