"""Resource sharing (обмен ресурсами): a school asks for a partner's resource for some days; the
owner accepts or declines; either side cancels a booking before its first day (the requester takes
back an unanswered request) and records the uses; a network's resources in a period, by kind.

Each form is offered only to the side it is for (a school's representative acts for their own
school; the network's editors for either side); the gateway still decides.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import labels
from ..exports import Column, day, export_route
from ..forms import (
    EDITORS,
    PARTICIPANTS,
    Attempt,
    Field,
    Forms,
    choices,
    found,
    no_attempt,
    refused,
    signed_in,
)
from ..gateway import GatewayError
from ..web import Portal
from .plans import in_zone, person_zone

ORDER = 40
NAV = [("/resource-requests", "Ресурсы", PARTICIPANTS)]

REQUEST_FIELDS = (
    Field("requesterId", "Кто просит (организация)", required=True, invalid="Выберите организацию"),
    Field("networkId", "Сеть", required=True, invalid="Выберите сеть"),
    Field("startsOn", "С какого дня", "date", required=True, invalid="Укажите первый день"),
    Field("endsOn", "По какой день (включительно)", "date", required=True, invalid="Укажите последний день"),
    Field("purpose", "Зачем нужен ресурс", "textarea", required=True, invalid="Опишите цель"),
)
DECLINE_FIELDS = (Field("reason", "Причина отказа", "textarea", required=True, invalid="Укажите причину"),)
CANCEL_FIELDS = (
    Field("byOrganizationId", "От имени какой стороны", required=True, invalid="Выберите сторону"),
    Field("reason", "Причина отмены", "textarea"),
)
USE_FIELDS = (
    Field("recordedById", "Кто записывает (сторона)", required=True, invalid="Выберите сторону"),
    Field("usedFrom", "Первый день использования", "date", required=True, invalid="Укажите день"),
    Field("usedTo", "Последний день (если больше одного)", "date"),
    Field("note", "Что сделано", "textarea", required=True, invalid="Опишите, что сделано"),
    Field("figure", "Число (участников, часов, экземпляров)", "number"),
)
NOT_VISIBLE = "Такого ресурса нет или он вам не виден"


def sides(person: Any, request: dict[str, Any]) -> list[tuple[str, str]]:
    """The sides of a request the person may act for: a school's representative their own school,
    the editors either (the gateway decides their scope)."""
    both = [
        (request["ownerId"], (request["owner"] or {}).get("shortName", "владелец")),
        (request["requesterId"], (request["requester"] or {}).get("shortName", "просящий")),
    ]
    if person is None:
        return []
    if person.has(*EDITORS):
        return both
    return [s for s in both if s[0] == person.organization_id]


def offers(person: Any, request: dict[str, Any], today: str) -> dict[str, Any]:
    """Which forms a request's row offers the person."""
    mine = sides(person, request)
    ids = {s[0] for s in mine}
    status = request["status"]
    may_cancel = (status == "requested" and request["requesterId"] in ids) or (
        status == "accepted" and today < request["startsOn"] and bool(ids)
    )
    return {
        "sides": mine,
        "answer": status == "requested" and request["ownerId"] in ids,
        "cancel": may_cancel,
        "cancel_sides": [s for s in mine if status == "accepted" or s[0] == request["requesterId"]],
        "use": status == "accepted" and today >= request["startsOn"] and bool(ids),
    }


REQUEST_COLUMNS = (
    Column("Ресурс", lambda r: (r["resource"] or {}).get("title")),
    Column("Вид ресурса", lambda r: labels.RESOURCE_KINDS.get((r["resource"] or {}).get("kind", ""), "")),
    Column("Владелец", lambda r: (r["owner"] or {}).get("shortName")),
    Column("Кто просит", lambda r: (r["requester"] or {}).get("shortName")),
    Column("Сеть", lambda r: (r["network"] or {}).get("name")),
    Column("С", lambda r: day(r["startsOn"])),
    Column("По", lambda r: day(r["endsOn"])),
    Column("Состояние", lambda r: labels.RESOURCE_REQUEST_STATUSES.get(r["status"], r["status"])),
    Column("Цель", lambda r: r["purpose"]),
    Column("Причина отказа или отмены", lambda r: r["declineReason"] or r["cancelReason"]),
    Column("Записей об использовании", lambda r: len(r["uses"])),
)


