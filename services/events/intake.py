"""Regional facts over HTTP: ``POST /facts`` (through the gateway), for systems that do not speak
Kafka and for anything that must not depend on what a broker keeps.

A fact is one CloudEvent in the HTTP binary binding: the ``ce-*`` attributes as headers, its data
as the JSON body, exactly what the Kafka contract carries. It is read and checked against its
contract at once, so a sender learns of a bad fact from the answer (400 with the reason), and a
good one is stored in ``accepted_fact`` before the answer says 202: from then on neither a
restart of this service nor a broker that loses its memory can lose it. :class:`Intake` applies
the stored facts in the order received with the consumer of the fact's inbound topic — the same
rules, inbox, waiting room and dead-letter topic as a fact from Kafka — and marks them applied.
The same fact sent again (same ``ce-source`` and ``ce-id``) is answered 200 and kept once.
Its source, grants and references are checked where every fact's are, in the consumer's gate
(:mod:`.admission`); a СНИЛС is replaced by its keyed hash before the fact is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from pydantic import ValidationError
from setka_contracts import EnvelopeError, parse
from setka_runtime.access import AccessDenied, Identity, Role, identity_from_authorization
from setka_runtime.consumer import GuardedConsumer, Record, brief
from setka_runtime.db import Database
from setka_runtime.faults import is_infrastructure
from setka_runtime.identities import SnilsRefused
from setka_runtime.sql import insert_ignoring_conflicts
from sqlalchemy import select, update
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .identities import seal_body
from .models import AcceptedFact

log = logging.getLogger(__name__)

SENDERS = (Role.regional_admin,)
"""Who may send facts: a regional system holds a token of a regional admin."""
MAX_REQUEST_BYTES = 1_100_000
"""A little more than a fact's largest body (the contract's limit is checked when it is read)."""
BATCH = 500

table = AcceptedFact.__table__  # type: ignore[attr-defined]


class Refused(Exception):
    """A fact that is not accepted: the status to answer and the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def kafka_headers(http_headers: Mapping[str, str]) -> dict[str, str]:
    """The CloudEvents attributes of an HTTP binary-mode request as the Kafka binding names them
    (``ce-id`` → ``ce_id``; values percent-decoded as the HTTP binding asks), and its content type."""
    headers: dict[str, str] = {}
    for name, value in http_headers.items():
        lowered = name.lower()
        if lowered.startswith("ce-"):
            headers["ce_" + lowered[3:].replace("-", "_")] = unquote(value, errors="strict")
        elif lowered == "content-type":
            headers["content-type"] = value
    return headers


