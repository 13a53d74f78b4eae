"""Reference data: subjects of the Russian Federation and their municipalities, loadable."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from setka_runtime.errors import DomainError
from setka_runtime.sql import insert_ignoring_conflicts
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from . import rules
from .models import Municipality, Region


@dataclass(frozen=True)
class RegionData:
    code: str
    name: str
    municipalities: tuple[str, ...] = field(default_factory=tuple)


BUILTIN: tuple[RegionData, ...] = (
    RegionData(
        "39",
        "Калининградская область",
        (
            "Балтийский муниципальный округ",
            "городской округ «Город Калининград»",
            "Гурьевский муниципальный округ",
            "Зеленоградский муниципальный округ",
            "Светловский городской округ",
            "Черняховский муниципальный округ",
        ),
    ),
    RegionData(
        "08",
        "Республика Калмыкия",
        (
            "г. Элиста",
            "Городовиковский район",
            "Ики-Бурульский район",
            "Кетченеровский район",
            "Лаганский район",
            "Малодербетовский район",
            "Октябрьский район",
            "Приютненский район",
            "Сарпинский район",
            "Целинный район",
            "Черноземельский район",
            "Юстинский район",
            "Яшкульский район",
        ),
    ),
)
"""The regions of our source regulations; other regions are loaded the same way from a list."""


async def load_reference(session: AsyncSession, regions: Iterable[RegionData] = BUILTIN) -> int:
    """Add regions and municipalities not yet known; returns how many municipalities were added.

    Safe to run again: what is already there is left as it is.
    """
    added = 0
    for region in regions:
        code = rules.check_region_code(region.code)
        await session.execute(
            insert_ignoring_conflicts(session, Region.__table__).values(
                code=code, name=rules.check_name(region.name, field="name", limit=200)
            )
        )
        known = set(
            (await session.scalars(select(Municipality.name).where(Municipality.region_code == code))).all()
        )
        for name in region.municipalities:
            clean = rules.check_name(name, field="municipalities", limit=200)
            if clean in known:
                continue
            session.add(Municipality(region_code=code, name=clean))
            known.add(clean)
            added += 1
    await session.flush()
    return added


async def find_municipality(
    session: AsyncSession, *, region_code: str, name: str | None, municipality_id: uuid.UUID | None
) -> Municipality | None:
    """The municipality given by id (must be in the region), or by name if it is known."""
    if municipality_id is not None:
        found = await session.get(Municipality, municipality_id)
        if found is None:
            raise DomainError("no such municipality", field="municipalityId")
        if found.region_code != region_code:
            raise DomainError("the municipality is in another region", field="municipalityId")
        return found
    if name:
        clean = " ".join(name.split())
        return await session.scalar(
            select(Municipality).where(Municipality.region_code == region_code, Municipality.name == clean)
        )
    return None


async def municipalities_named(
    session: AsyncSession, wanted: set[tuple[str, str | None]]
) -> dict[tuple[str, str], Municipality]:
    """The known municipalities among (region code, name) pairs, by (region code, name), in one query."""
    regions = {region for region, name in wanted if name}
    if not regions:
        return {}
    found = await session.scalars(select(Municipality).where(Municipality.region_code.in_(sorted(regions))))
    return {(m.region_code, m.name): m for m in found}
