"""Registered sources of regional facts (источники) and what each may send: its grants.

A regional system is a *source*: its CloudEvents ``source`` (``ce_source``), the region whose admin
manages it, and its grants — the ``source_system`` names it may put in a fact, the inbound topics
it may publish to, and the regions or single organizations it may write about. The check every
fact passes is :mod:`.admission`'s; here are the commands of the regional admin and the operator
(register, grant, revoke), the list, a source's credentials for ``POST /facts`` (bearer tokens
issued and revoked here, only their digests kept) and the Kafka ACLs its Kafka user needs.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from setka_contracts import topics
from setka_runtime import audit
from setka_runtime.errors import DomainError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import KnownOrganization, RegisteredSource, SourceCredential, SourceGrant, now

CE_SOURCE = re.compile(r"^[\x21-\x7e]{1,200}$")
"""A ce_source: printable ASCII without spaces (a URI-reference), at most 200 characters."""
SOURCE_SYSTEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
REGION = re.compile(r"^[0-9]{2,3}$")
SOURCE_TOKEN_PREFIX = "setka-src_"
"""How a source's bearer token begins, so the gateway passes it on instead of reading it as a JWT."""


class GrantKind(StrEnum):
    """What a grant allows."""

    source_system = "source_system"
    """A ``source_system`` name the source may put in its facts."""
    topic = "topic"
    """An inbound topic it may publish to."""
    region = "region"
    """A region whose organizations it may write about."""
    organization = "organization"
    """One organization it may write about (an organization's own system)."""


GRANT_WORDS = {
    GrantKind.source_system: "системы (source_system)",
    GrantKind.topic: "темы",
    GrantKind.region: "регионы",
    GrantKind.organization: "организации",
}
"""How the audit trail names what a grant allows."""


@dataclass(frozen=True)
class SourceToken:
    """A token issued to a source, as people see it: never the token itself."""

    id: uuid.UUID
    issued_at: datetime
    issued_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None


@dataclass
class Source:
    """A registered source with its grants, as the check and the lists read it."""

    id: uuid.UUID
    ce_source: str
    region_code: str
    title: str
    grants: dict[GrantKind, set[str]] = field(default_factory=lambda: {kind: set() for kind in GrantKind})
    tokens: list[SourceToken] = field(default_factory=list)
    """Its bearer tokens for POST /facts, the oldest first (revoked ones too)."""

    def allows(self, kind: GrantKind, value: object) -> bool:
        return str(value) in self.grants[kind]

    def listed(self, kind: GrantKind) -> str:
        """The granted values of ``kind``, for a reason («нет» when none)."""
        return ", ".join(sorted(self.grants[kind])) or "нет"


async def load(
    session: AsyncSession,
    *,
    ce_sources: Iterable[str] = (),
    region_code: str | None = None,
    every: bool = False,
    with_tokens: bool = False,
) -> dict[str, Source]:
    """The registered sources by ce_source: the ones named, a region's, or ``every`` one; with
    their tokens when asked (the gate every fact passes does not need them)."""
    # the sources and their grants in one statement (the gate of every batch reads them)
    query = select(RegisteredSource, SourceGrant.kind, SourceGrant.value).outerjoin(
        SourceGrant, SourceGrant.source_id == RegisteredSource.id
    )
    names = sorted(set(ce_sources))
    if not every:
        if region_code is not None:
            query = query.where(RegisteredSource.region_code == region_code)
        else:
            query = query.where(RegisteredSource.ce_source.in_(names))  # type: ignore[attr-defined]
    found: dict[uuid.UUID, Source] = {}
    for row, kind, value in (await session.execute(query.order_by(RegisteredSource.ce_source))).all():
        source = found.get(row.id)
        if source is None:
            source = found[row.id] = Source(
                id=row.id, ce_source=row.ce_source, region_code=row.region_code, title=row.title
            )
        if kind is not None:
            source.grants[GrantKind(kind)].add(value)
    if found and with_tokens:
        credentials = await session.scalars(
            select(SourceCredential)
            .where(SourceCredential.source_id.in_(list(found)))  # type: ignore[attr-defined]
            .order_by(SourceCredential.issued_at)  # type: ignore[arg-type]
        )
        for credential in credentials.all():
            found[credential.source_id].tokens.append(_token(credential))
    return {source.ce_source: source for source in found.values()}


