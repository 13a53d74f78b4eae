"""Forgetting a person (152-ФЗ): what the shared plumbing of every service holds of them.

When the registry erases an educator, each service scrubs the payloads it still keeps: its
outbox (published rows are the history the local broker is refilled from, so they are scrubbed
in place rather than deleted, and unsent ones go out scrubbed) and its waiting room (a message
waiting for something not known yet keeps only the fields of its contract, without personal
ones). A row concerns the person when its key or payload holds their id, or one of the
``needles`` (the name, which only the registry knows, before it erases it).

Dead letters live on Kafka, where a message cannot be edited: :func:`purge_dead_letters` removes
the person's letters from the dead-letter topics (see :mod:`setka_runtime.deadletters`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from setka_contracts import EVENT_TYPES
from setka_contracts.registry import ERASED_NAME, PERSONAL_FIELDS
from sqlalchemy import Table, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .deferred import deferred
from .tables import outbox

log = logging.getLogger(__name__)

_NAMED = frozenset({"last_name", "first_name", "full_name"})
"""Personal fields a contract requires: they keep a placeholder, the others become null."""


@dataclass(frozen=True)
class Forgotten:
    outbox_rows: int
    waiting_rows: int


def scrub(value: Any, needles: Sequence[str], *, person: bool = False) -> Any:
    """``value`` (decoded JSON) without any text holding a needle; ``person``: it is a person's
    data (an educator event of v1), whose personal fields go too."""
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for name, item in value.items():
            if person and name in PERSONAL_FIELDS and item is not None:
                result[name] = ERASED_NAME if name in _NAMED else None
            else:
                result[name] = scrub(item, needles)
        return result
    if isinstance(value, list):
        return [scrub(item, needles) for item in value]
    if isinstance(value, str) and any(needle.casefold() in value.casefold() for needle in needles):
        return ERASED_NAME
    return value


def scrubbed_payload(event_type: str, payload: str | bytes, needles: Sequence[str]) -> str:
    """A payload kept for later (an outbox row, a waiting message) made safe: only the fields
    its contract declares (an integrator's extra fields may hold a name), none personal."""
    data = json.loads(payload)
    model = EVENT_TYPES.get(event_type)
    person = False
    if model is not None and isinstance(data, dict):
        data = {name: item for name, item in data.items() if name in model.model_fields}
        person = _NAMED <= set(model.model_fields) | {"full_name"}
    return json.dumps(scrub(data, needles, person=person), ensure_ascii=False, separators=(",", ":"))


def _patterns(educator_id: str, needles: Sequence[str]) -> list[str]:
    return [f"%{text}%" for text in (educator_id, *needles) if text]


async def _has(session: AsyncSession, table: Table) -> bool:
    connection = await session.connection()
    return bool(await connection.run_sync(lambda sync: inspect(sync).has_table(table.name)))


async def forget(session: AsyncSession, educator_id: str, *, needles: Sequence[str] = ()) -> Forgotten:
    """Scrub this service's outbox and waiting room of the person, in ``session``'s transaction."""
    patterns = _patterns(educator_id, needles)
    rows = (
        await session.execute(
            select(outbox.c.id, outbox.c.event_type, outbox.c.payload).where(
                or_(outbox.c.key == educator_id, *(outbox.c.payload.like(p) for p in patterns))
            )
        )
    ).all()
    changed_outbox = 0
    for row in rows:
        clean = scrubbed_payload(row.event_type, row.payload, needles)
        if clean != row.payload:
            await session.execute(update(outbox).where(outbox.c.id == row.id).values(payload=clean))
            changed_outbox += 1
    changed_waiting = 0
    if await _has(session, deferred):
        waiting = (
            await session.execute(
                select(
                    deferred.c.consumer,
                    deferred.c.source,
                    deferred.c.event_id,
                    deferred.c.event_type,
                    deferred.c.key,
                    deferred.c.payload,
                )
            )
        ).all()
        texts = [educator_id, *needles]
        for row in waiting:
            body = (row.key or b"").decode("utf-8", "replace") + row.payload.decode("utf-8", "replace")
            if not any(text and text.casefold() in body.casefold() for text in texts):
                continue
            try:
                clean = scrubbed_payload(row.event_type, row.payload, needles).encode()
            except ValueError:  # not JSON: nothing of it can be kept safely
                clean = b"{}"
            await session.execute(
                update(deferred)
                .where(
                    deferred.c.consumer == row.consumer,
                    deferred.c.source == row.source,
                    deferred.c.event_id == row.event_id,
                )
                .values(payload=clean)
            )
            changed_waiting += 1
    if changed_outbox or changed_waiting:
        log.info(
            "erased %s: %d outbox rows, %d waiting messages scrubbed",
            educator_id,
            changed_outbox,
            changed_waiting,
        )
    return Forgotten(outbox_rows=changed_outbox, waiting_rows=changed_waiting)
