"""Reference data: subjects of the Russian Federation and their municipalities, loadable."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

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


class Change(Enum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"


def check_oktmo(text: str) -> str:
    """An ОКТМО code of a municipality: 8 digits (or 11 for a settlement)."""
    value = "".join(text.split())
    if not re.fullmatch(r"\d{8}|\d{11}", value):
        raise DomainError(
            "Код ОКТМО — 8 цифр (11 для населённого пункта)", code="OKTMO_FORMAT", field="oktmo"
        )
    return value


async def ensure_region(session: AsyncSession, code: str, name: str | None) -> bool:
    """The region with ``code``, added under ``name`` when it is new; whether it was added.

    A known region keeps its name (a file's spelling does not rename a subject of the federation).
    """
    code = rules.check_region_code(code)
    if await session.get(Region, code) is not None:
        return False
    if not name:
        raise DomainError(
            f"Регион {code} ещё не известен; чтобы добавить его, укажите его название (столбец «Регион»)",
            code="REGION_UNKNOWN",
            field="regionName",
        )
    await session.execute(
        insert_ignoring_conflicts(session, Region.__table__).values(
            code=code, name=rules.check_name(name, field="regionName", limit=200)
        )
    )
    return True


async def ensure_municipality(
    session: AsyncSession, region_code: str, name: str, *, oktmo: str | None = None
) -> Change:
    """Add the municipality to its (known) region unless one of the same name is there (case
    and spacing aside); a known one only gains an ОКТМО code it lacks."""
    clean = rules.check_name(name, field="municipality", limit=200)
    found = (await municipalities_named(session, {(region_code, clean)})).get(
        municipality_key(region_code, clean)
    )
    if found is None:
        session.add(Municipality(region_code=region_code, name=clean, oktmo=oktmo))
        await session.flush()
        return Change.created
    change = gain_oktmo(found, oktmo)
    if change is Change.updated:
        await session.flush()
    return change


def gain_oktmo(found: Municipality, oktmo: str | None) -> Change:
    """A known municipality gains the ОКТМО code it lacks (written with the session's next flush);
    one that has another code is refused."""
    if oktmo and found.oktmo != oktmo:
        if found.oktmo:
            raise DomainError(
                f"У «{found.name}» уже есть ОКТМО {found.oktmo}, а в файле — {oktmo}",
                code="OKTMO_CONFLICT",
                field="oktmo",
            )
        found.oktmo = oktmo
        return Change.updated
    return Change.unchanged


async def load_reference(session: AsyncSession, regions: Iterable[RegionData] = BUILTIN) -> int:
    """Add regions and municipalities not yet known; returns how many municipalities were added.

    Safe to run again: what is already there is left as it is.
    """
    added = 0
    for region in regions:
        await ensure_region(session, region.code, region.name)
        for name in region.municipalities:
            if await ensure_municipality(session, region.code, name) is Change.created:
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
            raise DomainError(
                "Такого муниципального образования нет", code="MUNICIPALITY_NOT_FOUND", field="municipalityId"
            )
        if found.region_code != region_code:
            raise DomainError(
                "Муниципальное образование — из другого региона",
                code="MUNICIPALITY_IN_ANOTHER_REGION",
                field="municipalityId",
            )
        return found
    if name and name.strip():
        found = await municipalities_named(session, {(region_code, name)})
        return found.get(municipality_key(region_code, name))
    return None


def municipality_key(region_code: str, name: str) -> tuple[str, str]:
    """How a municipality is looked up by name: case, «ё» and spacing do not matter."""
    return region_code, rules.fold(name)


async def municipality_codes(
    session: AsyncSession, regions: set[str]
) -> dict[tuple[str, str], tuple[uuid.UUID, str | None]]:
    """The municipalities of ``regions`` as (id, ОКТМО) by :func:`municipality_key`, in one query
    of plain values (an import's chunk: no objects to build)."""
    if not regions:
        return {}
    table = Municipality.__table__
    rows = await session.execute(
        select(table.c.id, table.c.region_code, table.c.name, table.c.oktmo).where(
            table.c.region_code.in_(sorted(regions))
        )
    )
    return {municipality_key(code, name): (ident, oktmo) for ident, code, name, oktmo in rows}


async def municipalities_named(
    session: AsyncSession, wanted: set[tuple[str, str | None]]
) -> dict[tuple[str, str], Municipality]:
    """The municipalities of the regions among (region code, name) pairs, by
    :func:`municipality_key`, in one query."""
    regions = {region for region, name in wanted if name}
    if not regions:
        return {}
    found = await session.scalars(select(Municipality).where(Municipality.region_code.in_(sorted(regions))))
    return {municipality_key(m.region_code, m.name): m for m in found}
