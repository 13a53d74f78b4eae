"""``setka migrate`` and ``setka seed demo``: each service's migrations and demo data, applied to
the database its settings name."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from setka_runtime import migrations
from setka_runtime.cli import wait_for_database
from setka_runtime.db import Database
from sqlalchemy import inspect, text

from .config import migrations_of


@dataclass(frozen=True)
class Migrated:
    service: str
    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def as_json(self) -> dict[str, Any]:
        return {"service": self.service, "before": self.before, "after": self.after, "changed": self.changed}


def wait_for(url: str, *, seconds: float) -> None:
    """Return once the database answers; raise ``setka_runtime.cli.DatabaseUnreachable`` after ``seconds``."""
    wait_for_database(url, timeout=seconds, log_waits=False)


def revision(url: str, service: str) -> str | None:
    """The Alembic revision the service's database is at; None before its first migration."""
    table = f"alembic_version_{service}"

    async def read() -> str | None:
        db = Database(url)
        try:
            async with db.engine.connect() as connection:
                exists = await connection.run_sync(lambda sync: inspect(sync).has_table(table))
                if not exists:
                    return None
                value = await connection.scalar(text(f"SELECT version_num FROM {table}"))
                return str(value) if value is not None else None
        finally:
            await db.dispose()

    return asyncio.run(read())


def migrate(service: str, url: str) -> Migrated:
    before = revision(url, service)
    migrations.upgrade(migrations_of(service), url, service)
    return Migrated(service, before, revision(url, service))


def seed(service: str, url: str) -> int:
    """Load the service's demo data into its (migrated) database; how many records (0: it already
    has data, or the service has no demo of its own)."""
    import importlib

    from setka_runtime.cli import ServiceEntry, load_demo

    entry: ServiceEntry = importlib.import_module(f"services.{service}.app").ENTRY
    if entry.seed is None:
        return 0

    async def run() -> int:
        db = Database(url)
        try:
            return await load_demo(entry, db)
        finally:
            await db.dispose()

    return asyncio.run(run())
