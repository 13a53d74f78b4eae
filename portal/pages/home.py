"""The start page: for a signed-in person their open alerts and the next activities; for a
visitor the regions' figures and the next public activities."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import labels
from ..gateway import GatewayError
from ..web import Portal

ORDER = 10

RULES = labels.ALERT_RULES


def routes(portal: Portal) -> list[Route]:
    async def start(request: Request) -> Response:
        person = portal.person(request)
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        try:
            if person is None:
                data = await portal.gateway.run("Welcome", {"from": now})
                return portal.page(
                    request,
                    "welcome.html",
                    regions=data["regionSummaries"],
                    activities=[e["node"] for e in data["activities"]["edges"]],
                )
            data = await portal.gateway.run("Start", {"from": now}, portal.token(request))
        except GatewayError as exc:
            return portal.failure(request, exc)
        return portal.page(
            request,
            "start.html",
            alerts=data["alerts"],
            rules=RULES,
            activities=[e["node"] for e in data["activities"]["edges"]],
        )

    return [Route("/", start, methods=["GET"])]
