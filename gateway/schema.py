"""The gateway's schema: what portals see, composed from the subgraphs with batched loads."""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.dataloader import DataLoader
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.types import Info

from .auth import CanEdit
from .settings import GatewaySettings
from .subgraphs import SubgraphError, Subgraphs

ORGANIZATION_FIELDS = "id fullName shortName kind regionCode municipality inn createdAt"
REGION_FIELDS = "regionCode organizations schools updatedAt"
MEMBERSHIP_FIELDS = "id organizationId role joinedOn leftOn"
NETWORK_FIELDS = (
    "id name level regionCode status startedOn endedOn governingBodyId coordinatorId"
    f" members {{ {MEMBERSHIP_FIELDS} }} centres {{ {MEMBERSHIP_FIELDS} }}"
)


def subgraphs(info: Info) -> Subgraphs:
    return info.context["subgraphs"]


def loaders(subgraphs: Subgraphs) -> dict[str, DataLoader[Any, Any]]:
    """Per-request loaders: every cross-service lookup of one request goes out as one call."""

    async def region_summaries(codes: list[str]) -> list[RegionSummary]:
        rows = await subgraphs.entities(
            "analytics", "RegionSummary", [{"regionCode": code} for code in codes], REGION_FIELDS
        )
        return [RegionSummary.of(row) for row in rows]

    async def organizations(ids: list[str]) -> list[Organization | None]:
        rows = await subgraphs.entities(
            "registry", "Organization", [{"id": ident} for ident in ids], ORGANIZATION_FIELDS
        )
        return [Organization.of(row) if row else None for row in rows]

    return {
        "region_summary": DataLoader(load_fn=region_summaries),
        "organization": DataLoader(load_fn=organizations),
    }


@strawberry.type(description="Network figures of one region, from analytics")
class RegionSummary:
    region_code: str
    organizations: int
    schools: int
    updated_at: datetime | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> RegionSummary:
        return cls(
            region_code=row["regionCode"],
            organizations=row["organizations"],
            schools=row["schools"],
            updated_at=datetime.fromisoformat(row["updatedAt"]) if row.get("updatedAt") else None,
        )


@strawberry.type(description="An educational organization, from the registry")
class Organization:
    id: strawberry.ID
    full_name: str
    short_name: str
    kind: str
    region_code: str
    municipality: str | None
    inn: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> Organization:
        return cls(
            id=strawberry.ID(row["id"]),
            full_name=row["fullName"],
            short_name=row["shortName"],
            kind=row["kind"],
            region_code=row["regionCode"],
            municipality=row.get("municipality"),
            inn=row.get("inn"),
            created_at=datetime.fromisoformat(row["createdAt"]),
        )

    @strawberry.field(description="Figures of the organization's region")
    async def region_summary(self, info: Info) -> RegionSummary:
        return await info.context["loaders"]["region_summary"].load(self.region_code)


@strawberry.type(description="An organization's participation in a network, from the registry")
class Membership:
    id: strawberry.ID
    organization_id: strawberry.ID
    role: str = strawberry.field(
        description="centre, partner, supported, methodological_support or coordinator"
    )
    joined_on: date
    left_on: date | None = strawberry.field(description="The first day no longer a member")

    @classmethod
    def of(cls, row: dict[str, Any]) -> Membership:
        return cls(
            id=strawberry.ID(row["id"]),
            organization_id=strawberry.ID(row["organizationId"]),
            role=row["role"],
            joined_on=date.fromisoformat(row["joinedOn"]),
            left_on=date.fromisoformat(row["leftOn"]) if row.get("leftOn") else None,
        )

    @strawberry.field(description="The member organization (one batched registry call per request)")
    async def organization(self, info: Info) -> Organization | None:
        return await info.context["loaders"]["organization"].load(str(self.organization_id))


@strawberry.type(description="A network of interaction (сеть), from the registry")
class Network:
    id: strawberry.ID
    name: str
    level: str = strawberry.field(description="municipal, inter_municipal or regional")
    region_code: str
    status: str
    started_on: date
    ended_on: date | None
    governing_body_id: strawberry.ID
    coordinator_id: strawberry.ID | None
    members: list[Membership] = strawberry.field(description="Every membership, past and present")
    centres: list[Membership] = strawberry.field(description="Centres in force today")

    @classmethod
    def of(cls, row: dict[str, Any]) -> Network:
        return cls(
            id=strawberry.ID(row["id"]),
            name=row["name"],
            level=row["level"],
            region_code=row["regionCode"],
            status=row["status"],
            started_on=date.fromisoformat(row["startedOn"]),
            ended_on=date.fromisoformat(row["endedOn"]) if row.get("endedOn") else None,
            governing_body_id=strawberry.ID(row["governingBodyId"]),
            coordinator_id=strawberry.ID(row["coordinatorId"]) if row.get("coordinatorId") else None,
            members=[Membership.of(m) for m in row["members"]],
            centres=[Membership.of(m) for m in row["centres"]],
        )

    @strawberry.field(description="The education authority governing the network")
    async def governing_body(self, info: Info) -> Organization | None:
        return await info.context["loaders"]["organization"].load(str(self.governing_body_id))

    @strawberry.field
    async def coordinator(self, info: Info) -> Organization | None:
        if self.coordinator_id is None:
            return None
        return await info.context["loaders"]["organization"].load(str(self.coordinator_id))


