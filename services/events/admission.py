"""The one check every regional fact passes, whichever way it came in, before the rules apply it.

Kafka records, facts received over HTTP (:mod:`.intake`), facts of a file import handed to the
consumer of their topic and waiting facts handed back all reach the guarded consumer of their
inbound topic, which calls :meth:`Admission.check` on them in the transaction of their handlers
(``GuardedConsumer.gate``). In order:

1. A СНИЛС is replaced by its keyed hash in the fact itself (what may wait in the database or
   go to the dead-letter topic carries the hash, never the number).
2. The fact's ``ce_source`` is a registered source; its ``source_system`` and its topic are
   granted to it.
3. The organization (and educator) it names are resolved to Setka's ids, by whichever reference
   the fact gives (:mod:`.identities`); one not known yet makes the fact wait, and a fact that
   waited too long is dead-lettered naming the reference that failed.
4. The organization is in a region granted to the source, or is an organization granted to it.

A fact refused by 2 or 4 is dead-lettered with a reason in Russian and a stable code in brackets
(``[SOURCE_NOT_GRANTED_REGION]``); nothing of it is applied.

Unregistered sources: refused (``EVENTS_UNREGISTERED_SOURCES=refuse``, the default, under
``make run`` too, whose demo seed registers its demo source). ``accept`` is for the time an
existing installation registers its sources: a fact of an unregistered source is applied as
before (and logged); a registered source is held to its grants either way.
"""

from __future__ import annotations

import logging
from typing import Literal

from setka_runtime.consumer import Item
from sqlalchemy.ext.asyncio import AsyncSession

from . import identities, sources
from .sources import GrantKind

log = logging.getLogger(__name__)

UnregisteredSources = Literal["refuse", "accept"]


def refusal(message: str, code: str) -> str:
    """A reason as the dead-letter topic carries it: Russian for the sender, the code for a program."""
    return f"{message} [{code}]"


class Admission:
    """Grants and identities: the gate of the consumers of the inbound topics."""

    def __init__(self, *, unregistered: UnregisteredSources = "refuse", snils_key: str | None = None) -> None:
        self.unregistered = unregistered
        self.snils_key = snils_key

    async def check(self, session: AsyncSession, topic: str, items: list[Item]) -> None:
        for item in items:
            identities.seal(item, self.snils_key)
        known = await sources.load(session, ce_sources={item.event.source for item in items})
        granted: list[tuple[Item, sources.Source | None]] = []
        for item in items:
            if not item.pending:
                continue
            source = known.get(item.event.source)
            if source is None and self.unregistered == "refuse":
                item.reject(
                    refusal(
                        f"источник {item.event.source} не зарегистрирован в Setka: его регистрирует "
                        "региональный администратор (setka sources add или registerSource)",
                        "SOURCE_NOT_REGISTERED",
                    )
                )
                continue
            if source is None:
                log.info("a fact of the unregistered source %s is accepted", item.event.source)
            elif not source.allows(GrantKind.source_system, item.data.source_system):
                item.reject(
                    refusal(
                        f"источнику {source.ce_source} не разрешено имя системы «{item.data.source_system}» "
                        f"(разрешены: {source.listed(GrantKind.source_system)})",
                        "SOURCE_NOT_GRANTED_SYSTEM",
                    )
                )
                continue
            elif not source.allows(GrantKind.topic, topic):
                item.reject(
                    refusal(
                        f"источнику {source.ce_source} не разрешено публиковать в {topic} "
                        f"(разрешены: {source.listed(GrantKind.topic)})",
                        "SOURCE_NOT_GRANTED_TOPIC",
                    )
                )
                continue
            granted.append((item, source))
        resolved = await identities.resolve(session, [item for item, _ in granted])
        for item, source in granted:
            organization = resolved.get(id(item))
            if organization is None or source is None:
                continue
            if source.allows(GrantKind.region, organization.region_code) or source.allows(
                GrantKind.organization, organization.id
            ):
                continue
            if source.grants[GrantKind.region]:
                item.reject(
                    refusal(
                        f"источнику {source.ce_source} не разрешено сообщать о регионе "
                        f"{organization.region_code} ({organization.short_name}, {organization.id}); "
                        f"разрешены регионы: {source.listed(GrantKind.region)}",
                        "SOURCE_NOT_GRANTED_REGION",
                    )
                )
            else:
                item.reject(
                    refusal(
                        f"источнику {source.ce_source} не разрешено сообщать об организации "
                        f"{organization.short_name} ({organization.id})",
                        "SOURCE_NOT_GRANTED_ORGANIZATION",
                    )
                )
