"""Alerts (сигналы) people work with: the list of those in the person's scope, and an alert's page
where it is acknowledged, assigned to an organization, commented on and snoozed until a day — by
those the API says may (``Alert.mayAct``); a regional admin's page of the region's school
holidays, which the idle-school alert does not count."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import labels
from ..exports import Column, day, export_route, moment_in
from ..forms import PARTICIPANTS, Attempt, Field, Forms, choices, no_attempt, refused, signed_in
from ..gateway import GatewayError
from ..web import Portal
from .plans import in_zone, person_zone

ORDER = 12
NAV = [("/alerts", "Сигналы", (*PARTICIPANTS, "expert", "viewer"))]

ASSIGN_FIELDS = (
    Field("organizationId", "Кому поручить (организация)", required=True, invalid="Выберите организацию"),
)
COMMENT_FIELDS = (Field("text", "Комментарий", "textarea", required=True, invalid="Напишите комментарий"),)
SNOOZE_FIELDS = (Field("until", "Отложить до", "date", required=True, invalid="Укажите день"),)
BREAK_FIELDS = tuple(
    Field(f"{kind}.{end}", f"{title.capitalize()} каникулы: {said}", "date")
    for kind, title in labels.SCHOOL_BREAKS.items()
    for end, said in (("startsOn", "первый день"), ("endsOn", "последний день"))
)
SHOWN = {"open": True, "all": None, "resolved": False}
"""What the list shows: those that need attention, all, resolved ones."""


def school_year_of(day: date) -> int:
    """The year the school year of ``day`` starts in (1 September)."""
    return day.year if day.month >= 9 else day.year - 1


def alert_columns(zone: Any) -> tuple[Column, ...]:
    return (
        Column("Сигнал", lambda a: a["title"]),
        Column("Правило", lambda a: labels.ALERT_RULES.get(a["rule"], a["rule"])),
        Column("Состояние", lambda a: labels.ALERT_STATUSES.get(a["status"], a["status"])),
        Column("Организация", lambda a: a["organizationName"]),
        Column("Сеть", lambda a: a["networkName"]),
        Column("Когда", lambda a: moment_in(a["raisedAt"], zone)),
        Column("Поручен", lambda a: a["assigneeOrganizationName"]),
        Column("Отложен до", lambda a: day(a["snoozedUntil"])),
        Column("Что делать", lambda a: a["advice"]),
    )


def routes(portal: Portal) -> list[Route]:
    forms = Forms(portal, lambda request: in_zone(person_zone(portal.person(request))))

    async def listed(request: Request, shown: bool | None) -> list[dict[str, Any]] | Response:
        try:
            data = await portal.gateway.run("Alerts", {"open": shown}, portal.token(request))
        except GatewayError as exc:
            return portal.failure(request, exc)
        return data["alerts"]

    async def alert_list(request: Request) -> Response:
        show = request.query_params.get("show", "open")
        alerts = await listed(request, SHOWN.get(show, True))
        if isinstance(alerts, Response):
            return alerts
        return forms.page(
            request,
            "alerts.html",
            no_attempt(),
            alerts=alerts,
            show=show if show in SHOWN else "open",
            rules=labels.ALERT_RULES,
            alert_statuses=labels.ALERT_STATUSES,
        )

    async def exported(request: Request) -> list[dict[str, Any]] | Response:
        return await listed(request, SHOWN.get(request.query_params.get("show", "open"), True))

    async def alert_page(request: Request, attempt: Attempt | None = None) -> Response:
        ident, token = request.path_params["id"], portal.token(request)
        try:
            alert = (await portal.gateway.run("AlertPage", {"id": ident}, token))["alert"]
        except GatewayError as exc:
            return portal.failure(request, exc)
        if alert is None:
            return portal.page(
                request, "error.html", status=404, message="Такого сигнала нет или он вам не виден"
            )
        person, token = portal.person(request), portal.token(request)
        organizations: list[tuple[str, str]] = []
        if alert["mayAct"] and person is not None and alert["status"] != "resolved":
            try:
                organizations = (await choices(portal, person, token))["organizations"]
            except GatewayError as exc:
                return portal.failure(request, exc)
        return forms.page(
            request,
            "alert.html",
            attempt or no_attempt(),
            alert=alert,
            organizations=organizations,
            rules=labels.ALERT_RULES,
            alert_statuses=labels.ALERT_STATUSES,
            tomorrow=date.fromordinal(date.today().toordinal() + 1).isoformat(),
        )

    def work(form: str, fields: tuple[Field, ...], operation: str, message: str) -> Any:
        async def take(request: Request) -> Response:
            ident = request.path_params["id"]
            return await forms.take(
                request,
                form,
                fields,
                operation,
                lambda v: {"alertId": ident, **v},
                again=alert_page,
                then=lambda r, v: (f"/alerts/{ident}", message),
            )

        return take

    async def breaks_page(request: Request, attempt: Attempt | None = None) -> Response:
        who = signed_in(portal, request, ("regional_admin",))
        if isinstance(who, Response):
            return who
        person, token = who
        region = person.region_code if person.region_code != "*" else None
        region = (
            region
            or request.query_params.get("region", "")
            or (attempt.values.get("regionCode") if attempt else "")
        )
        asked = (attempt.values.get("schoolYear") if attempt else None) or request.query_params.get(
            "year", ""
        )
        year = int(asked) if str(asked).isdigit() else school_year_of(date.today())
        breaks: list[dict[str, Any]] = []
        if region:
            try:
                data = await portal.gateway.run(
                    "SchoolBreaks", {"regionCode": region, "schoolYear": year}, token
                )
            except GatewayError as exc:
                return portal.failure(request, exc)
            breaks = data["schoolBreaks"]
        defaults = {f"{b['kind']}.{end}": b[end] for b in breaks for end in ("startsOn", "endsOn")}
        if attempt is None:
            attempt = Attempt(form="breaks", values=defaults, status=200)
        return forms.page(
            request,
            "school_breaks.html",
            attempt,
            region=region,
            any_region=person.region_code == "*",
            year=year,
            breaks=breaks,
            kinds=labels.SCHOOL_BREAKS,
        )

    async def set_breaks(request: Request) -> Response:
        who = signed_in(portal, request, ("regional_admin",))
        if isinstance(who, Response):
            return who
        attempt = await forms.read(request, "breaks")
        if isinstance(attempt, Response):
            return attempt
        person = who[0]
        region = person.region_code if person.region_code != "*" else attempt.values.get("regionCode", "")
        year = attempt.values.get("schoolYear", "")
        if not region or not year.isdigit():
            return refused(portal, request, person)

        def sent(values: dict[str, Any]) -> dict[str, Any]:
            breaks = []
            for kind in labels.SCHOOL_BREAKS:
                first, last = values[f"{kind}.startsOn"], values[f"{kind}.endsOn"]
                if first or last:
                    breaks.append({"kind": kind, "startsOn": first, "endsOn": last or first})
            return {"regionCode": region, "schoolYear": int(year), "breaks": breaks}

        return await forms.take(
            request,
            attempt,
            BREAK_FIELDS,
            "SetSchoolBreaks",
            sent,
            again=breaks_page,
            then=lambda r, v: (
                f"/alerts/school-breaks?year={year}&region={region}",
                f"Каникулы {year}/{(int(year) + 1) % 100:02d} учебного года записаны",
            ),
        )

    return [
        Route("/alerts", alert_list, methods=["GET"]),
        export_route(
            portal,
            "/alerts",
            "alerts",
            "Сигналы",
            lambda r: alert_columns(person_zone(portal.person(r))),
            exported,
        ),
        Route("/alerts/school-breaks", breaks_page, methods=["GET"]),
        Route("/alerts/school-breaks", set_breaks, methods=["POST"]),
        Route("/alerts/{id}", alert_page, methods=["GET"]),
        Route(
            "/alerts/{id}/acknowledge",
            work("acknowledge", (), "AcknowledgeAlert", "Сигнал взят в работу"),
            methods=["POST"],
        ),
        Route(
            "/alerts/{id}/assign",
            work("assign", ASSIGN_FIELDS, "AssignAlert", "Сигнал поручен организации"),
            methods=["POST"],
        ),
        Route(
            "/alerts/{id}/comment",
            work("comment", COMMENT_FIELDS, "CommentOnAlert", "Комментарий добавлен"),
            methods=["POST"],
        ),
        Route(
            "/alerts/{id}/snooze",
            work("snooze", SNOOZE_FIELDS, "SnoozeAlert", "Сигнал отложен"),
            methods=["POST"],
        ),
    ]
