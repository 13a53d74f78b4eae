"""Every service's migrations run up and down on PostgreSQL and on SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from setka_runtime import migrations
from setka_runtime.db import Database
from sqlalchemy import inspect

from tests.conftest import MIGRATIONS, SERVICES

pytestmark = pytest.mark.integration

EXPECTED = {
    "registry": {"organization", "region", "municipality", "network", "membership", "resource", "educator"},
    "events": {"known_organization"},
    "analytics": {"region_summary"},
}


async def tables(url: str) -> set[str]:
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await db.dispose()


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_migrations_go_up_down_and_up_again(
    service: str, backend: str, databases: Any, tmp_path: Path
) -> None:
    url = (
        databases.create(f"mig_{service}")
        if backend == "postgresql"
        else f"sqlite:///{tmp_path}/{service}.db"
    )
    migrations.upgrade(MIGRATIONS[service], url, service)
    created = await tables(url)
    assert EXPECTED[service] | {"outbox", "inbox", f"alembic_version_{service}"} <= created
    from alembic import command

    command.downgrade(migrations.config(MIGRATIONS[service], url, service), "base")
    assert await tables(url) == {f"alembic_version_{service}"}
    migrations.upgrade(MIGRATIONS[service], url, service)
    assert EXPECTED[service] <= await tables(url)
