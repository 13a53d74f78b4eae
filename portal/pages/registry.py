"""The registry: organizations with search and filters (exported to XLSX and CSV), an
organization's card, networks and a network's page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..exports import Column, day, every, export_route
from ..forms import EDITORS, found
from ..gateway import GatewayError
from ..labels import (
    KINDS,
    MEMBER_ROLES,
    NETWORK_LEVELS,
    QUALIFICATION_CATEGORIES,
    RISK_FACTORS,
    RISK_LEVELS,
    STATUSES,
)
from ..web import Portal

ORDER = 20
NAV = [("/organizations", "Организации", ()), ("/networks", "Сети", ())]

PAGE = 50
FILTERS = ("regionCode", "municipalityId", "kind", "status", "networkId", "search")
NETWORK_FILTERS = ("regionCode", "search")
ORGANIZATION_COLUMNS = (
    Column("Краткое название", lambda o: o["shortName"]),
    Column("Полное название", lambda o: o["fullName"]),
    Column("Вид", lambda o: KINDS.get(o["kind"], o["kind"])),
    Column("Регион", lambda o: o["regionCode"]),
    Column("Муниципалитет", lambda o: o["municipality"]),
    Column("Статусы", lambda o: [STATUSES.get(s, s) for s in o["statuses"]]),
)
NETWORK_COLUMNS = (
    Column("Сеть", lambda n: n["name"]),
    Column("Уровень", lambda n: NETWORK_LEVELS.get(n["level"], n["level"])),
    Column("Регион", lambda n: n["regionCode"]),
    Column("Работает с", lambda n: day(n["startedOn"])),
    Column("Координатор", lambda n: (n["coordinator"] or {}).get("shortName")),
)
MEMBER_COLUMNS = (
    Column("Организация", lambda m: m["organization"]["shortName"]),
    Column("Муниципалитет", lambda m: m["organization"]["municipality"]),
    Column("Роль в сети", lambda m: MEMBER_ROLES.get(m["role"], m["role"]).capitalize()),
    Column("Участвует с", lambda m: day(m["joinedOn"])),
)


def _filters(request: Request, names: tuple[str, ...] = FILTERS) -> dict[str, Any]:
    return {name: request.query_params.get(name) or None for name in names}


def listing(
    portal: Portal,
    request: Request,
    template: str,
    page: dict[str, Any],
    asked: dict[str, Any],
    **values: Any,
) -> Response:
    """A page of a list: the connection ``page``'s rows, and what it was ``asked`` for (the link to
    the next page keeps it)."""
    query = urlencode({k: v for k, v in asked.items() if v})
    return portal.page(
        request,
        template,
        rows=[e["node"] for e in page["edges"]],
        more=page["pageInfo"],
        query=query,
        **values,
    )


def routes(portal: Portal) -> list[Route]:
    async def organizations(request: Request) -> Response:
        filters = _filters(request)
        token = portal.token(request)
        try:
            places = await portal.gateway.run("Places", token=token)
            data = await portal.gateway.run(
                "Organizations",
                {**filters, "first": PAGE, "after": request.query_params.get("after")},
                token,
            )
        except GatewayError as exc:
            return portal.failure(request, exc)
        return listing(
            portal,
            request,
            "organizations.html",
            data["organizations"],
            filters,
            filters=filters,
            places=places,
            kinds=KINDS,
            statuses=STATUSES,
        )

    async def organization(request: Request) -> Response:
        asking = portal.gateway.run("Organization", {"id": request.path_params["id"]}, portal.token(request))
        org = await found(portal, request, asking, "organization", "Такой организации нет")
        if isinstance(org, Response):
            return org
        educators, partners = await _people_and_partners(portal, request, org)
        return portal.page(
            request,
            "organization.html",
            org=org,
            kinds=KINDS,
            statuses=STATUSES,
            roles=MEMBER_ROLES,
            factors=RISK_FACTORS,
            levels=RISK_LEVELS,
            educators=educators,
            partners=partners,
            categories=QUALIFICATION_CATEGORIES,
            may_change_people=may_change_people(portal.person(request), org),
        )

    async def every_organization(request: Request) -> list[dict[str, Any]]:
        """Every organization the filters find (at most the export's limit)."""
        filters, token = _filters(request), portal.token(request)

        async def page(after: str | None) -> dict[str, Any]:
            data = await portal.gateway.run("Organizations", {**filters, "first": 100, "after": after}, token)
            return data["organizations"]

        return await every(page)

    async def networks(request: Request) -> Response:
        filters = _filters(request, NETWORK_FILTERS)
        try:
            data = await portal.gateway.run(
                "Networks",
                {**filters, "first": PAGE, "after": request.query_params.get("after")},
                portal.token(request),
            )
        except GatewayError as exc:
            return portal.failure(request, exc)
        return listing(portal, request, "networks.html", data["networks"], filters, levels=NETWORK_LEVELS)

    async def every_network(request: Request) -> list[dict[str, Any]]:
        filters, token = _filters(request, NETWORK_FILTERS), portal.token(request)

        async def page(after: str | None) -> dict[str, Any]:
            data = await portal.gateway.run("Networks", {**filters, "first": 100, "after": after}, token)
            return data["networks"]

        return await every(page)

    async def network(request: Request) -> Response:
        asking = portal.gateway.run("Network", {"id": request.path_params["id"]}, portal.token(request))
        net = await found(portal, request, asking, "network", "Такой сети нет")
        if isinstance(net, Response):
            return net
        members: dict[str, list[dict[str, Any]]] = {}
        for member in ordered_members(net):
            members.setdefault(member["role"], []).append(member)
        return portal.page(
            request,
            "network.html",
            net=net,
            members=members,
            roles=MEMBER_ROLES,
            levels=NETWORK_LEVELS,
        )

    async def network_members(request: Request) -> list[dict[str, Any]] | Response:
        asking = portal.gateway.run("Network", {"id": request.path_params["id"]}, portal.token(request))
        net = await found(portal, request, asking, "network", "Такой сети нет")
        return net if isinstance(net, Response) else ordered_members(net)

    return [
        Route("/organizations", organizations, methods=["GET"]),
        export_route(
            portal, "/organizations", "organizations", "Организации", ORGANIZATION_COLUMNS, every_organization
        ),
        Route("/organizations/{id}", organization, methods=["GET"]),
        Route("/networks", networks, methods=["GET"]),
        export_route(portal, "/networks", "networks", "Сети", NETWORK_COLUMNS, every_network),
        Route("/networks/{id}", network, methods=["GET"]),
        export_route(
            portal,
            "/networks/{id}/members",
            lambda r: f"network-members-{r.path_params['id']}",
            "Участники сети",
            MEMBER_COLUMNS,
            network_members,
        ),
    ]


def ordered_members(network: dict[str, Any]) -> list[dict[str, Any]]:
    """A network's members as its page lists them: by role, then by name."""
    order = {role: index for index, role in enumerate(MEMBER_ROLES)}
    return sorted(
        network["members"],
        key=lambda m: (order.get(m["role"], len(order)), m["organization"]["shortName"]),
    )


PERSONAL_DATA_ROLES = ("regional_admin", "municipal_coordinator", "school_representative")


def may_change_people(person: Any, organization: dict[str, Any]) -> bool:
    """Who is offered the forms of an organization's educators: the editors, and a school's
    representative for their own school (as the API allows)."""
    if person is None:
        return False
    return person.has(*EDITORS) or (
        person.has("school_representative") and person.organization_id == organization["id"]
    )


async def _people_and_partners(
    portal: Portal, request: Request, organization: dict[str, Any]
) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]] | None]:
    """An organization's educators (for those who may see its personal data) and, for a school,
    the partners recommended to it (for those whose scope covers it); None where the API does not
    answer them to this person."""
    person, token = portal.person(request), portal.token(request)
    if person is None:
        return None, None
    educators = partners = None
    variables = {"id": organization["id"]}
    if person.has(*PERSONAL_DATA_ROLES):
        data, errors = await portal.gateway.ask("OrganizationPeople", variables, token)
        if data and not errors:
            educators = [e["node"] for e in data["educators"]["edges"]]
    if organization["kind"] == "school":
        data, errors = await portal.gateway.ask("RecommendedPartners", variables, token)
        if data and not errors:
            partners = data["recommendedPartners"]
    return educators, partners