class Intake:
    """Keeps facts received over HTTP and applies them with the consumers of their topics."""

    def __init__(
        self,
        db: Database,
        consumers: list[GuardedConsumer],
        handlers: Mapping[str, Mapping[Any, Any]],
        *,
        internal_secret: str | None,
        snils_key: str | None = None,
    ) -> None:
        """``handlers``: each inbound topic's handlers by contract model (what its consumer has)."""
        self.db = db
        self.consumers = {consumer.topic: consumer for consumer in consumers if consumer.topic in handlers}
        self.models = {
            model.event_type: (model, topic) for topic, models in handlers.items() for model in models
        }
        self.internal_secret = internal_secret
        self.snils_key = snils_key
        self.arrived = asyncio.Event()

    # -- receiving -----------------------------------------------------------------------------

    async def receive(self, request: Request) -> Response:
        try:
            identity = identity_from_authorization(request.headers.get("authorization"), self.internal_secret)
        except AccessDenied as exc:
            return _refusal(401, str(exc))
        if not identity.has(*SENDERS):
            return _refusal(403, "sending facts needs the role of a regional admin")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_REQUEST_BYTES:
                return _refusal(413, f"a fact is at most {MAX_REQUEST_BYTES} bytes")
        try:
            status, event_id = await self.accept(dict(request.headers), body, identity)
        except Refused as exc:
            return _refusal(exc.status, exc.reason)
        except Exception as exc:
            if is_infrastructure(exc):
                log.warning("a fact could not be stored: %s: %s", type(exc).__name__, exc)
                return _refusal(503, "the events service cannot store facts now; send it again later")
            raise
        answer = "accepted" if status == 202 else "already accepted"
        return JSONResponse({"status": answer, "id": event_id}, status_code=status)

    async def accept(
        self, http_headers: Mapping[str, str], body: bytes, identity: Identity
    ) -> tuple[int, str]:
        """Check a fact and store it; 202 if it is new, 200 if it was accepted before."""
        try:
            headers = kafka_headers(http_headers)
        except UnicodeDecodeError:
            raise Refused(400, "a ce-* header is not valid UTF-8 once percent-decoded") from None
        try:
            event = parse(headers, body)
        except EnvelopeError as exc:
            raise Refused(400, f"invalid envelope: {exc}") from None
        entry = self.models.get(event.type)
        if entry is None:
            accepted = ", ".join(sorted(self.models))
            raise Refused(400, f"type {event.type!r} is not accepted; accepted: {accepted}")
        model, topic = entry
        try:
            data = model.model_validate(event.data)
        except ValidationError as exc:
            raise Refused(400, f"does not match {event.type}: {brief(exc)}") from None
        key = getattr(data, getattr(model, "key_field", "") or "", None)
        try:
            body = seal_body(body, self.snils_key)  # the number is never stored, not even here
        except SnilsRefused as exc:
            raise Refused(400, f"{exc} [SNILS_NOT_ACCEPTED]") from None
        async with self.db.session() as session, session.begin():
            result = await session.execute(
                insert_ignoring_conflicts(session, table).values(
                    source=event.source,
                    event_id=event.id,
                    topic=topic,
                    key=str(key)[:200] if key is not None else None,
                    headers=headers,
                    body=body,
                    sender=(identity.subject or "")[:200] or None,
                    received_at=datetime.now(UTC),
                )
            )
        if result.rowcount == 0:
            return 200, event.id
        self.arrived.set()
        return 202, event.id

    # -- applying ------------------------------------------------------------------------------

    async def run(self, *, poll_seconds: float = 1.0) -> None:
        """Apply what was accepted, in order, until cancelled; wait out a database outage."""
        while True:
            try:
                applied = await self.apply_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "applying facts received over HTTP failed (%s: %s); retrying", type(exc).__name__, exc
                )
                applied = 0
                await asyncio.sleep(poll_seconds)
            if applied:
                continue
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), poll_seconds)

    async def apply_pending(self) -> int:
        """Apply the oldest accepted facts not applied yet (a batch); return how many."""
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(table.c.id, table.c.topic, table.c.key, table.c.headers, table.c.body)
                    .where(table.c.applied_at.is_(None))
                    .order_by(table.c.id)
                    .limit(BATCH)
                )
            ).all()
        if not rows:
            return 0
        # consecutive facts of one topic go to its consumer together, in the order received
        runs: list[tuple[str, list[Any]]] = []
        for row in rows:
            if runs and runs[-1][0] == row.topic:
                runs[-1][1].append(row)
            else:
                runs.append((row.topic, [row]))
        for topic, run in runs:
            records = [
                Record(
                    value=bytes(row.body),
                    headers=_headers(row.headers),
                    key=row.key.encode() if row.key is not None else None,
                    partition="http",
                    offset=row.id,
                )
                for row in run
            ]
            await self.consumers[topic].process(records)
            async with self.db.session() as session, session.begin():
                await session.execute(
                    update(table)
                    .where(table.c.id.in_([row.id for row in run]))
                    .values(applied_at=datetime.now(UTC))
                )
        return len(rows)


def _headers(stored: Any) -> dict[str, str]:
    if isinstance(stored, str):  # a driver that hands JSON back as text
        stored = json.loads(stored)
    return {str(name): str(value) for name, value in dict(stored).items()}


def _refusal(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"status": "refused", "reason": reason}, status_code=status)
