"""Backup and restore of a service's database, on PostgreSQL and on SQLite.

Done when: a backup taken while the service writes is one consistent snapshot; backup → wipe →
restore gives back every table's rows; a damaged backup is refused before anything changes, and
a restore that does not match the manifest is reported.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from setka_contracts.registry import OrganizationRegistered
from setka_runtime import migrations
from setka_runtime.db import Database
from setka_runtime.tables import outbox
from sqlalchemy import MetaData, func, select, text

from operations.backup import BackupError, RestoreError, backup, restore
from services.registry.organizations import RegisterOrganization, register_organization
from tests.conftest import MIGRATIONS

pytestmark = pytest.mark.integration

Tables = dict[str, list[tuple[Any, ...]]]


def school(number: int) -> RegisterOrganization:
    return RegisterOrganization(
        full_name=f"МБОУ СОШ № {number} (резервная копия)",
        short_name=f"СОШ № {number}",
        kind="school",
        region_code="39",
    )


async def register(url: str, numbers: range) -> None:
    db = Database(url)
    try:
        for number in numbers:
            async with db.session() as session, session.begin():
                await register_organization(session, school(number))
    finally:
        await db.dispose()


async def every_row(url: str) -> Tables:
    """Every table of the database, its rows in a stable order."""
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            metadata = MetaData()
            await connection.run_sync(metadata.reflect)
            found: Tables = {}
            for table in metadata.sorted_tables:
                rows = await connection.execute(select(table))
                found[table.name] = sorted((tuple(row) for row in rows), key=repr)
            return found
    finally:
        await db.dispose()


async def wipe(url: str) -> None:
    """Lose the database's contents: every table dropped, a stray table left in their place."""
    db = Database(url)
    try:
        async with db.engine.begin() as connection:
            metadata = MetaData()
            await connection.run_sync(metadata.reflect)
            await connection.run_sync(metadata.drop_all)
            await connection.execute(text("CREATE TABLE stray (id INTEGER PRIMARY KEY)"))
    finally:
        await db.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str, bool], str]:
    """new_database(label, migrated): a new registry database of the parameter's kind."""

    def create(label: str, migrated: bool = True) -> str:
        if request.param == "postgresql":
            factory = request.getfixturevalue("databases")
            return str(factory.create(label, migrate="registry" if migrated else None))
        url = f"sqlite:///{tmp_path / label}.db"
        if migrated:
            migrations.upgrade(MIGRATIONS["registry"], url, "registry")
        return url

    return create


async def test_a_backup_taken_while_the_service_writes_is_one_consistent_snapshot(
    new_database: Callable[..., str], tmp_path: Path
) -> None:
    url = new_database("registry")
    await register(url, range(3))
    writing = asyncio.Event()
    stop = asyncio.Event()

    async def keep_writing() -> int:
        db = Database(url)
        written = 0
        try:
            while not stop.is_set():
                async with db.session() as session, session.begin():
                    await register_organization(session, school(100 + written))
                written += 1
                writing.set()
        finally:
            await db.dispose()
        return written

    writer = asyncio.create_task(keep_writing())
    await writing.wait()
    try:
        taken = await asyncio.to_thread(backup, {"registry": url}, tmp_path / "while-writing", progress=False)
    finally:
        stop.set()
    written = await writer

    manifest = json.loads((taken / "manifest.json").read_text())
    entry = manifest["services"]["registry"]
    assert entry["alembic_revision"] and entry["kind"] in ("postgresql", "sqlite")
    counted = entry["tables"]
    assert 3 < counted["organization"] <= 3 + written
    assert counted["outbox"] == counted["organization"]  # each registration with its event, or neither

    elsewhere = new_database("registry_restored", False)
    await asyncio.to_thread(restore, taken, {"registry": elsewhere}, progress=False)
    restored, live = await every_row(elsewhere), await every_row(url)
    assert {name: len(rows) for name, rows in restored.items()} == counted
    for name, rows in restored.items():  # the registry only added rows since: a prefix of today's
        assert set(rows) <= set(live[name]), name
    restored_db = Database(elsewhere)
    try:
        async with restored_db.session() as session:
            events = await session.scalar(
                select(func.count())
                .select_from(outbox)
                .where(outbox.c.event_type == OrganizationRegistered.event_type)
            )
    finally:
        await restored_db.dispose()
    assert events == counted["organization"]


