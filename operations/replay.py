"""Replay: rebuild analytics' read models from the topics, or re-publish the outbox history.

Two ways to put events through again, for two different losses:

* :func:`rebuild_analytics` — the read models are wrong or a projection changed: the topics still
  hold the events. The consumer group ``setka.analytics`` is rewound to the earliest offsets and
  the read models are emptied (``services/analytics/rebuild.py``). Contract: every analytics
  instance is stopped first; the function waits up to ``wait_seconds`` for the group to have no
  other member and raises :class:`GroupBusy`, changing nothing, if it still has one (on the local
  Tansu broker a member stopped less than a session ago, 10 to 20 seconds, still counts). The
  rebuild itself happens when analytics starts again: it reads every event from the start and
  builds exactly the read models it had. The audit trail is kept as it is.
* :func:`republish` — the broker lost its log (a new, empty cluster; the local Tansu broker after a
  restart): each service's outbox still holds every event it ever published. They are published
  again in id order, as the relay sent them, after the topics are created
  (:mod:`setka_runtime.republish`). Consumers absorb what they already applied (inbox by event id).
"""

from __future__ import annotations

import asyncio
from typing import Any

from setka_runtime import republish as republishing
from tqdm import tqdm

from services.analytics.rebuild import GroupBusy, Rebuilt, rebuild
from services.analytics.settings import AnalyticsSettings

__all__ = ["GroupBusy", "Rebuilt", "rebuild_analytics", "republish"]


async def republish(database_url: str, bootstrap_servers: str, *, progress: bool = True) -> int:
    """Re-publish the whole outbox history of the service whose database is at ``database_url``
    into the Kafka cluster at ``bootstrap_servers`` (topics created first); return how many events.

    The producer's options and the created topics' partitions and replication come from the
    shared ``KAFKA_*`` variables. Raises
    :class:`~setka_runtime.republish.RepublishError` when the broker does not acknowledge them all
    (running it again is safe)."""
    bar: Any = None

    def advance(sent: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="event", desc="republish", leave=True)
        bar.total = total
        bar.update(sent - bar.n)

    try:
        return await republishing.republish(
            database_url, bootstrap_servers, progress=advance if progress else False
        )
    finally:
        if bar is not None:
            bar.close()


def rebuild_analytics(
    settings: AnalyticsSettings | None = None, *, group: str | None = None, wait_seconds: float = 60.0
) -> Rebuilt:
    """Rewind analytics' consumer group (``group``, default ``setka.analytics``) to the earliest
    offsets, then empty its read models; analytics rebuilds them when it starts again (see the
    module's docstring for the contract). ``settings`` default to the ``ANALYTICS_*`` and
    ``KAFKA_*`` variables. Raises :class:`GroupBusy` (nothing changed) while analytics runs."""
    settings = settings or AnalyticsSettings()
    return asyncio.run(rebuild(settings, group=group, wait_seconds=wait_seconds))
