"""The changes a person may make, in one place: what to create, and the organizations and networks
of their scope with what may be changed of each (the forms are in :mod:`.registry_forms`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..forms import EDITORS, PARTICIPANTS, refused, scope_filters
from ..gateway import GatewayError
from ..web import Portal

ORDER = 70
NAV = [("/changes", "Изменения", PARTICIPANTS)]

SHOWN = 30


def routes(portal: Portal) -> list[Route]:
    async def changes(request: Request) -> Response:
        person, token = portal.person(request), portal.token(request)
        if person is None or token is None or not person.has(*PARTICIPANTS):
            return refused(portal, request, person)
        search = (request.query_params.get("search") or "").strip() or None
        organizations, networks = [], []
        try:
            if person.has(*EDITORS):
                scope = scope_filters(person)
                found = await portal.gateway.run(
                    "Organizations",
                    {
                        **scope,
                        "kind": None,
                        "status": None,
                        "networkId": None,
                        "search": search,
                        "first": SHOWN,
                    },
                    token,
                )
                organizations = [e["node"] for e in found["organizations"]["edges"]]
                nets = await portal.gateway.run("ChangeNetworks", {"regionCode": scope["regionCode"]}, token)
                networks = [
                    e["node"]
                    for e in nets["networks"]["edges"]
                    if not scope["municipalityId"]
                    or e["node"]["municipalityId"] in (None, scope["municipalityId"])
                ]
            elif person.organization_id:
                own = await portal.gateway.run("FormOrganization", {"id": person.organization_id}, token)
                organizations = [own["organization"]] if own["organization"] else []
        except GatewayError as exc:
            return portal.failure(request, exc)
        return portal.page(
            request,
            "forms_changes.html",
            editor=person.has(*EDITORS),
            organizations=organizations,
            networks=networks,
            search=search or "",
        )

    return [Route("/changes", changes, methods=["GET"])]
