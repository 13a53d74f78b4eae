"""Registered sources of regional facts through the API: a regional admin registers the systems of
their region, says what each may send and issues (and revokes) the bearer tokens each sends
facts over HTTP with (see :mod:`..sources`); every change is audited like any other write."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from setka_runtime.access import ALL_REGIONS, Role, Target
from setka_runtime.errors import DomainError
from setka_runtime.graphql import ValidationError, identity, reading, require_id, run_command
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from .. import sources
from .dead_letters import check_reader

ADMINS = (Role.regional_admin,)

SourceGrantKind = strawberry.enum(
    sources.GrantKind,
    name="SourceGrantKind",
    description="What a grant allows: a source_system name, an inbound topic, a region or one organization",
)


@strawberry.type(description="A bearer token issued to a source for POST /facts (never the token itself)")
class SourceToken:
    id: strawberry.ID
    issued_at: datetime
    issued_by: str = strawberry.field(description="Who issued it")
    revoked_at: datetime | None = strawberry.field(description="When it was revoked; refused since")
    revoked_by: str | None

    @classmethod
    def of(cls, token: sources.SourceToken) -> SourceToken:
        return cls(
            id=strawberry.ID(str(token.id)),
            issued_at=token.issued_at,
            issued_by=token.issued_by,
            revoked_at=token.revoked_at,
            revoked_by=token.revoked_by,
        )


@strawberry.type(description="A regional system registered to send facts (источник), and what it may send")
class RegionalSource:
    id: strawberry.ID
    ce_source: str = strawberry.field(description="Its CloudEvents source, e.g. /regional/rcoi-39")
    region_code: str = strawberry.field(description="The region whose admin manages it")
    title: str
    source_systems: list[str] = strawberry.field(description="The source_system names it may use")
    topics: list[str] = strawberry.field(description="The inbound topics it may publish to")
    regions: list[str] = strawberry.field(description="The regions it may write about")
    organization_ids: list[strawberry.ID] = strawberry.field(
        description="Single organizations it may write about (besides its regions)"
    )
    kafka_user: str = strawberry.field(
        description="The Kafka user its ACL templates name (setka sources acl)"
    )
    tokens: list[SourceToken] = strawberry.field(
        description="Its bearer tokens for POST /facts, the oldest first; a revoked one is refused"
    )

    @classmethod
    def of(cls, source: sources.Source) -> RegionalSource:
        grants = source.grants
        return cls(
            id=strawberry.ID(str(source.id)),
            ce_source=source.ce_source,
            region_code=source.region_code,
            title=source.title,
            source_systems=sorted(grants[sources.GrantKind.source_system]),
            topics=sorted(grants[sources.GrantKind.topic]),
            regions=sorted(grants[sources.GrantKind.region]),
            organization_ids=[strawberry.ID(v) for v in sorted(grants[sources.GrantKind.organization])],
            kafka_user=sources.kafka_user(source),
            tokens=[SourceToken.of(token) for token in source.tokens],
        )


@strawberry.type(description="A token just issued to a source: the only time the token is shown")
class IssuedSourceToken:
    token: str = strawberry.field(
        description="The bearer token (setka-src_…) the system sends facts with: give it to the system "
        "now, Setka keeps only its digest and cannot show it again"
    )
    token_id: strawberry.ID = strawberry.field(description="Its id, to revoke it alone")
    source: RegionalSource


RegionalSourceResult = Annotated[RegionalSource | ValidationError, strawberry.union("RegionalSourceResult")]
IssuedSourceTokenResult = Annotated[
    IssuedSourceToken | ValidationError, strawberry.union("IssuedSourceTokenResult")
]


@strawberry.input(description="A regional system to register, with its first grants")
class RegisterSourceInput:
    ce_source: str = strawberry.field(description="The ce_source its messages carry, e.g. /regional/rcoi-39")
    region_code: str = strawberry.field(description="The region whose admin manages it")
    title: str = strawberry.field(description="What system it is («РЦОИ Калининградской области»)")
    source_systems: list[str] = strawberry.field(default_factory=list)
    topics: list[str] = strawberry.field(
        default_factory=list, description="Inbound topics, e.g. regional.assessments"
    )
    regions: list[str] = strawberry.field(default_factory=list, description="Region codes it may write about")
    organization_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input(description="Grants to give a source, or to take away")
class SourceGrantInput:
    ce_source: str
    kind: SourceGrantKind  # type: ignore[valid-type]
    values: list[str] = strawberry.field(description="Names, topics, region codes or organization ids")


def _every_region(info: Info) -> bool:
    return identity(info).region_code == ALL_REGIONS


def _source_region(ce_source: str):  # type: ignore[no-untyped-def]
    async def scope(session: AsyncSession) -> Target:
        return Target.of(region_code=await sources.region_of(session, ce_source.strip()))

    return scope


@strawberry.type
class SourceQuery:
    @strawberry.federation.field(
        requires_scopes=[[Role.regional_admin.value]],
        description="The registered sources of a region with their grants; for the region's admin and "
        "admins of every region",
    )
    async def regional_sources(
        self, info: Info, region_code: Annotated[str, strawberry.argument(description="e.g. 39")]
    ) -> list[RegionalSource]:
        code = region_code.strip()
        if not code or len(code) > 3:
            raise DomainError("Неверный код региона", code="INVALID_REGION", field="regionCode")
        check_reader(identity(info), code)
        async with reading(info) as session:
            found = await sources.load(session, region_code=code, with_tokens=True)
        return [RegionalSource.of(source) for source in found.values()]


@strawberry.type
class SourceMutation:
    @strawberry.federation.mutation(
        requires_scopes=[[Role.regional_admin.value]],
        description="Register a regional system of the region as a source of facts, with its first grants",
    )
    async def register_source(self, info: Info, input: RegisterSourceInput) -> RegionalSourceResult:
        async def scope(session: AsyncSession) -> Target:
            return Target.of(region_code=input.region_code.strip())

        return await run_command(  # type: ignore[no-any-return]
            info,
            RegionalSource.of,
            lambda session: sources.register(
                session,
                ce_source=input.ce_source,
                region_code=input.region_code,
                title=input.title,
                grants={
                    sources.GrantKind.source_system: input.source_systems,
                    sources.GrantKind.topic: input.topics,
                    sources.GrantKind.region: input.regions,
                    sources.GrantKind.organization: [str(o) for o in input.organization_ids],
                },
                every_region=_every_region(info),
            ),
            scope=scope,
            roles=ADMINS,
        )

    @strawberry.federation.mutation(
        requires_scopes=[[Role.regional_admin.value]],
        description="Allow a source more: source_system names, topics, regions (its own) or organizations",
    )
    async def grant_source(self, info: Info, input: SourceGrantInput) -> RegionalSourceResult:
        async def act(session: AsyncSession) -> sources.Source:
            source = await sources.get(session, input.ce_source.strip())
            return await sources.grant(
                session, source, sources.GrantKind(input.kind), input.values, every_region=_every_region(info)
            )

        return await run_command(  # type: ignore[no-any-return]
            info, RegionalSource.of, act, scope=_source_region(input.ce_source), roles=ADMINS
        )

    @strawberry.federation.mutation(
        requires_scopes=[[Role.regional_admin.value]],
        description="Take grants away from a source: from its next fact on, what it sends outside them "
        "is refused",
    )
    async def revoke_source(self, info: Info, input: SourceGrantInput) -> RegionalSourceResult:
        async def act(session: AsyncSession) -> sources.Source:
            source = await sources.get(session, input.ce_source.strip())
            return await sources.revoke(session, source, sources.GrantKind(input.kind), input.values)

        return await run_command(  # type: ignore[no-any-return]
            info, RegionalSource.of, act, scope=_source_region(input.ce_source), roles=ADMINS
        )

    @strawberry.federation.mutation(
        requires_scopes=[[Role.regional_admin.value]],
        description="Issue a bearer token a source of the region sends facts to POST /facts with: the "
        "answer shows it once, Setka keeps only its digest. The source's other tokens stay valid "
        "until revoked",
    )
    async def issue_source_token(
        self, info: Info, ce_source: Annotated[str, strawberry.argument(description="e.g. /regional/rcoi-39")]
    ) -> IssuedSourceTokenResult:
        async def act(session: AsyncSession) -> tuple[str, sources.SourceToken, sources.Source]:
            source = await sources.get(session, ce_source.strip())
            token, issued = await sources.issue_token(session, source, by=identity(info).subject or "")
            return token, issued, source

        def present(done: tuple[str, sources.SourceToken, sources.Source]) -> IssuedSourceToken:
            token, issued, source = done
            return IssuedSourceToken(
                token=token, token_id=strawberry.ID(str(issued.id)), source=RegionalSource.of(source)
            )

        return await run_command(  # type: ignore[no-any-return]
            info, present, act, scope=_source_region(ce_source), roles=ADMINS
        )

    @strawberry.federation.mutation(
        requires_scopes=[[Role.regional_admin.value]],
        description="Revoke a source's bearer token (tokenId), or all of them: from the next request on "
        "POST /facts refuses it (401)",
    )
    async def revoke_source_token(
        self,
        info: Info,
        ce_source: str,
        token_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="One token; without it, every one")
        ] = None,
    ) -> RegionalSourceResult:
        async def act(session: AsyncSession) -> sources.Source:
            source = await sources.get(session, ce_source.strip())
            await sources.revoke_tokens(
                session,
                source,
                by=identity(info).subject or "",
                token_id=require_id(token_id, "tokenId") if token_id is not None else None,
            )
            return source

        return await run_command(  # type: ignore[no-any-return]
            info, RegionalSource.of, act, scope=_source_region(ce_source), roles=ADMINS
        )
