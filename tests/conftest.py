"""Fixtures shared by every tier: a real Tansu broker, real PostgreSQL databases, a local stack."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from setka_runtime import migrations
from setka_runtime.local_broker import free_port, start_tansu
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVICES = ("registry", "events", "analytics")
MIGRATIONS = {name: ROOT / "services" / name / "migrations" for name in SERVICES}


def run_sync(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The server the tests create their databases on (each run its own, dropped afterwards)."""
    return os.environ.get("SETKA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


class DatabaseFactory:
    def __init__(self, admin_url: str, run_id: str) -> None:
        self.admin_url = admin_url
        self.run_id = run_id
        self.created: list[str] = []

    def _admin_dsn(self) -> str:
        return make_url(self.admin_url).render_as_string(hide_password=False)

    def create(self, label: str, *, migrate: str | None = None) -> str:
        """A new empty database; migrated for service ``migrate`` when given."""
        name = f"setka_test_{self.run_id}_{len(self.created)}_{label}"

        async def create() -> None:
            connection = await asyncpg.connect(self._admin_dsn())
            try:
                await connection.execute(f'CREATE DATABASE "{name}"')
            finally:
                await connection.close()

        run_sync(create())
        self.created.append(name)
        url = make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)
        if migrate:
            migrations.upgrade(MIGRATIONS[migrate], url, migrate)
        return url

    def drop_all(self) -> None:
        async def drop() -> None:
            connection = await asyncpg.connect(self._admin_dsn())
            try:
                for name in self.created:
                    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await connection.close()

        run_sync(drop())


@pytest.fixture(scope="session")
def databases(postgres_url: str, run_id: str) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(postgres_url, run_id)
    yield factory
    factory.drop_all()


@pytest.fixture
def service_databases(databases: DatabaseFactory) -> dict[str, str]:
    """One fresh, migrated PostgreSQL database per service for this test."""
    return {name: databases.create(name, migrate=name) for name in SERVICES}


class Broker:
    """A Tansu process of this test's own: its topics and groups are seen by no other test."""

    def __init__(self, log_dir: Path, *, advertised_port: int | None = None) -> None:
        self.port = free_port()
        self.advertised_port = advertised_port or self.port
        self.bootstrap = f"127.0.0.1:{self.advertised_port}"
        self.log_path = log_dir / "tansu.log"
        self.process: Any = None

    def start(self) -> None:
        self.process = start_tansu(self.port, log_path=self.log_path, advertised_port=self.advertised_port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    kafka = Broker(tmp_path)
    kafka.start()
    yield kafka
    kafka.stop()


@pytest.fixture
def proxied_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker that advertises a proxy's port: tests start ``TcpProxy(broker.port, ...)`` to reach it."""
    kafka = Broker(tmp_path, advertised_port=free_port())
    kafka.start()
    yield kafka
    kafka.stop()


@pytest.fixture
def stopped_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker whose address is known but which is not running yet."""
    kafka = Broker(tmp_path)
    yield kafka
    kafka.stop()