async def get(session: AsyncSession, ce_source: str) -> Source:
    source = (await load(session, ce_sources=[ce_source], with_tokens=True)).get(ce_source)
    if source is None:
        raise DomainError(
            f"Источник {ce_source} не зарегистрирован", code="SOURCE_NOT_FOUND", field="ceSource"
        )
    return source


async def region_of(session: AsyncSession, ce_source: str) -> str | None:
    """The region whose admin manages the source (None: not registered): a command's scope."""
    return await session.scalar(
        select(RegisteredSource.region_code).where(RegisteredSource.ce_source == ce_source)
    )


def _ce_source(value: str) -> str:
    value = value.strip()
    if not CE_SOURCE.match(value):
        raise DomainError(
            "Идентификатор источника (ce_source) — URI без пробелов, до 200 символов, "
            "например /regional/rcoi-39",
            code="INVALID_SOURCE",
            field="ceSource",
        )
    return value


async def _checked(
    session: AsyncSession, source: Source, kind: GrantKind, values: Sequence[str], *, every_region: bool
) -> list[str]:
    """The values of a grant, normalised, each checked: a name, a topic, a region, an organization
    of the source's region (any region for an admin of every region)."""
    checked: list[str] = []
    for raw in values:
        value = raw.strip()
        if kind is GrantKind.source_system and not SOURCE_SYSTEM.match(value):
            raise DomainError(
                f"Имя системы «{value}»: латиница, цифры, точка, дефис, подчёркивание, до 100 символов",
                code="INVALID_SOURCE_SYSTEM",
                field="values",
            )
        if kind is GrantKind.topic and value not in topics.INBOUND:
            raise DomainError(
                f"Топик {value} не входящий; входящие: {', '.join(topics.INBOUND)}",
                code="NOT_AN_INBOUND_TOPIC",
                field="values",
            )
        if kind is GrantKind.region:
            if not REGION.match(value):
                raise DomainError(f"Неверный код региона: {value}", code="INVALID_REGION", field="values")
            if value != source.region_code and not every_region:
                raise DomainError(
                    f"Источник региона {source.region_code} может получить только свой регион, не {value}",
                    code="REGION_OUTSIDE_SCOPE",
                    field="values",
                )
        if kind is GrantKind.organization:
            try:
                organization_id = uuid.UUID(value)
            except ValueError:
                raise DomainError(
                    f"Неверный идентификатор организации: {value}", code="INVALID_ID", field="values"
                ) from None
            organization = await session.get(KnownOrganization, organization_id)
            if organization is None:
                raise DomainError(
                    f"Организация {value} не известна Setka", code="UNKNOWN_ORGANIZATION", field="values"
                )
            if organization.region_code != source.region_code and not every_region:
                raise DomainError(
                    f"Организация {organization.short_name} — из региона {organization.region_code}, "
                    f"а источник — региона {source.region_code}",
                    code="REGION_OUTSIDE_SCOPE",
                    field="values",
                )
            value = str(organization_id)
        checked.append(value)
    return checked


async def register(
    session: AsyncSession,
    *,
    ce_source: str,
    region_code: str,
    title: str,
    grants: dict[GrantKind, Sequence[str]] | None = None,
    every_region: bool = False,
) -> Source:
    """Register a source of the region with its first grants."""
    ce_source = _ce_source(ce_source)
    region_code = region_code.strip()
    if not REGION.match(region_code):
        raise DomainError(f"Неверный код региона: {region_code}", code="INVALID_REGION", field="regionCode")
    title = title.strip()
    if not title or len(title) > 300:
        raise DomainError("Название источника — от 1 до 300 символов", code="INVALID_TITLE", field="title")
    if await region_of(session, ce_source) is not None:
        raise DomainError(
            f"Источник {ce_source} уже зарегистрирован", code="SOURCE_ALREADY_REGISTERED", field="ceSource"
        )
    row = RegisteredSource(ce_source=ce_source, region_code=region_code, title=title)
    session.add(row)
    await session.flush()
    source = Source(id=row.id, ce_source=ce_source, region_code=region_code, title=title)
    for kind, values in (grants or {}).items():
        await _grant(session, source, kind, values, every_region=every_region)
    granted = "; ".join(f"{GRANT_WORDS[kind]}: {source.listed(kind)}" for kind in GrantKind)
    _noted(
        session, "source-registered", source, f"зарегистрирован «{title}», регион {region_code}; {granted}"
    )
    return source