def routes(portal: Portal) -> list[Route]:
    forms = Forms(portal, lambda request: in_zone(person_zone(portal.person(request))))

    # --- asking for a resource ------------------------------------------------------------------

    async def request_form(request: Request, attempt: Attempt | None = None) -> Response:
        who = signed_in(portal, request, PARTICIPANTS)
        if isinstance(who, Response):
            return who
        person, token = who
        asking = portal.gateway.run("RequestableResource", {"id": request.path_params["id"]}, token)
        resource = await found(portal, request, asking, "resource", NOT_VISIBLE)
        if isinstance(resource, Response):
            return resource
        if person.organization_id == resource["ownerId"] and not person.has(*EDITORS):
            return refused(portal, request, person)
        try:
            organizations = [o for o in (await choices(portal, person, token))["organizations"]]
        except GatewayError as exc:
            return portal.failure(request, exc)
        organizations = [o for o in organizations if o[0] != resource["ownerId"]]
        today = date.today().isoformat()
        owner = resource["owner"] or {"id": resource["ownerId"], "shortName": "владелец", "memberships": []}
        networks = {
            m["network"]["id"]: m["network"]["name"]
            for m in owner["memberships"]
            if m["leftOn"] is None or m["leftOn"] > today
        }
        values = {"requesterId": person.organization_id or ""} if person.organization_id else {}
        if len(networks) == 1:
            values["networkId"] = next(iter(networks))
        return forms.page(
            request,
            "resource_request.html",
            attempt or Attempt(form="request", values=values, status=200),
            resource=resource,
            owner=owner,
            organizations=organizations,
            networks=sorted(networks.items(), key=lambda n: n[1]),
            kinds=labels.RESOURCE_KINDS,
            today=today,
        )

    async def ask(request: Request) -> Response:
        ident = request.path_params["id"]
        return await forms.take(
            request,
            "request",
            REQUEST_FIELDS,
            "RequestResource",
            lambda v: {"input": {"resourceId": ident, **v}},
            again=request_form,
            then=lambda r, v: (
                f"/resource-requests?organization={v['requesterId']}#request-{r['id']}",
                "Запрос отправлен владельцу ресурса",
            ),
        )

    # --- the requests of an organization --------------------------------------------------------

    async def requests_of(request: Request) -> tuple[Any, str | None, str | None, Any] | Response:
        """(the person, the organization and the status asked, the first page of the requests),
        or the answer why not: a school's representative sees their own school's requests."""
        who = signed_in(portal, request, PARTICIPANTS)
        if isinstance(who, Response):
            return who
        person, token = who
        organization = request.query_params.get("organization") or None
        if not person.has(*EDITORS):
            organization = person.organization_id
        status = request.query_params.get("status") or None
        try:
            data = await portal.gateway.run(
                "ResourceRequests",
                {"organizationId": organization, "status": status, "first": 100, "after": None},
                token,
            )
        except GatewayError as exc:
            return portal.failure(request, exc)
        return person, organization, status, data["resourceRequests"]

    async def exported(request: Request) -> list[dict[str, Any]] | Response:
        got = await requests_of(request)
        return got if isinstance(got, Response) else [e["node"] for e in got[3]["edges"]]

    async def requests_page(request: Request, attempt: Attempt | None = None) -> Response:
        got = await requests_of(request)
        if isinstance(got, Response):
            return got
        person, organization, status, found_requests = got
        today = date.today().isoformat()
        rows = [{**e["node"], "may": offers(person, e["node"], today)} for e in found_requests["edges"]]
        if organization:
            incoming = [r for r in rows if r["ownerId"] == organization]
            outgoing = [r for r in rows if r["requesterId"] == organization]
            groups = [("Запросы к нашим ресурсам", incoming), ("Наши запросы", outgoing)]
        else:
            groups = [("Запросы в ваших полномочиях", rows)]
        return forms.page(
            request,
            "resource_requests.html",
            attempt or no_attempt(),
            groups=groups,
            organization=organization,
            status=status,
            more=found_requests["pageInfo"]["hasNextPage"],
            statuses=labels.RESOURCE_REQUEST_STATUSES,
            kinds=labels.RESOURCE_KINDS,
            today=today,
        )

    def answer(action: str, fields: tuple[Field, ...], operation: str, message: str) -> Any:
        async def take(request: Request) -> Response:
            ident = request.path_params["id"]
            back = request.query_params.get("organization")
            target = "/resource-requests" + (f"?organization={back}" if back else "")

            def variables(values: dict[str, Any]) -> dict[str, Any]:
                if action == "use":
                    return {"input": {"requestId": ident, **values}}
                return {"requestId": ident, **values}

            return await forms.take(
                request,
                f"{action}-{ident}",
                fields,
                operation,
                variables,
                again=requests_page,
                then=lambda r, v: (f"{target}#request-{ident}", message),
            )

        return take

    # --- a network's resources in a period ------------------------------------------------------

    async def summary(request: Request) -> Response:
        year = date.today().year
        asked = {k: request.query_params.get(k, "") for k in ("from", "to")}
        try:
            first = date.fromisoformat(asked["from"]) if asked["from"] else date(year, 1, 1)
            last = date.fromisoformat(asked["to"]) if asked["to"] else date(year, 12, 31)
        except ValueError:
            return portal.page(request, "error.html", status=400, message="Укажите даты в виде ГГГГ-ММ-ДД")
        asking = portal.gateway.run(
            "NetworkResources",
            {"id": request.path_params["id"], "from": first.isoformat(), "to": last.isoformat()},
            portal.token(request),
        )
        network = await found(portal, request, asking, "network", "Такой сети нет")
        if isinstance(network, Response):
            return network
        return portal.page(
            request,
            "network_resources.html",
            net=network,
            first=first.isoformat(),
            last=last.isoformat(),
            kinds=labels.RESOURCE_KINDS,
        )

    return [
        Route("/resources/{id}/request", request_form, methods=["GET"]),
        Route("/resources/{id}/request", ask, methods=["POST"]),
        Route("/resource-requests", requests_page, methods=["GET"]),
        export_route(
            portal, "/resource-requests", "resource-requests", "Запросы ресурсов", REQUEST_COLUMNS, exported
        ),
        Route(
            "/resource-requests/{id}/accept",
            answer("accept", (), "AcceptResourceRequest", "Запрос принят: ресурс забронирован"),
            methods=["POST"],
        ),
        Route(
            "/resource-requests/{id}/decline",
            answer("decline", DECLINE_FIELDS, "DeclineResourceRequest", "Запрос отклонён"),
            methods=["POST"],
        ),
        Route(
            "/resource-requests/{id}/cancel",
            answer("cancel", CANCEL_FIELDS, "CancelResourceRequest", "Запрос отменён"),
            methods=["POST"],
        ),
        Route(
            "/resource-requests/{id}/use",
            answer("use", USE_FIELDS, "RecordResourceUse", "Использование записано"),
            methods=["POST"],
        ),
        Route("/networks/{id}/resources", summary, methods=["GET"]),
    ]
