"""The registry: organizations with search and filters (exported to XLSX and CSV), an
organization's card, networks and a network's page."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..forms import found
from ..gateway import GatewayError
from ..labels import KINDS, MEMBER_ROLES, NETWORK_LEVELS, RISK_FACTORS, RISK_LEVELS, STATUSES
from ..web import Portal

ORDER = 20
NAV = [("/organizations", "Организации", ()), ("/networks", "Сети", ())]

PAGE = 50
EXPORT_LIMIT = 2000
FILTERS = ("regionCode", "municipalityId", "kind", "status", "networkId", "search")
COLUMNS = ("Краткое название", "Полное название", "Вид", "Регион", "Муниципалитет", "Статусы")


def _filters(request: Request) -> dict[str, Any]:
    return {name: request.query_params.get(name) or None for name in FILTERS}


def _row(node: dict[str, Any]) -> list[str]:
    return [
        node["shortName"],
        node["fullName"],
        KINDS.get(node["kind"], node["kind"]),
        node["regionCode"],
        node["municipality"] or "",
        ", ".join(STATUSES.get(s, s) for s in node["statuses"]),
    ]


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
    query = "&".join(f"{k}={v}" for k, v in asked.items() if v)
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

    async def export(request: Request) -> Response:
        """Every organization the filters find (at most EXPORT_LIMIT), as XLSX or CSV."""
        kind = request.path_params["format"]
        if kind not in ("csv", "xlsx"):
            return portal.page(request, "error.html", status=404, message="Выгрузка бывает в .xlsx и .csv")
        filters, token = _filters(request), portal.token(request)
        rows: list[list[str]] = []
        after = None
        try:
            while len(rows) < EXPORT_LIMIT:
                data = await portal.gateway.run(
                    "Organizations", {**filters, "first": 100, "after": after}, token
                )
                page = data["organizations"]
                rows.extend(_row(e["node"]) for e in page["edges"])
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
        except GatewayError as exc:
            return portal.failure(request, exc)
        if kind == "csv":
            text = io.StringIO()
            writer = csv.writer(text, delimiter=";")  # Excel in a Russian locale splits on ";"
            writer.writerow(COLUMNS)
            writer.writerows(rows)
            body = ("\ufeff" + text.getvalue()).encode("utf-8")  # the BOM: Excel reads it as UTF-8
            media = "text/csv; charset=utf-8"
        else:
            book = Workbook()
            sheet = book.active
            sheet.title = "Организации"
            sheet.append(COLUMNS)
            for row in rows:
                sheet.append(row)
                for cell in sheet[sheet.max_row]:
                    cell.data_type = "s"  # a name that begins like a formula stays text
            out = io.BytesIO()
            book.save(out)
            body = out.getvalue()
            media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(
            body,
            media_type=media,
            headers={"content-disposition": f'attachment; filename="organizations.{kind}"'},
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
        )

    async def networks(request: Request) -> Response:
        try:
            data = await portal.gateway.run(
                "Networks",
                {
                    "regionCode": request.query_params.get("regionCode") or None,
                    "search": request.query_params.get("search") or None,
                    "first": PAGE,
                    "after": request.query_params.get("after"),
                },
                portal.token(request),
            )
        except GatewayError as exc:
            return portal.failure(request, exc)
        return listing(portal, request, "networks.html", data["networks"], {}, levels=NETWORK_LEVELS)

    async def network(request: Request) -> Response:
        asking = portal.gateway.run("Network", {"id": request.path_params["id"]}, portal.token(request))
        net = await found(portal, request, asking, "network", "Такой сети нет")
        if isinstance(net, Response):
            return net
        members: dict[str, list[dict[str, Any]]] = {}
        for member in net["members"]:
            members.setdefault(member["role"], []).append(member)
        return portal.page(
            request,
            "network.html",
            net=net,
            members=members,
            roles=MEMBER_ROLES,
            levels=NETWORK_LEVELS,
        )

    return [
        Route("/organizations", organizations, methods=["GET"]),
        Route("/organizations/export.{format:str}", export, methods=["GET"]),
        Route("/organizations/{id}", organization, methods=["GET"]),
        Route("/networks", networks, methods=["GET"]),
        Route("/networks/{id}", network, methods=["GET"]),
    ]


PERSONAL_DATA_ROLES = ("regional_admin", "municipal_coordinator", "school_representative")


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
