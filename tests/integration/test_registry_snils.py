"""The registry keeps of an educator's СНИЛС only its keyed hash, and publishes only the hash: the
one the events service finds the educator by when a regional system names them by СНИЛС."""

from __future__ import annotations

import json
from typing import Any

import pytest
from setka_runtime.db import Database
from setka_runtime.errors import DomainError
from setka_runtime.identities import snils_hash
from setka_runtime.tables import outbox
from sqlalchemy import select

from services.registry import educators
from services.registry.models import Educator
from tests.conftest import DatabaseFactory
from tests.helpers import tables_holding

pytestmark = pytest.mark.integration

KEY = "registry-test-snils-hmac-key-0123456789abcdef"


def person(snils: str | None) -> educators.RegisterEducator:
    return educators.RegisterEducator(last_name="Сидорова", first_name="Анна", snils=snils)


async def test_an_educator_registered_with_a_snils_keeps_and_publishes_only_its_hash(
    databases: DatabaseFactory,
) -> None:
    url = databases.create("registry", migrate="registry")
    db = Database(url)
    try:
        async with db.session() as session, session.begin():
            made = await educators.register_educator(session, person("112-233-445 95"), snils_key=KEY)
        async with db.session() as session:
            kept = await session.get(Educator, made.id)
            payloads = (await session.scalars(select(outbox.c.payload))).all()
        assert kept is not None and kept.snils_hash == snils_hash("11223344595", KEY)
        (event,) = [json.loads(p) for p in payloads]
        assert event["snils_hash"] == kept.snils_hash
        for wrong, key, code in (
            ("112-233-445 96", KEY, "INVALID_SNILS"),
            ("112-233-445 95", None, "SNILS_NOT_ACCEPTED"),
        ):
            with pytest.raises(DomainError) as refused:
                async with db.session() as session, session.begin():
                    await educators.register_educator(session, person(wrong), snils_key=key)
            assert (refused.value.code, refused.value.field) == (code, "snils")
            assert "445" not in refused.value.message
    finally:
        await db.dispose()
    found: Any = await tables_holding(url, ["11223344595", "112-233-445 95"])
    assert found == []