async def grant(
    session: AsyncSession,
    source: Source,
    kind: GrantKind,
    values: Sequence[str],
    *,
    every_region: bool = False,
) -> Source:
    """Allow the source more (granting what it has changes nothing)."""
    added = await _grant(session, source, kind, values, every_region=every_region)
    _noted(
        session,
        "source-granted",
        source,
        f"разрешено: {GRANT_WORDS[kind]} {', '.join(added) or '— ничего нового'}",
    )
    return source


async def _grant(
    session: AsyncSession, source: Source, kind: GrantKind, values: Sequence[str], *, every_region: bool
) -> list[str]:
    """:func:`grant` without its audit note: the values granted now."""
    added = []
    for value in await _checked(session, source, kind, values, every_region=every_region):
        if value not in source.grants[kind]:
            session.add(SourceGrant(source_id=source.id, kind=kind.value, value=value))
            source.grants[kind].add(value)
            added.append(value)
    await _touch(session, source)
    return added


async def revoke(session: AsyncSession, source: Source, kind: GrantKind, values: Sequence[str]) -> Source:
    """Take grants away (from the next fact on); revoking what it does not have changes nothing."""
    gone = {value.strip() for value in values}
    taken = sorted(gone & source.grants[kind])
    await session.execute(
        delete(SourceGrant).where(
            SourceGrant.source_id == source.id,  # type: ignore[arg-type]
            SourceGrant.kind == kind.value,  # type: ignore[arg-type]
            SourceGrant.value.in_(sorted(gone)),  # type: ignore[attr-defined]
        )
    )
    source.grants[kind] -= gone
    await _touch(session, source)
    _noted(
        session,
        "source-revoked",
        source,
        f"отозвано: {GRANT_WORDS[kind]} {', '.join(taken) or '— ничего из этого не было разрешено'}",
    )
    return source


def _noted(session: AsyncSession, kind: str, source: Source, what: str) -> None:
    """Name the change of the source in the audit entry of the write (no event tells of it)."""
    audit.note(session, kind=kind, key=source.ce_source, note=f"источник {source.ce_source}: {what}")


async def _touch(session: AsyncSession, source: Source) -> None:
    row = await session.get(RegisteredSource, source.id)
    if row is not None:
        row.updated_at = now()
    await session.flush()


# -- credentials for POST /facts ------------------------------------------------------------------


def token_digest(token: str) -> str:
    """What Setka keeps of a source's bearer token: its SHA-256, in hex. The token is 32 random
    bytes, so a plain hash is as good as a slow one and lets a request find its source at once."""
    return hashlib.sha256(token.encode()).hexdigest()


def _token(row: SourceCredential) -> SourceToken:
    return SourceToken(
        id=row.id,
        issued_at=row.issued_at,
        issued_by=row.issued_by,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
    )


async def issue_token(session: AsyncSession, source: Source, *, by: str) -> tuple[str, SourceToken]:
    """A new bearer token of the source: returned this once, only its digest kept. Tokens issued
    before stay valid until revoked, so a system can switch to the new one without a gap."""
    token = SOURCE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = SourceCredential(source_id=source.id, digest=token_digest(token), issued_by=by[:200])
    session.add(row)
    await _touch(session, source)
    issued = _token(row)
    source.tokens.append(issued)
    _noted(session, "source-token-issued", source, f"выдан токен {issued.id}")
    return token, issued


