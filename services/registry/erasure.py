"""Erasing educators' personal data (152-ФЗ): on request (the ``eraseEducator`` mutation, the
``erase-educator`` command) and by retention (``PERSONAL_DATA_RETENTION_AFTER_LEAVING_DAYS`` after
the last employment ended, looked for every ``REGISTRY_ERASURE_INTERVAL_SECONDS``).

Each erasure is one transaction (the row anonymised, the outbox scrubbed, ``educator.erased``
recorded, an audit entry), then the person's dead letters are removed from Kafka with what
identified them, which the registry alone knew and no longer keeps. The purge is audited on its
own (``purgeDeadLetters``: done, with how many letters, or not done and why), and a failure counts
in ``setka_erasure_purge_failures_total``; ``erase-educator`` on an erased educator runs it again.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from setka_runtime import audit, deadletters, metrics, outbox
from setka_runtime.access import Identity
from setka_runtime.cli import Command
from setka_runtime.db import Database
from setka_runtime.errors import DomainError
from setka_runtime.kafka import Connection, client_options
from setka_runtime.settings import ServiceSettings

from . import educators, lookups, scopes
from .settings import RegistrySettings

log = logging.getLogger(__name__)

_pending: set[asyncio.Task[Purged]] = set()

PURGED = "dead-letters-purged"
NOT_PURGED = "dead-letters-not-purged"
"""The two outcomes of a purge, as the event type of its audit entry (no event of a topic)."""


@dataclass(frozen=True)
class Purged:
    """What the purge of one person's dead letters came to."""

    removed: int
    failure: str | None = None
    """Why it could not be done (the error's kind), None when it was."""

    @property
    def note(self) -> str:
        if self.failure is None:
            return f"письма из очередей недоставленных удалены: {self.removed}"
        return (
            f"письма из очередей недоставленных не удалены ({self.failure}); "
            "повторите: python -m services.registry erase-educator <id>"
        )


@dataclass(frozen=True)
class Actor:
    """Who the purge is done for: the caller of the mutation, the operator, the retention."""

    subject: str
    roles: Sequence[str] = ()
    caller: Identity | None = None


async def purge_letters(
    db: Database, kafka: Connection, educator_id: uuid.UUID, needles: Sequence[str], actor: Actor
) -> Purged:
    """Remove the person's dead letters (by id and the ``needles``: their name, while it was
    known), then audit the outcome. A failure is logged, counted and audited, not raised: the
    erasure itself is committed, and an operator runs ``erase-educator`` again to retry."""
    try:
        purged = Purged(await deadletters.purge(kafka, [str(educator_id), *needles]))
    except Exception as error:
        log.exception("erasure of %s: the dead letters could not be purged", educator_id)
        metrics.ERASURE_PURGE_FAILURES.inc()
        purged = Purged(0, failure=type(error).__name__)
    try:
        async with db.session() as session, session.begin():
            made = audit.entry(
                service="registry",
                operation="purgeDeadLetters",
                subject=actor.subject,
                roles=actor.roles,
                caller=actor.caller,
                target=await scopes.educator(session, educator_id),
                caused=[
                    (
                        f"dead-letters:{educator_id}",
                        PURGED if purged.failure is None else NOT_PURGED,
                        str(educator_id),
                    )
                ],
                notes={PURGED: purged.note, NOT_PURGED: purged.note},
            )
            await outbox.record(session, made, source="/setka/registry")
    except Exception:
        log.exception("erasure of %s: the purge's audit entry could not be recorded", educator_id)
    return purged


def purge_in_background(db: Database, kafka: Connection, erased: educators.Erased, actor: Actor) -> None:
    """Purge after the mutation has answered (reading every dead-letter topic takes a while)."""
    task = asyncio.get_running_loop().create_task(
        purge_letters(db, kafka, erased.educator.id, erased.needles, actor)
    )
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
) -> tuple[educators.Erased, Purged]:
    """One erasure outside a GraphQL request (the command line, the retention loop), audited."""
    async with db.session() as session, session.begin():
        erased = await educators.erase_educator(session, educator_id, cause=cause, reason=reason)
        await audit.record(
            session, service="registry", operation="eraseEducator", subject=subject, roles=roles
        )
    purged = await purge_letters(db, kafka, erased.educator.id, erased.needles, Actor(subject, roles))
    return erased, purged


async def purge_again(
    db: Database, kafka: Connection, educator_id: uuid.UUID, actor: Actor
) -> tuple[datetime, Purged]:
    """Run the purge again for an educator already erased (when it failed the first time); return
    when they were erased and the outcome. Only their id is known now, so it finds the letters
    that hold the id (a letter that named them only by name stays)."""
    async with db.session() as session:
        educator = await lookups.educator(session, educator_id, field="id")
    if educator.erased_at is None:
        raise DomainError(
            "Персональные данные этого педагога не удалены", code="EDUCATOR_NOT_ERASED", field="id"
        )
    return educator.erased_at, await purge_letters(db, kafka, educator_id, (), actor)


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
        kafka = client_options(settings)
        actor = Actor(audit.operator(), [audit.OPERATOR_ROLE])
        try:
            try:
                _, purged = await erase(
                    db,
                    kafka,
                    educator_id,
                    cause=educators.ErasureCause.REQUEST,
                    reason=args.reason,
                    subject=actor.subject,
                    roles=list(actor.roles),
                )
                print(f"personal data of educator {educator_id} erased")
            except DomainError as error:
                if error.code != "EDUCATOR_ERASED":
                    print(error.message)
                    return 1
                erased_at, purged = await purge_again(db, kafka, educator_id, actor)
                print(
                    f"personal data of educator {educator_id} were already erased "
                    f"({erased_at:%Y-%m-%d %H:%M} UTC); their dead letters were purged again, "
                    "by id only (their name is no longer known)"
                )
        finally:
            await db.dispose()
        if purged.failure is not None:
            print(f"their dead letters could not be removed ({purged.failure}); run this command again")
            return 1
        print(f"dead letters removed: {purged.removed}")
        return 0

    return asyncio.run(run())


COMMAND = Command(
    help="erase an educator's personal data (152-ФЗ); on one already erased: purge their dead letters again",
    arguments=_arguments,
    run=_run,
)
