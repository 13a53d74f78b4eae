"""The one way a write is put in the audit trail (``setka.audit``), whatever made it.

A subgraph mutation (:func:`setka_runtime.graphql.run_command`), an import, a demo seed, a
re-drive of dead letters, a rebuild of read models and an erasure of personal data each build
their entry with :func:`entry` and deliver it one of two ways: :func:`record`, in the write's own
database transaction through the outbox (the entry names the events the transaction caused), or
:func:`publish`, straight to the topic, for a write that has no database of its own (a re-drive
goes from one Kafka topic to another).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import uuid
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from setka_contracts import CloudEvent
from setka_contracts.audit import AuditedEvent, AuditRecorded
from sqlalchemy.ext.asyncio import AsyncSession

from . import outbox
from .access import Identity, Target
from .db import Database
from .kafka import Connection, as_options

OPERATOR_ROLE = "operator"
"""The role of an entry made from the command line: whoever could run it holds the deployment."""


def operator() -> str:
    """The subject of a command-line write: ``operator:<the account that ran it>``
    (``SETKA_OPERATOR`` names someone else, e.g. the person behind a shared account)."""
    who = os.environ.get("SETKA_OPERATOR") or getpass.getuser()
    return f"operator:{who}"


_acting: ContextVar[tuple[str, tuple[str, ...]] | None] = ContextVar("setka_audit_acting", default=None)


@contextlib.contextmanager
def acting_as(subject: str, roles: Iterable[str] = ()) -> Iterator[None]:
    """Within the block, :func:`actor` is ``subject``: e.g. a mutation that runs an import."""
    token = _acting.set((subject, tuple(roles)))
    try:
        yield
    finally:
        _acting.reset(token)


def actor() -> dict[str, object]:
    """Who makes a write that is not a mutation: whoever :func:`acting_as` names, else the
    operator at the command line (``subject`` and ``roles`` for :func:`record`)."""
    acting = _acting.get()
    if acting is not None:
        return {"subject": acting[0], "roles": list(acting[1])}
    return {"subject": operator(), "roles": [OPERATOR_ROLE]}


NOTED = "setka_audit_noted"
"""Session info: changes the transaction made that no event tells of, for its audit entry."""


def note(session: AsyncSession, *, kind: str, key: str, note: str, ident: str | None = None) -> None:
    """Name in the audit entry of the write being made in ``session`` a change that records no
    event (a source's grants, its tokens, a fact kept to be applied later): ``kind`` stands where an
    event's type would, ``key`` is what it changed, ``note`` says how in a few Russian words, and
    ``ident`` (else a new one) where an event's id would."""
    noted = session.sync_session.info.setdefault(NOTED, [])
    noted.append(
        AuditedEvent(event_id=ident or f"{kind}:{uuid.uuid4()}", event_type=kind, key=key, note=note)
    )


def system(service: str) -> str:
    """The subject of a write a service makes by itself (a periodic erasure)."""
    return f"system:{service}"


def entry(
    *,
    service: str,
    operation: str,
    subject: str,
    roles: Iterable[str] = (),
    caller: Identity | None = None,
    target: Target | None = None,
    caused: Iterable[tuple[str, str, str]] = (),
    notes: dict[str, str] | None = None,
    noted: Iterable[AuditedEvent] = (),
) -> AuditRecorded:
    """An entry: who (``subject``, or the ``caller``'s identity), what (``operation``, e.g.
    ``updateOrganization``, ``import``, ``redrive``), where (``target``) and the events it caused
    as ``(event_id, event_type, key)``; ``notes``: a few words by event type where its type and key
    do not say what it amounted to (an import's kind and rows); ``noted``: changes no event tells
    of (:func:`note`)."""
    return AuditRecorded(
        entry_id=uuid.uuid4(),
        at=datetime.now(UTC),
        service=service,
        operation=operation,
        subject=subject,
        roles=sorted(caller.scopes) if caller is not None else sorted(roles),
        actor_region_code=caller.region_code if caller is not None else None,
        actor_municipality_id=caller.municipality_id if caller is not None else None,
        actor_organization_id=caller.organization_id if caller is not None else None,
        region_code=target.region_code if target is not None else None,
        municipality_id=target.municipality_id if target is not None else None,
        organization_ids=sorted(target.organization_ids) if target is not None else [],
        events=[
            *(AuditedEvent(event_id=e, event_type=t, key=k, note=(notes or {}).get(t)) for e, t, k in caused),
            *noted,
        ],
    )


async def record(
    session: AsyncSession, *, if_changed: bool = False, **fields: object
) -> AuditRecorded | None:
    """Record the entry in ``session``'s transaction (keyword arguments of :func:`entry` but
    ``caused``): it names every event the transaction recorded so far. ``if_changed``: only if
    it recorded any (a chunk of an import that changed nothing is no write). The changes
    :func:`note` named in the transaction are in it too."""
    caused = list(session.sync_session.info.get(outbox.RECORDED, []))
    noted = session.sync_session.info.pop(NOTED, [])
    if if_changed and not caused and not noted:
        return None
    made = entry(caused=caused, noted=noted, **fields)  # type: ignore[arg-type]
    await outbox.record(session, made, source=f"/setka/{made.service}")
    return made


async def record_alone(db: Database, **fields: object) -> AuditRecorded | None:
    """Record an entry in a transaction of its own: for a write that committed in many (a seed,
    an import in batches, a rebuild), recorded once it is done."""
    async with db.session() as session, session.begin():
        return await record(session, **fields)


async def publish(kafka: Connection, made: AuditRecorded) -> None:
    """Send the entry to ``setka.audit`` and wait for the broker: for a write with no database."""
    event = CloudEvent(
        type=made.event_type, source=f"/setka/{made.service}", data=made.model_dump(mode="json")
    )
    producer = AIOKafkaProducer(**as_options(kafka), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            made.topic,
            event.body(),
            key=made.key().encode(),
            headers=[(name, value.encode()) for name, value in event.headers().items()],
        )
    finally:
        await producer.stop()