async def revoke_tokens(
    session: AsyncSession, source: Source, *, by: str, token_id: uuid.UUID | None = None
) -> list[SourceToken]:
    """Revoke one token of the source (``token_id``) or every one it has; from the next request
    on it is refused. Revoking a revoked token changes nothing. Returns the tokens revoked now."""
    live = [t for t in source.tokens if t.revoked_at is None and token_id in (None, t.id)]
    if token_id is not None and not any(t.id == token_id for t in source.tokens):
        raise DomainError(
            f"У источника {source.ce_source} нет токена {token_id}",
            code="SOURCE_TOKEN_NOT_FOUND",
            field="tokenId",
        )
    if not live:
        return []
    at = now()
    await session.execute(
        update(SourceCredential)
        .where(SourceCredential.id.in_([t.id for t in live]))  # type: ignore[attr-defined]
        .values(revoked_at=at, revoked_by=by[:200])
    )
    gone = {t.id for t in live}
    _noted(session, "source-token-revoked", source, f"отозван токен {', '.join(str(t.id) for t in live)}")
    source.tokens = [
        SourceToken(t.id, t.issued_at, t.issued_by, at, by[:200]) if t.id in gone else t
        for t in source.tokens
    ]
    await _touch(session, source)
    return [t for t in source.tokens if t.id in gone]


class TokenRefused(Exception):
    """A bearer token that authenticates no source: the reason, in Russian, for the 401."""


async def authenticate(session: AsyncSession, token: str) -> Source:
    """The source a bearer token belongs to; :class:`TokenRefused` for an unknown or revoked one."""
    credential = await session.scalar(
        select(SourceCredential).where(SourceCredential.digest == token_digest(token))
    )
    if credential is None:
        raise TokenRefused(
            "токен источника не известен Setka: возьмите токен, выданный вашему источнику "
            "(setka sources token или issueSourceToken) [SOURCE_TOKEN_UNKNOWN]"
        )
    row = await session.get(RegisteredSource, credential.source_id)
    assert row is not None  # the credential goes with its source (ON DELETE CASCADE)
    if credential.revoked_at is not None:
        at = credential.revoked_at
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)  # SQLite keeps naive times
        raise TokenRefused(
            f"токен источника {row.ce_source} отозван {at:%d.%m.%Y %H:%M} UTC: "
            "попросите регионального администратора выдать новый [SOURCE_TOKEN_REVOKED]"
        )
    return (await load(session, ce_sources=[row.ce_source]))[row.ce_source]


# -- Kafka ACLs --------------------------------------------------------------------------------------


def kafka_user(source: Source) -> str:
    """The Kafka principal's name of a source: its ce_source made a valid resource name."""
    name = re.sub(r"[^a-z0-9-]+", "-", source.ce_source.lower()).strip("-")
    return f"source-{name}"[:63].rstrip("-")


def strimzi_user(
    source: Source, *, cluster: str = "setka-kafka", namespace: str | None = None
) -> dict[str, Any]:
    """A Strimzi ``KafkaUser`` for the source: SCRAM credentials and literal ACLs that let it write
    to its granted topics only (never a ``.dlq`` topic, never read, never a prefix)."""
    metadata: dict[str, Any] = {
        "name": kafka_user(source),
        "labels": {"strimzi.io/cluster": cluster, "app.kubernetes.io/part-of": "setka"},
        "annotations": {"setka.io/ce-source": source.ce_source},
    }
    if namespace:
        metadata["namespace"] = namespace
    acls = [
        {
            "resource": {"type": "topic", "name": topic, "patternType": "literal"},
            "operations": ["Write", "Describe"],
        }
        for topic in granted_topics(source)
    ]
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaUser",
        "metadata": metadata,
        "spec": {
            "authentication": {"type": "scram-sha-512"},
            "authorization": {"type": "simple", "acls": acls},
        },
    }


def granted_topics(source: Source) -> list[str]:
    """The inbound topics the source may write to (a dead-letter topic is never one of them)."""
    return [t for t in sorted(source.grants[GrantKind.topic]) if t in topics.INBOUND]


def compose_acls(source: Source) -> list[str]:
    """Lines for the ``ACLS`` list of docker-compose.yml's ``kafka-acls`` job (user, resource,
    pattern, operations, names): literal Write and Describe on each granted topic. The job sets
    the user's password from ``<USER>_PASSWORD`` (upper case, ``-`` as ``_``)."""
    names = " ".join(granted_topics(source))
    return [f"{kafka_user(source)} topic literal Write,Describe {names}"] if names else []


def compose_password_variable(source: Source) -> str:
    """The variable the ``kafka-acls`` job reads the source's SCRAM password from."""
    return kafka_user(source).upper().replace("-", "_") + "_PASSWORD"
