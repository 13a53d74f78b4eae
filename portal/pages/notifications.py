"""A person's notifications (уведомления): the list — theirs and their organization's, newest
first, unread ones marked — marking read, the settings of what comes by e-mail and how (at
once or in one e-mail a day), and erasing their own notification data, once they confirm.
Everything here is the signed-in person's own."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..forms import Attempt, Field, Forms, no_attempt, signed_in
from ..gateway import GatewayError
from ..web import FormRefused, Portal
from .plans import in_zone, person_zone

ORDER = 95
ROLES = ("regional_admin", "municipal_coordinator", "school_representative", "expert", "viewer")
NAV = [("/notifications", "Уведомления", ROLES)]

PAGE = 30
FORGET = (
    Field(
        "confirm",
        "Подтверждение",
        required=True,
        invalid="Подтвердите, что ваши данные уведомлений удаляются безвозвратно",
    ),
)


def routes(portal: Portal) -> list[Route]:
    forms = Forms(portal, lambda request: in_zone(person_zone(portal.person(request))))

    async def listing(request: Request) -> Response:
        return await show(request, no_attempt())

    async def show(request: Request, attempt: Attempt) -> Response:
        who = signed_in(portal, request, ROLES)
        if isinstance(who, Response):
            return who
        _, token = who
        unread_only = request.query_params.get("show") == "unread"
        after = request.query_params.get("after") or None
        try:
            data: dict[str, Any] = await portal.gateway.run(
                "MyNotifications", {"first": PAGE, "after": after, "unreadOnly": unread_only}, token
            )
        except GatewayError as exc:
            return portal.failure(request, exc)
        found = data["myNotifications"]
        return forms.page(
            request,
            "notifications.html",
            attempt,
            notifications=[edge["node"] for edge in found["edges"]],
            unread=found["unreadCount"],
            more=found["pageInfo"]["endCursor"] if found["pageInfo"]["hasNextPage"] else None,
            unread_only=unread_only,
            preferences=data["myNotificationPreferences"],
        )

    async def mark(request: Request) -> Response:
        who = signed_in(portal, request, ROLES)
        if isinstance(who, Response):
            return who
        _, token = who
        try:
            fields = await portal.form(request)
        except FormRefused as exc:
            return portal.page(request, "error.html", status=400, message=str(exc))
        chosen = fields.get("id")
        variables = {"ids": [chosen], "all": False} if chosen else {"ids": None, "all": True}
        try:
            result = (await portal.gateway.run("MarkNotificationsRead", variables, token))[
                "markNotificationsRead"
            ]
        except GatewayError as exc:
            return portal.failure(request, exc)
        if result["__typename"] == "ValidationError":
            return portal.page(request, "error.html", status=400, message=result["message"])
        said = "Отмечено как прочитанное" if chosen else "Все уведомления отмечены как прочитанные"
        return forms.done(request, "/notifications", said)

    async def preferences(request: Request) -> Response:
        who = signed_in(portal, request, ROLES)
        if isinstance(who, Response):
            return who
        _, token = who
        try:
            body = await request.body()
            fields = await portal.form(request)
        except FormRefused as exc:
            return portal.page(request, "error.html", status=400, message=str(exc))
        wanted = _kinds_checked(body.decode("utf-8", "replace"))
        try:
            data = await portal.gateway.run(
                "MyNotifications", {"first": 1, "after": None, "unreadOnly": False}, token
            )
            every = [k["kind"] for k in data["myNotificationPreferences"]["kinds"]]
            result = (
                await portal.gateway.run(
                    "SetNotificationPreferences",
                    {
                        "input": {
                            "emailEnabled": fields.get("emailEnabled") == "on",
                            "digest": fields.get("delivery") == "digest",
                            "mutedKinds": [k for k in every if k not in wanted],
                        }
                    },
                    token,
                )
            )["setNotificationPreferences"]
        except GatewayError as exc:
            return portal.failure(request, exc)
        if result["__typename"] == "ValidationError":
            return portal.page(request, "error.html", status=400, message=result["message"])
        return forms.done(request, "/notifications#settings", "Настройки уведомлений сохранены")

    async def forget(request: Request) -> Response:
        who = signed_in(portal, request, ROLES)
        if isinstance(who, Response):
            return who
        return await forms.take(
            request,
            "forget",
            FORGET,
            "ForgetMyNotificationData",
            lambda values: {"confirm": True},
            again=show,
            then=lambda result, values: ("/notifications", "Ваши данные уведомлений удалены"),
        )

    return [
        Route("/notifications", listing, methods=["GET"]),
        Route("/notifications/forget", forget, methods=["POST"]),
        Route("/notifications/read", mark, methods=["POST"]),
        Route("/notifications/settings", preferences, methods=["POST"]),
    ]


def _kinds_checked(body: str) -> set[str]:
    """The kinds ticked in the form: the repeated ``kind`` field (a dict keeps only one)."""
    return {value for name, value in parse_qsl(body, keep_blank_values=True) if name == "kind"}
