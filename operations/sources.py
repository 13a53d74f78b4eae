"""``setka sources``: the registered sources of regional facts, from the operator's side.

The operator acts for every region (an admin of every region in the API's terms). The rules are
the events service's own (:mod:`services.events.sources`); this module only opens its database.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from setka_runtime import audit
from setka_runtime.access import Target
from setka_runtime.db import Database
from setka_runtime.identities import SnilsRefused, snils_hash
from sqlalchemy.ext.asyncio import AsyncSession

from services.events import identities, sources
from services.events.sources import GrantKind, Source

T = TypeVar("T")


class Refused(Exception):
    """A rule refused the command: the message (Russian, with its code) says which."""


async def _in_transaction(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from setka_runtime.errors import DomainError

    db = Database(url)
    try:
        async with db.session() as session, session.begin():
            return await work(session)
    except DomainError as error:
        raise Refused(f"{error.message} [{error.code}]") from error
    finally:
        await db.dispose()


async def listed(url: str, region_code: str | None) -> list[Source]:
    async def work(session: AsyncSession) -> list[Source]:
        found = await sources.load(
            session, region_code=region_code, every=region_code is None, with_tokens=True
        )
        return list(found.values())

    return await _in_transaction(url, work)


async def add(
    url: str, ce_source: str, *, region_code: str, title: str, grants: Mapping[GrantKind, Sequence[str]]
) -> Source:
    """Register the source (audited as the operator's)."""

    async def work(session: AsyncSession) -> Source:
        source = await sources.register(
            session,
            ce_source=ce_source,
            region_code=region_code,
            title=title,
            grants=dict(grants),
            every_region=True,
        )
        await _audited(session, "registerSource", source)
        return source

    return await _in_transaction(url, work)


async def change(
    url: str, ce_source: str, grants: Mapping[GrantKind, Sequence[str]], *, revoke: bool
) -> Source:
    """Grant the source more, or ``revoke`` grants (audited as the operator's)."""

    async def work(session: AsyncSession) -> Source:
        source = await sources.get(session, ce_source)
        for kind, values in grants.items():
            if not values:
                continue
            if revoke:
                await sources.revoke(session, source, kind, values)
            else:
                await sources.grant(session, source, kind, values, every_region=True)
        await _audited(session, "revokeSource" if revoke else "grantSource", source)
        return source

    return await _in_transaction(url, work)


async def issue_token(url: str, ce_source: str) -> tuple[str, Source]:
    """A new bearer token of the source (shown once; only its digest is kept), audited as the
    operator's."""

    async def work(session: AsyncSession) -> tuple[str, Source]:
        source = await sources.get(session, ce_source)
        token, _ = await sources.issue_token(session, source, by=audit.operator())
        await _audited(session, "issueSourceToken", source)
        return token, source

    return await _in_transaction(url, work)


async def revoke_tokens(url: str, ce_source: str, token_id: str | None) -> tuple[int, Source]:
    """Revoke one token of the source, or every one; how many were revoked now."""

    async def work(session: AsyncSession) -> tuple[int, Source]:
        source = await sources.get(session, ce_source)
        try:
            which = uuid.UUID(token_id) if token_id else None
        except ValueError:
            raise Refused(f"«{token_id}» — не идентификатор токена [INVALID_ID]") from None
        revoked = await sources.revoke_tokens(session, source, by=audit.operator(), token_id=which)
        if revoked:
            await _audited(session, "revokeSourceToken", source)
        return len(revoked), source

    return await _in_transaction(url, work)


async def _audited(session: AsyncSession, operation: str, source: Source) -> None:
    """The operator's entry in the audit trail, named as the API's mutation is, with the changes
    the command noted (:func:`setka_runtime.audit.note`)."""
    await audit.record(
        session,
        service="events",
        operation=operation,
        target=Target.of(region_code=source.region_code),
        **audit.actor(),
    )


async def one(url: str, ce_source: str) -> Source:
    return await _in_transaction(url, lambda session: sources.get(session, ce_source))


def as_json(source: Source) -> dict[str, Any]:
    return {
        "ce_source": source.ce_source,
        "region_code": source.region_code,
        "title": source.title,
        "kafka_user": sources.kafka_user(source),
        **{kind.value + "s": sorted(values) for kind, values in source.grants.items()},
        "tokens": [
            {
                "id": str(token.id),
                "issued_at": token.issued_at.isoformat(),
                "issued_by": token.issued_by,
                "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
            }
            for token in source.tokens
        ],
    }


def acl(source: Source, *, output: str, cluster: str, namespace: str | None) -> str:
    """The source's Kafka ACL template: a Strimzi KafkaUser (YAML) or the compose job's lines."""
    if output == "strimzi":
        manifest = sources.strimzi_user(source, cluster=cluster, namespace=namespace)
        header = (
            f"# KafkaUser of the regional source {source.ce_source}: it may write to its granted topics\n"
            "# only (never a .dlq topic). Strimzi keeps its password in the Secret of the same name.\n"
        )
        return header + "---\n" + yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False)
    lines = sources.compose_acls(source)
    return (
        f"# For docker-compose.yml's kafka-acls job: add these lines to ACLS and set\n"
        f"# {sources.compose_password_variable(source)} in its environment.\n" + "\n".join(lines) + "\n"
    )


async def learn_mappings(
    url: str, path: Path, *, kind: str, source_system: str, snils_key: str | None
) -> int:
    """Learn ``(source_system, own id) → Setka id`` from a CSV of two columns (own id or СНИЛС;
    Setka's id), with a header; a СНИЛС is kept only as its keyed hash. Return how many."""
    mapping_kind = identities.MappingKind(kind)
    rows: list[tuple[str, uuid.UUID]] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        for line, record in enumerate(csv.reader(handle, dialect), start=1):
            if line == 1 or not any(cell.strip() for cell in record):
                continue
            if len(record) < 2:
                raise Refused(f"строка {line}: нужны два столбца — код и id в Setka")
            external, setka = record[0].strip(), record[1].strip()
            try:
                setka_id = uuid.UUID(setka)
            except ValueError:
                raise Refused(f"строка {line}: «{setka}» — не id Setka") from None
            if mapping_kind is identities.MappingKind.educator_snils:
                if snils_key is None:
                    raise Refused("СНИЛС не принимается: не задан ключ SNILS_HMAC_KEY [SNILS_NOT_ACCEPTED]")
                try:
                    external = snils_hash(external, snils_key)
                except SnilsRefused as exc:
                    raise Refused(f"строка {line}: {exc}") from None
            rows.append((external, setka_id))

    async def work(session: AsyncSession) -> int:
        for external, setka_id in rows:
            await identities.learn(session, mapping_kind, source_system, external, setka_id)
        return len(rows)

    return await _in_transaction(url, work)
