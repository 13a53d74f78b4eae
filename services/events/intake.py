"""Every way a regional fact comes in besides Kafka, through the one path Kafka's facts take.

The single entry is :meth:`GuardedConsumer.process_explained` of the fact's inbound topic: the
envelope and contract check (:func:`~setka_runtime.consumer.read_record`), the inbox, the rules
of :mod:`services.events.regional` (and what sits in front of them: grants, identities), the
waiting room and the dead-letter topic with its reasons. A fact that does not come from Kafka is
first kept in ``accepted_fact``, then :class:`Intake` hands the kept facts, in the order
received, to that consumer as records, and writes down each one's outcome and reason.

The ways in that keep facts here:

- ``POST /facts`` (through the gateway): the CloudEvents HTTP binding in binary mode (``ce-*``
  headers, the data as the JSON body), structured mode (``application/cloudevents+json``) and
  batched mode (``application/cloudevents-batch+json``, a JSON array of events). Each event is
  read with the same function as a Kafka record (a bad one is answered 400 with the consumer's
  reason, and a batch with a bad event is refused whole), and the request's facts are stored in
  one transaction *before* the answer says 202. From then on neither a restart of this service
  nor a broker that loses its memory can lose them; the inbox claim made in the transaction that
  applies a fact makes it applied exactly once, even when this process dies between applying
  and marking it applied. The same fact again (same ``ce-source`` and ``ce-id``) is kept once.
- ``setka import FILE --kind assessment_results|trainings|deficits|attendance``
  (:mod:`services.events.importing`), a fact per row with an id derived from the row;
- the ``record*`` mutations of the events subgraph, a fact entered by hand.

Who may send over HTTP: a registered source, with a bearer token issued to it
(:func:`.sources.issue_token`; only its digest is kept, and a revoked one is refused from the
next request on), sends its own facts only (their ``ce_source`` is its own); a regional admin,
with their own token, sends facts of the registered sources of their region. Either way the
consumer then holds each fact to its source's grants.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from setka_contracts import (
    BATCH_CONTENT_TYPE,
    STRUCTURED_CONTENT_TYPE,
    EnvelopeError,
    EventData,
    binary_of,
    read_structured,
)
from setka_runtime import tracing
from setka_runtime.access import ALL_REGIONS, AccessDenied, Role, identity_from_authorization
from setka_runtime.consumer import GuardedConsumer, Item, Record, read_record
from setka_runtime.db import Database
from setka_runtime.faults import is_infrastructure
from setka_runtime.identities import SnilsRefused
from setka_runtime.sql import insert_ignoring_conflicts
from setka_runtime.tracing import CE_TRACEPARENT, CE_TRACESTATE, TRACEPARENT, TRACESTATE
from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import sources
from .identities import seal_body
from .models import AcceptedFact
from .sources import SOURCE_TOKEN_PREFIX

log = logging.getLogger(__name__)

SENDERS = (Role.regional_admin,)
"""Who may send facts with a person's token: a regional admin, for the registered sources of their
region (a source sends with its own token, for itself only)."""
MAX_REQUEST_BYTES = 4_200_000
"""The largest request: a batch of some thousands of facts (one fact's data is checked against
its own limit when it is read)."""
MAX_BATCH = 5000
"""The most events of one batched request."""
BATCH = 500

OUTCOMES = {
    "processed": "applied",
    "duplicate": "repeat",
    "deferred": "waiting",
    "dead-lettered": "rejected",
    "ignored": "ignored",
}
"""A consumer's outcome of a fact as its sender reads it."""

table = AcceptedFact.__table__  # type: ignore[attr-defined]