@strawberry.type
class NetworkEdge:
    cursor: str
    node: Network


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class OrganizationEdge:
    cursor: str
    node: Organization


@strawberry.type
class OrganizationConnection:
    edges: list[OrganizationEdge]
    page_info: PageInfo


@strawberry.type
class NetworkConnection:
    edges: list[NetworkEdge]
    page_info: PageInfo


@strawberry.type(description="A rule refused the input; show it next to the field")
class ValidationError:
    field: str | None
    message: str


@strawberry.input
class RegisterOrganizationInput:
    full_name: str
    short_name: str
    kind: str = strawberry.field(
        description="school, kindergarten, additional_education, college, "
        "methodological_service, education_authority or development_institute"
    )
    region_code: str = strawberry.field(description="Code of the subject of the RF, e.g. '39'")
    municipality: str | None = None
    inn: str | None = strawberry.field(default=None, description="ИНН, 10 digits")


RegisterOrganizationResult = Annotated[
    Organization | ValidationError, strawberry.union("RegisterOrganizationResult")
]


@strawberry.type
class Query:
    @strawberry.field(description="Organizations ordered by name, a page at a time (at most 100)")
    async def organizations(
        self, info: Info, region_code: str | None = None, first: int = 20, after: str | None = None
    ) -> OrganizationConnection:
        data = await subgraphs(info).query(
            "registry",
            "query($region: String, $first: Int!, $after: String) {"
            " organizations(regionCode: $region, first: $first, after: $after) {"
            f" edges {{ cursor node {{ {ORGANIZATION_FIELDS} }} }}"
            " pageInfo { hasNextPage endCursor } } }",
            {"region": region_code, "first": first, "after": after},
        )
        page = data["organizations"]
        return OrganizationConnection(
            edges=[
                OrganizationEdge(cursor=edge["cursor"], node=Organization.of(edge["node"]))
                for edge in page["edges"]
            ],
            page_info=PageInfo(
                has_next_page=page["pageInfo"]["hasNextPage"],
                end_cursor=page["pageInfo"]["endCursor"],
            ),
        )

    @strawberry.field(description="Networks with their members and centres, by name (at most 100 a page)")
    async def networks(
        self,
        info: Info,
        region_code: str | None = None,
        level: str | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> NetworkConnection:
        data = await subgraphs(info).query(
            "registry",
            "query($region: String, $level: String, $first: Int!, $after: String) {"
            " networks(regionCode: $region, level: $level, first: $first, after: $after) {"
            f" edges {{ cursor node {{ {NETWORK_FIELDS} }} }}"
            " pageInfo { hasNextPage endCursor } } }",
            {"region": region_code, "level": level, "first": first, "after": after},
        )
        page = data["networks"]
        return NetworkConnection(
            edges=[
                NetworkEdge(cursor=edge["cursor"], node=Network.of(edge["node"])) for edge in page["edges"]
            ],
            page_info=PageInfo(
                has_next_page=page["pageInfo"]["hasNextPage"],
                end_cursor=page["pageInfo"]["endCursor"],
            ),
        )

    @strawberry.field(description="One network with its members and centres")
    async def network(self, info: Info, id: strawberry.ID) -> Network | None:
        rows = await subgraphs(info).entities("registry", "Network", [{"id": str(id)}], NETWORK_FIELDS)
        return Network.of(rows[0]) if rows and rows[0] else None

    @strawberry.field(description="Network figures of every region that has any")
    async def region_summaries(self, info: Info) -> list[RegionSummary]:
        data = await subgraphs(info).query("analytics", f"{{ regionSummaries {{ {REGION_FIELDS} }} }}")
        return [RegionSummary.of(row) for row in data["regionSummaries"]]

    @strawberry.field(description="Network figures of one region")
    async def region_summary(self, info: Info, region_code: str) -> RegionSummary:
        return await info.context["loaders"]["region_summary"].load(region_code)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=[CanEdit],
        description="Register an organization (regional admins and municipal coordinators)",
    )
    async def register_organization(
        self, info: Info, input: RegisterOrganizationInput
    ) -> RegisterOrganizationResult:
        data = await subgraphs(info).query(
            "registry",
            "mutation($input: RegisterOrganizationInput!) {"
            " registerOrganization(input: $input) { __typename"
            f" ... on Organization {{ {ORGANIZATION_FIELDS} }}"
            " ... on ValidationError { field message } } }",
            {
                "input": {
                    "fullName": input.full_name,
                    "shortName": input.short_name,
                    "kind": input.kind,
                    "regionCode": input.region_code,
                    "municipality": input.municipality,
                    "inn": input.inn,
                }
            },
        )
        result = data["registerOrganization"]
        if result["__typename"] == "ValidationError":
            return ValidationError(field=result["field"], message=result["message"])
        return Organization.of(result)


def _visible(error: Any) -> bool:
    """Errors a client may read: permission refusals and subgraph outages, never internals."""
    original = getattr(error, "original_error", None)
    return original is None or isinstance(original, SubgraphError | GraphQLError)


def build_schema(settings: GatewaySettings) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[
            partial(QueryDepthLimiter, max_depth=settings.max_depth),
            partial(MaxAliasesLimiter, max_alias_count=settings.max_aliases),
            partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
            partial(MaskErrors, should_mask_error=lambda error: not _visible(error)),
        ],
    )
