"""Erasing educators' personal data (152-ФЗ): on request (the ``eraseEducator`` mutation, the
``erase-educator`` command) and by retention (``PERSONAL_DATA_RETENTION_AFTER_LEAVING_DAYS`` after
the last employment ended, looked for every ``REGISTRY_ERASURE_INTERVAL_SECONDS``).

Each erasure is one transaction (the row anonymised, the outbox scrubbed, ``educator.erased``
recorded, an audit entry), then the person's dead letters are removed from Kafka with what
identified them, which the registry alone knew and no longer keeps.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import uuid
from datetime import UTC, datetime

from setka_runtime import audit, deadletters
from setka_runtime.cli import Command
from setka_runtime.db import Database
from setka_runtime.errors import DomainError
from setka_runtime.kafka import Connection, client_options
from setka_runtime.settings import ServiceSettings

from . import educators
from .settings import RegistrySettings

log = logging.getLogger(__name__)

_pending: set[asyncio.Task[int]] = set()


async def purge_letters(kafka: Connection, erased: educators.Erased) -> int:
    """Remove the person's dead letters (by id and name); a failure is logged, not raised: the
    erasure itself is committed, and an operator can run ``erase-educator`` again to retry."""
    try:
        return await deadletters.purge(kafka, [str(erased.educator.id), *erased.needles])
    except Exception:
        log.exception("erasure of %s: the dead letters could not be purged", erased.educator.id)
        return 0


def purge_in_background(kafka: Connection, erased: educators.Erased) -> None:
    """Purge after the mutation has answered (reading every dead-letter topic takes a while)."""
    task = asyncio.get_running_loop().create_task(purge_letters(kafka, erased))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def erase(
    db: Database,
    kafka: Connection,
    educator_id: uuid.UUID,
    *,
    cause: str,
    reason: str | None,
    subject: str,
    roles: list[str],
) -> educators.Erased:
    """One erasure outside a GraphQL request (the command line, the retention loop), audited."""
    async with db.session() as session, session.begin():
        erased = await educators.erase_educator(session, educator_id, cause=cause, reason=reason)
        await audit.record(
            session, service="registry", operation="eraseEducator", subject=subject, roles=roles
        )
    await purge_letters(kafka, erased)
    return erased


async def erase_departed(db: Database, kafka: Connection, retention_days: int) -> int:
    """Erase every educator past the retention; return how many."""
    async with db.session() as session:
        due = await educators.departed_before(session, datetime.now(UTC).date(), retention_days)
    for educator_id in due:
        await erase(
            db,
            kafka,
            educator_id,
            cause=educators.ErasureCause.RETENTION,
            reason=f"истёк срок хранения: {retention_days} дн. после увольнения",
            subject=audit.system("registry"),
            roles=[],
        )
    return len(due)


async def retention_loop(db: Database, settings: RegistrySettings) -> None:
    """Apply the retention every interval until cancelled; a failed pass is logged and retried."""
    days = settings.personal_data_retention_after_leaving_days
    if days is None:
        return
    while True:
        try:
            erased = await erase_departed(db, client_options(settings), days)
            if erased:
                log.info("retention: personal data of %d educators erased", erased)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "retention: erasure failed; trying again in %s s", settings.erasure_interval_seconds
            )
        await asyncio.sleep(settings.erasure_interval_seconds)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("educator_id", help="the educator's id")
    parser.add_argument("--reason", help="why (e.g. the request's number and date)")


def _run(args: argparse.Namespace, settings: ServiceSettings) -> int:
    try:
        educator_id = uuid.UUID(args.educator_id)
    except ValueError:
        print(f"not an educator id: {args.educator_id}")
        return 2

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            await erase(
                db,
                client_options(settings),
                educator_id,
                cause=educators.ErasureCause.REQUEST,
                reason=args.reason,
                subject=audit.operator(),
                roles=[audit.OPERATOR_ROLE],
            )
        except DomainError as error:
            print(error.message)
            return 1
        finally:
            await db.dispose()
        print(f"personal data of educator {educator_id} erased")
        return 0

    return asyncio.run(run())


COMMAND = Command(help="erase an educator's personal data (152-ФЗ)", arguments=_arguments, run=_run)
