"""Scratch PostgreSQL databases for one benchmark run, migrated like a real service's, then dropped."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
from setka_runtime import migrations
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
REGISTRY_MIGRATIONS = ROOT / "services" / "registry" / "migrations"


class ScratchDatabases:
    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.run_id = uuid.uuid4().hex[:8]
        self.created: list[str] = []

    def _dsn(self, database: str | None = None) -> str:
        url = make_url(self.server_url).set(drivername="postgresql")
        if database:
            url = url.set(database=database)
        return url.render_as_string(hide_password=False)

    async def create(self, label: str, *, migrate: bool = True) -> str:
        """A new database (migrated to the registry's head); returns its URL."""
        name = f"setka_bench_{self.run_id}_{len(self.created)}_{label}"
        connection = await asyncpg.connect(self._dsn())
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        self.created.append(name)
        url = self._dsn(name)
        if migrate:
            await asyncio.to_thread(migrations.upgrade, REGISTRY_MIGRATIONS, url, "registry")
        return url

    async def drop_all(self) -> None:
        connection = await asyncpg.connect(self._dsn())
        try:
            for name in self.created:
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()