async def test_backup_wipe_restore_gives_back_every_row(
    new_database: Callable[..., str], tmp_path: Path
) -> None:
    url = new_database("registry")
    await register(url, range(6))
    before = await every_row(url)
    assert len(before["organization"]) == 6 and len(before["outbox"]) == 6

    taken = await asyncio.to_thread(backup, {"registry": url}, tmp_path / "backup", progress=False)
    await wipe(url)
    assert set(await every_row(url)) == {"stray"}

    await asyncio.to_thread(restore, taken, {"registry": url}, progress=False)
    assert await every_row(url) == before

    # a database that went on after the backup is put back as it was, too
    await register(url, range(10, 12))
    await asyncio.to_thread(restore, taken, {"registry": url}, progress=False)
    assert await every_row(url) == before

    with pytest.raises(BackupError, match="not an empty directory"):
        backup({"registry": url}, taken, progress=False)


async def test_a_damaged_backup_is_refused_and_a_wrong_result_is_reported(
    new_database: Callable[..., str], tmp_path: Path
) -> None:
    url = new_database("registry")
    await register(url, range(4))
    taken = await asyncio.to_thread(backup, {"registry": url}, tmp_path / "backup", progress=False)
    manifest_path = taken / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    file = taken / manifest["services"]["registry"]["file"]
    await register(url, range(20, 22))  # the database moved on: a refused restore must keep this
    current = await every_row(url)

    original = file.read_bytes()
    damaged = bytearray(original)
    damaged[len(damaged) // 2] ^= 0xFF
    file.write_bytes(bytes(damaged))
    with pytest.raises(RestoreError, match="does not match its checksum"):
        restore(taken, {"registry": url}, progress=False)
    assert await every_row(url) == current

    file.write_bytes(original)
    with pytest.raises(RestoreError, match="events: not in this backup"):
        restore(taken, {"registry": url, "events": url}, progress=False)
    assert await every_row(url) == current

    # the check after restoring: a manifest that promises other counts is not met
    manifest["services"]["registry"]["tables"]["organization"] += 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(RestoreError, match=r"organization: 4 rows, the backup has 5"):
        await asyncio.to_thread(restore, taken, {"registry": url}, progress=False)


async def test_a_backup_is_private_and_a_manifest_cannot_reach_outside_it(
    new_database: Callable[..., str], tmp_path: Path
) -> None:
    """A backup holds personal data: its directory and files are the operator's alone. A restore
    reads only the backup's own files, whatever path its manifest names."""
    url = new_database("registry")
    await register(url, range(2))
    taken = await asyncio.to_thread(backup, {"registry": url}, tmp_path / "backup", progress=False)
    assert taken.stat().st_mode & 0o777 == 0o700
    assert {path.name: path.stat().st_mode & 0o777 for path in taken.iterdir()} == {
        "manifest.json": 0o600,
        json.loads((taken / "manifest.json").read_text())["services"]["registry"]["file"]: 0o600,
    }
    current = await every_row(url)
    manifest_path = taken / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    outside = tmp_path / "elsewhere.dump"
    outside.write_bytes((taken / manifest["services"]["registry"]["file"]).read_bytes())
    for named in ("../elsewhere.dump", str(outside), "events.dump"):
        manifest["services"]["registry"]["file"] = named
        manifest_path.write_text(json.dumps(manifest))
        with pytest.raises(RestoreError, match="the manifest names"):
            restore(taken, {"registry": url}, progress=False)
    assert await every_row(url) == current
