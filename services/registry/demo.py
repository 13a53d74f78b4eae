"""Synthetic demo organizations for the two regions of our source regulations.

Every name here is made up (СИНТЕТИЧЕСКИЕ ДАННЫЕ); ИНН are generated with a valid checksum.
"""

from __future__ import annotations

import random

from setka_runtime.db import Database
from sqlalchemy import func, select

from .models import Organization
from .organizations import RegisterOrganization, register_organization

_INN_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)


def synthetic_inn(rng: random.Random, prefix: str) -> str:
    """A 10-digit ИНН with a valid checksum, starting with the region's tax office code."""
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(9 - len(prefix)))
    check = sum(int(d) * w for d, w in zip(body, _INN_WEIGHTS, strict=True)) % 11 % 10
    return body + str(check)


def demo_organizations(seed: int = 2026) -> list[RegisterOrganization]:
    rng = random.Random(seed)
    result: list[RegisterOrganization] = []
    baltiysk = "Балтийский муниципальный округ"
    result.append(
        RegisterOrganization(
            full_name="Управление образования администрации Балтийского муниципального округа (демо)",
            short_name="УО Балтийск (демо)",
            kind="education_authority",
            region_code="39",
            municipality=baltiysk,
            inn=synthetic_inn(rng, "3901"),
        )
    )
    result.append(
        RegisterOrganization(
            full_name="Методический кабинет Балтийского муниципального округа (демо)",
            short_name="МК Балтийск (демо)",
            kind="methodological_service",
            region_code="39",
            municipality=baltiysk,
            inn=synthetic_inn(rng, "3901"),
        )
    )
    for number in range(1, 9):
        result.append(
            RegisterOrganization(
                full_name=f"МБОУ СОШ № {number} г. Балтийска (демо)",
                short_name=f"СОШ № {number} Балтийск (демо)",
                kind="school",
                region_code="39",
                municipality=baltiysk,
                inn=synthetic_inn(rng, "3901"),
            )
        )
    result.append(
        RegisterOrganization(
            full_name="Калмыцкий республиканский институт повышения квалификации"
            " работников образования (демо)",
            short_name="КРИПКРО (демо)",
            kind="development_institute",
            region_code="08",
            municipality="г. Элиста",
            inn=synthetic_inn(rng, "0814"),
        )
    )
    districts = [
        "г. Элиста",
        "Городовиковский район",
        "Яшкульский район",
        "Целинный район",
        "Приютненский район",
        "Лаганский район",
    ]
    for number in range(1, 17):
        district = districts[number % len(districts)]
        place = "г. Элисты" if district == "г. Элиста" else district.replace(" район", "ого района")
        result.append(
            RegisterOrganization(
                full_name=f"МКОУ «Средняя общеобразовательная школа № {number}» {place} (демо)",
                short_name=f"СОШ № {number}, {district} (демо)",
                kind="school",
                region_code="08",
                municipality=district,
                inn=synthetic_inn(rng, "08"),
            )
        )
    return result


async def load(db: Database) -> int:
    """Load the demo organizations into an empty registry; a non-empty one is left alone."""
    async with db.session() as session, session.begin():
        if await session.scalar(select(func.count()).select_from(Organization)):
            return 0
        commands = demo_organizations()
        for command in commands:
            await register_organization(session, command)
    return len(commands)
