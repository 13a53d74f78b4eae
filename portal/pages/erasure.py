"""Erasing an educator's personal data (152-ФЗ) from the workspace: a regional admin confirms on a
page of its own (what goes, what stays, that it cannot be undone), then the API erases."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..forms import Attempt, Field, Forms, no_attempt, signed_in
from ..gateway import GatewayError
from ..web import Portal

FIELDS = (
    Field("reason", "Основание", "textarea"),
    Field(
        "confirmed", "Подтверждение", required=True, invalid="Подтвердите, что данные удаляются безвозвратно"
    ),
)


def routes(portal: Portal) -> list[Route]:
    forms = Forms(portal)

    async def confirm(request: Request, attempt: Attempt | None = None) -> Response:
        who = signed_in(portal, request, ("regional_admin",))
        if isinstance(who, Response):
            return who
        ident = request.path_params["id"]
        try:
            educator: dict[str, Any] | None = (
                await portal.gateway.run("EducatorToErase", {"id": ident}, who[1])
            )["educator"]
        except GatewayError as exc:
            return portal.failure(request, exc)
        if educator is None or educator["erasedAt"]:
            message = "Такого педагога нет, он вам не виден или его данные уже удалены"
            return portal.page(request, "error.html", status=404, message=message)
        return forms.page(request, "erasure.html", attempt or no_attempt(), educator=educator)

    async def erase(request: Request) -> Response:
        who = signed_in(portal, request, ("regional_admin",))
        if isinstance(who, Response):
            return who
        ident = request.path_params["id"]
        return await forms.take(
            request,
            "erase",
            FIELDS,
            "EraseEducator",
            lambda v: {"id": ident, "reason": v.get("reason") or None},
            again=confirm,
            then=lambda r, v: ("/", "Персональные данные педагога удалены"),
        )

    return [
        Route("/educators/{id}/erase", confirm, methods=["GET"]),
        Route("/educators/{id}/erase", erase, methods=["POST"]),
    ]
