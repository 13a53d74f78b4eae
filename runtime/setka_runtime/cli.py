"""The command line of every service: ``python -m services.<name> serve|migrate|seed|dead-letters``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from . import audit, deadletters, logs, migrations
from .db import Database
from .settings import ServiceSettings

log = logging.getLogger(__name__)


KEEP_ALIVE_SECONDS = 75
"""How long a process keeps an idle HTTP connection open. Its callers (the gateway's pool keeps
idle connections 30 s, routers and load balancers about 60 s) must drop an idle connection
before the server does: otherwise a request sent on a connection the server is just closing
fails as "service unavailable" (seen with uvicorn's default of 5 s)."""


def serve_http(app: Any, *, host: str, port: int, log_level: str) -> None:
    """Serve an ASGI app until SIGINT/SIGTERM, the same way for every service and the gateway."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        timeout_graceful_shutdown=10,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        log_config=None,
    )


@dataclass(frozen=True)
class Command:
    """A service's own operator command: it declares its arguments, then runs on a migrated database.

    ``run`` returns the process exit status.
    """

    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, ServiceSettings], int]


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    settings: Callable[[], ServiceSettings]
    migrations: Path
    app: Callable[[ServiceSettings], Any]
    seed: Callable[[Database], Awaitable[int]] | None = None
    commands: Mapping[str, Command] = field(default_factory=dict)


class DatabaseUnreachable(RuntimeError):
    """The database did not answer in time."""


def wait_for_database(url: str, *, timeout: float = 60.0, log_waits: bool = True) -> None:
    """The prestart step: return once the database answers; raise :class:`DatabaseUnreachable`
    after ``timeout`` seconds."""

    async def ping() -> None:
        db = Database(url)
        try:
            await db.ping()
        finally:
            await db.dispose()

    deadline = time.monotonic() + timeout
    while True:
        try:
            asyncio.run(ping())
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise DatabaseUnreachable(f"{type(exc).__name__}: {exc}") from exc
            if log_waits:
                log.warning("waiting for the database: %s", exc)
            time.sleep(0.5)


async def load_demo(entry: ServiceEntry, db: Database) -> int:
    """Load the service's demo data (how many records; 0: it already had data, or it has no demo);
    a load that wrote anything is an entry of the audit trail."""
    if entry.seed is None:
        return 0
    loaded = await entry.seed(db)
    if loaded:
        await audit.record_alone(db, service=entry.name, operation="seed", **audit.actor())
    return loaded


def seed(entry: ServiceEntry, settings: ServiceSettings) -> int:
    if entry.seed is None:
        return 0

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            return await load_demo(entry, db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def main(entry: ServiceEntry, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m services.{entry.name}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="wait for the database, migrate, then serve")
    serve.add_argument("--seed-demo", action="store_true", help="load demo data into an empty database")
    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser("seed", help="migrate, then load demo data into an empty database")
    deadletters.arguments(
        commands.add_parser("dead-letters", help="list a topic's dead letters, or re-drive chosen ones")
    )
    for name, command in entry.commands.items():
        command.arguments(commands.add_parser(name, help=command.help))
    args = parser.parse_args(argv)

    settings = entry.settings()
    logs.configure(settings.log_level, fmt=settings.log_format, service=entry.name)
    if args.command == "dead-letters":
        raise SystemExit(deadletters.run(args, settings))
    if args.command in ("serve", "migrate", "seed", *entry.commands):
        try:
            wait_for_database(settings.database_url)
        except DatabaseUnreachable as exc:
            raise SystemExit(f"database not reachable after 60s: {exc}") from exc
        migrations.upgrade(entry.migrations, settings.database_url, entry.name)
        log.info("%s database migrated", entry.name)
    if args.command == "seed" or (args.command == "serve" and args.seed_demo):
        loaded = seed(entry, settings)
        log.info("%s demo data: %d records loaded", entry.name, loaded)
    if args.command in entry.commands:
        raise SystemExit(entry.commands[args.command].run(args, settings))
    if args.command == "serve":
        serve_http(entry.app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)