class Refused(Exception):
    """A request that is not accepted: the status to answer, the reason, and per event what is wrong."""

    def __init__(self, status: int, reason: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.problems = problems or []


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sends a request: a name for the record, and the source or the admin's region."""

    name: str
    source: sources.Source | None = None
    region_code: str | None = None


@dataclass(frozen=True, slots=True)
class Fact:
    """A fact read and checked, ready to be kept: its Kafka-binary form and where it goes."""

    item: Item
    topic: str
    headers: dict[str, str]
    body: bytes

    @property
    def key(self) -> tuple[str, str]:
        return (self.item.event.source, self.item.event.id)


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


def inbound_models(handlers: Mapping[str, Mapping[Any, Any]]) -> dict[str, tuple[type[EventData], str]]:
    """Each inbound type's contract model and topic, from the handlers of the inbound topics."""
    return {model.event_type: (model, topic) for topic, models in handlers.items() for model in models}


def check(
    headers: Mapping[str, str],
    body: bytes,
    models: Mapping[str, tuple[type[EventData], str]],
    *,
    snils_key: str | None = None,
) -> Fact | str:
    """A fact read exactly as the consumer of its topic reads it; or the consumer's reason. What
    is kept of it has a СНИЛС replaced by its keyed hash (the number is never stored, not even
    here)."""
    read = read_record(
        Record(value=body, headers=dict(headers)),
        {name: model for name, (model, _) in models.items()},
        topic="regional.*",
    )
    if isinstance(read, str):
        return read
    try:
        sealed = seal_body(body, snils_key)
    except SnilsRefused as exc:
        return f"{exc} [SNILS_NOT_ACCEPTED]"
    _, topic = models[read.event.type]
    return Fact(item=read, topic=topic, headers=dict(headers), body=sealed)


async def store(db: Database, facts: Sequence[Fact], *, sender: str | None) -> list[bool]:
    """Keep the facts in one transaction, in order; for each, whether it is new (else kept before)."""
    async with db.session() as session, session.begin():
        return await store_in(session, facts, sender=sender)


async def store_in(session: AsyncSession, facts: Sequence[Fact], *, sender: str | None) -> list[bool]:
    """:func:`store` in the caller's transaction (a mutation keeps its fact with its audit entry):
    one compiled statement for all the facts (the driver sends them in pages), the ones kept before
    left as they are."""
    if not facts:
        return []
    now = datetime.now(UTC)
    by = (sender or "")[:200] or None
    rows = []
    for fact in facts:
        data = fact.item.data
        key = getattr(data, getattr(type(data), "key_field", "") or "", None)
        rows.append(
            {
                "source": fact.item.event.source,
                "event_id": fact.item.event.id,
                "topic": fact.topic,
                "key": str(key)[:200] if key is not None else None,
                "headers": fact.headers,
                "body": fact.body,
                "sender": by,
                "received_at": now,
                "applied_at": None,
                "outcome": None,
                "reason": None,
            }
        )
    statement = insert_ignoring_conflicts(session, table).returning(table.c.source, table.c.event_id)
    kept = {(row.source, row.event_id) for row in await session.execute(statement, rows)}
    fresh: list[bool] = []
    for fact in facts:  # the same fact twice in one request is kept once
        fresh.append(fact.key in kept)
        kept.discard(fact.key)
    return fresh


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a kept fact: ``applied``, ``repeat``, ``waiting``, ``rejected``, or
    ``pending`` (not handed to its consumer yet), with the consumer's reason."""

    outcome: str
    reason: str = ""


async def outcomes(db: Database, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Outcome]:
    """The outcome of each kept fact, by (source, id)."""
    wanted = list(keys)
    found: dict[tuple[str, str], Outcome] = {}
    async with db.session() as session:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = await session.execute(
                select(table.c.source, table.c.event_id, table.c.outcome, table.c.reason).where(
                    tuple_(table.c.source, table.c.event_id).in_(chunk)
                )
            )
            for row in rows:
                found[(row.source, row.event_id)] = Outcome(
                    OUTCOMES.get(row.outcome or "", "pending"), row.reason or ""
                )
    return found


class Intake:
    """Keeps facts that do not come from Kafka and applies them with the consumers of their topics."""

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
        self.models = inbound_models(handlers)
        self.internal_secret = internal_secret
        self.snils_key = snils_key
        self.arrived = asyncio.Event()
        self._applying = asyncio.Lock()

    # -- receiving -----------------------------------------------------------------------------

    async def _sender(self, authorization: str | None) -> Sender:
        """Who sends: a registered source by its own bearer token, or a regional admin."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token.startswith(SOURCE_TOKEN_PREFIX):
            async with self.db.session() as session:
                try:
                    source = await sources.authenticate(session, token)
                except sources.TokenRefused as exc:
                    raise Refused(401, str(exc)) from None
            return Sender(f"source {source.ce_source}", source=source)
        try:
            identity = identity_from_authorization(authorization, self.internal_secret)
        except AccessDenied as exc:
            raise Refused(401, str(exc)) from None
        if not identity.has(*SENDERS):
            raise Refused(
                403,
                "отправлять факты может источник со своим токеном или региональный администратор "
                "[SENDER_NOT_ALLOWED]",
            )
        return Sender(identity.subject or "", region_code=identity.region_code)

    async def _check_sender(self, sender: Sender, facts: Sequence[Fact]) -> None:
        """A source's token sends that source's facts only; a regional admin's token, facts of the
        registered sources of their region (an admin of every region: of any registered source)."""
        named = sorted({fact.item.event.source for fact in facts})
        if sender.source is not None:
            foreign = [name for name in named if name != sender.source.ce_source]
            if foreign:
                raise Refused(
                    403,
                    f"это токен источника {sender.source.ce_source}; факты источника "
                    f"{', '.join(foreign)} он отправлять не может [SOURCE_TOKEN_OTHER_SOURCE]",
                )
            return
        async with self.db.session() as session:
            known = await sources.load(session, ce_sources=named)
        unregistered = [name for name in named if name not in known]
        if unregistered:
            raise Refused(
                403,
                f"источник {', '.join(unregistered)} не зарегистрирован: региональный администратор "
                "отправляет факты только зарегистрированных источников своего региона "
                "[SOURCE_NOT_REGISTERED]",
            )
        if sender.region_code == ALL_REGIONS:
            return
        elsewhere = [name for name in named if known[name].region_code != sender.region_code]
        if elsewhere:
            raise Refused(
                403,
                f"источник {', '.join(elsewhere)} — не вашего региона: региональный администратор "
                "отправляет факты только источников своего региона [SOURCE_OUTSIDE_REGION]",
            )

    async def receive(self, request: Request) -> Response:
        """``POST /facts``, in a server span (a child of the request's ``traceparent``) whose
        context each fact carries on to its consumer, as a Kafka message carries its sender's."""
        with tracing.span(
            "POST /facts",
            component="events",
            kind=tracing.SpanKind.SERVER,
            parent=tracing.extract(request.headers),
            attributes={"http.request.method": "POST", "url.path": "/facts"},
        ) as entry:
            response = await self._receive(request)
            entry.set_attribute("http.response.status_code", response.status_code)
            return response

    async def _receive(self, request: Request) -> Response:
        try:
            sender = await self._sender(request.headers.get("authorization"))
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_REQUEST_BYTES:
                    raise Refused(413, f"a request is at most {MAX_REQUEST_BYTES} bytes")
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            facts = self.read(media, dict(request.headers), body)
            await self._check_sender(sender, facts)
            traced(facts)
            fresh = await store(self.db, facts, sender=sender.name)
        except Refused as exc:
            return _refusal(exc.status, exc.reason, exc.problems)
        except Exception as exc:
            if is_infrastructure(exc):
                log.warning("facts could not be stored: %s: %s", type(exc).__name__, exc)
                return _refusal(503, "the events service cannot store facts now; send them again later")
            raise
        if any(fresh):
            self.arrived.set()
        tracing.annotate(
            {"setka.facts.accepted": sum(fresh), "setka.facts.repeated": len(fresh) - sum(fresh)}
        )
        status = 202 if any(fresh) else 200
        if media == BATCH_CONTENT_TYPE:
            answer = {"status": "accepted", "accepted": sum(fresh), "repeated": len(fresh) - sum(fresh)}
        else:
            answer = {"status": "accepted" if fresh[0] else "already accepted", "id": facts[0].item.event.id}
        return JSONResponse(answer, status_code=status)

    def read(self, media: str, http_headers: Mapping[str, str], body: bytes) -> list[Fact]:
        """The facts of one request in any mode of the HTTP binding, each checked; raises
        :class:`Refused` (nothing is kept) when any of them cannot be accepted."""
        if media in (STRUCTURED_CONTENT_TYPE, BATCH_CONTENT_TYPE):
            try:
                events = read_structured(body, batch=media == BATCH_CONTENT_TYPE)
            except EnvelopeError as exc:
                raise Refused(400, f"invalid {media}: {exc}") from None
            if not events:
                raise Refused(400, "the batch is empty")
            if len(events) > MAX_BATCH:
                raise Refused(413, f"a batch has at most {MAX_BATCH} events, this one {len(events)}")
            entries: list[tuple[dict[str, str], bytes] | str] = []
            ids = [event.get("id") if isinstance(event, dict) else None for event in events]
            for event in events:
                try:
                    entries.append(binary_of(event))
                except EnvelopeError as exc:
                    entries.append(f"invalid envelope: {exc}")
        else:
            try:
                entries = [(kafka_headers(http_headers), body)]
                ids = [http_headers.get("ce-id")]
            except UnicodeDecodeError:
                raise Refused(400, "a ce-* header is not valid UTF-8 once percent-decoded") from None
        facts: list[Fact] = []
        problems: list[dict[str, Any]] = []
        for index, entry in enumerate(entries):
            checked = (
                entry if isinstance(entry, str) else check(*entry, self.models, snils_key=self.snils_key)
            )
            if isinstance(checked, str):
                problems.append({"index": index, "id": ids[index], "reason": checked})
            else:
                facts.append(checked)
        if problems:
            if len(entries) == 1:
                raise Refused(400, problems[0]["reason"])
            raise Refused(
                400, f"{len(problems)} of {len(entries)} events cannot be accepted; none was kept", problems
            )
        return facts

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
        async with self._applying:
            return await self._apply_pending()

    async def _apply_pending(self) -> int:
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
            explained = await self.consumers[topic].process_explained(records)
            await self._mark([row.id for row in run], explained)
        return len(rows)

    async def _mark(self, ids: Sequence[int], explained: Sequence[tuple[str, str]]) -> None:
        """Write down each fact's outcome: a statement per outcome and reason (most facts of a
        batch share one: applied, no reason)."""
        alike: dict[tuple[str, str], list[int]] = {}
        for row_id, (outcome, why) in zip(ids, explained, strict=True):
            alike.setdefault((outcome, why[:2000]), []).append(row_id)
        at = datetime.now(UTC)
        async with self.db.session() as session, session.begin():
            for (outcome, why), same in alike.items():
                await session.execute(
                    update(table)
                    .where(table.c.id.in_(same))
                    .values(applied_at=at, outcome=outcome, reason=why)
                )

    async def settle(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Outcome]:
        """Apply what is kept until these facts have their outcome (a mutation waits for its fact)."""
        while True:
            found = await outcomes(self.db, keys)
            if all(found.get(key, Outcome("pending")).outcome != "pending" for key in keys):
                return found
            if not await self.apply_pending():
                await asyncio.sleep(0.05)  # another process holds them: it will mark them soon


def traced(facts: Sequence[Fact]) -> None:
    """Let each fact carry the current span's context to its consumer (``ce_traceparent``, the
    CloudEvents distributed-tracing extension), unless it names its sender's own trace: then that
    trace goes on, as for a fact from Kafka. No span (tracing off, no ``traceparent``): nothing."""
    carrier = tracing.inject({})
    if TRACEPARENT not in carrier:
        return
    for fact in facts:
        if CE_TRACEPARENT not in fact.headers:
            fact.headers[CE_TRACEPARENT] = carrier[TRACEPARENT]
            if TRACESTATE in carrier:
                fact.headers[CE_TRACESTATE] = carrier[TRACESTATE]


def _headers(stored: Any) -> dict[str, str]:
    if isinstance(stored, str):  # a driver that hands JSON back as text
        stored = json.loads(stored)
    return {str(name): str(value) for name, value in dict(stored).items()}


def _refusal(status: int, reason: str, problems: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"status": "refused", "reason": reason}
    if problems:
        body["events"] = problems[:100]
    return JSONResponse(body, status_code=status)
