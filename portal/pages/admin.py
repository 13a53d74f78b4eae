"""A regional admin's pages: the audit trail (every write in their region, filtered, a page at a
time), and links to the imports from a file (:mod:`.imports`) and the dead letters of the region's
systems (:mod:`.dead_letters`)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..exports import Column, every, export_route, moment_in
from ..forms import Field, person_zone, read, signed_in
from ..gateway import GatewayError
from ..web import Portal

ORDER = 80
ADMINS = ("regional_admin",)
NAV = [("/admin", "Администрирование", ADMINS)]

PAGE = 50
OPERATIONS = {
    "registerOrganization": "регистрация организации",
    "updateOrganization": "изменение сведений организации",
    "archiveOrganization": "перенос организации в архив",
    "enterStatus": "назначение статуса",
    "leaveStatus": "снятие статуса",
    "assessRiskProfile": "оценка профиля рисков",
    "registerEducator": "регистрация педагога",
    "updateEducator": "изменение сведений педагога",
    "employEducator": "назначение педагога на должность",
    "endEmployment": "окончание работы педагога",
    "createNetwork": "создание сети",
    "closeNetwork": "закрытие сети",
    "joinNetwork": "вступление в сеть",
    "leaveNetwork": "выход из сети",
    "designateCentre": "назначение центра сети",
    "formInteractionGroup": "создание группы взаимодействия",
    "changeInteractionGroup": "изменение группы взаимодействия",
    "offerResource": "предложение ресурса",
    "withdrawResource": "снятие ресурса",
    "signAgreement": "договор о сетевом взаимодействии",
    "terminateAgreement": "расторжение договора",
    "issueRegulation": "положение или приказ",
    "draftPlan": "проект плана",
    "addPlanItem": "пункт плана",
    "agreePlan": "согласование плана",
    "startPlan": "начало исполнения плана",
    "closePlan": "закрытие плана",
    "planActivity": "мероприятие в календаре",
    "announceActivity": "анонс мероприятия",
    "holdActivity": "мероприятие проведено",
    "reportActivity": "отчёт о мероприятии",
    "cancelActivity": "отмена мероприятия",
    "postponeActivity": "перенос мероприятия",
    "addMaterial": "материал мероприятия",
    "registerParticipant": "регистрация участника",
    "recordAttendance": "отметка посещаемости",
    "giveFeedback": "отзыв о мероприятии",
    "recordMobility": "мобильность",
    "importFile": "загрузка из файла",
    "registerSource": "регистрация источника фактов",
    "grantSource": "права источника",
    "revokeSource": "отзыв прав источника",
    "issueSourceToken": "токен источника",
    "revokeSourceToken": "отзыв токена источника",
    "recordAssessmentResult": "ввод результатов оценки",
    "recordTraining": "ввод повышения квалификации",
    "recordDeficit": "ввод дефицита",
}
FILTERS = [
    Field("subject", "Кто (идентификатор автора)"),
    Field("operation", "Действие", "select", choices=OPERATIONS),
    Field("since", "С", "date"),
    Field("until", "По (включительно)", "date"),
]
REGION = Field("regionCode", "Регион", hint="Код субъекта, например 39; пусто — все")


def audit_columns(zone: Any) -> tuple[Column, ...]:
    return (
        Column("Когда", lambda e: moment_in(e["at"], zone)),
        Column("Действие", lambda e: OPERATIONS.get(e["operation"], e["operation"])),
        Column("Кто (идентификатор автора)", lambda e: e["subject"]),
        Column("Роли", lambda e: e["roles"]),
        Column("Регион", lambda e: e["regionCode"]),
        Column("Служба", lambda e: e["service"]),
        Column("События", lambda e: [ev["eventType"] for ev in e["events"]]),
    )


def routes(portal: Portal) -> list[Route]:
    def admin(request: Request) -> Response | None:
        who = signed_in(portal, request, ADMINS)
        return who if isinstance(who, Response) else None

    async def index(request: Request) -> Response:
        return admin(request) or portal.page(request, "admin_index.html")

    def audit_asked(request: Request) -> tuple[list[Field], dict[str, Any], dict[str, Any], dict[str, str]]:
        """The filters (the region's only for an admin of every region), what was entered, the
        AuditTrail variables of them (without paging) and the filters that could not be read."""
        person = portal.person(request)
        every_region = person is not None and person.region_code == "*"
        fields = [*FILTERS, REGION] if every_region else FILTERS
        values, asked, errors = read(fields, request.query_params)
        variables = {
            "regionCode": asked.get("regionCode"),
            "subject": asked.get("subject"),
            "operation": asked.get("operation"),
            "since": f"{asked['since']}T00:00:00Z" if asked.get("since") else None,
            "until": (
                f"{date.fromisoformat(asked['until']) + timedelta(days=1)}T00:00:00Z"
                if asked.get("until")
                else None
            ),
        }
        return fields, values, variables, errors

    async def audit_rows(request: Request) -> list[dict[str, Any]] | Response:
        """Every write the filters find (at most the export's limit), for the export."""
        if (no := admin(request)) is not None:
            return no
        _, _, variables, errors = audit_asked(request)
        if errors:
            return portal.page(request, "error.html", status=400, message="; ".join(errors.values()))
        token = portal.token(request)

        async def page(after: str | None) -> dict[str, Any]:
            data = await portal.gateway.run("AuditTrail", {**variables, "first": 100, "after": after}, token)
            return data["auditTrail"]

        return await every(page)

    async def audit(request: Request) -> Response:
        if (no := admin(request)) is not None:
            return no
        fields, values, variables, errors = audit_asked(request)
        after = request.query_params.get("after") or None
        rows: list[dict[str, Any]] = []
        more: dict[str, Any] = {"hasNextPage": False}
        problem = None
        status = 200
        if errors:
            status = 400
        else:
            try:
                data = await portal.gateway.run(
                    "AuditTrail", {**variables, "first": PAGE, "after": after}, portal.token(request)
                )
            except GatewayError as exc:
                if exc.status >= 500:
                    return portal.failure(request, exc)
                problem, status = exc.message, exc.status
            else:
                rows = [e["node"] for e in data["auditTrail"]["edges"]]
                more = data["auditTrail"]["pageInfo"]
        query = urlencode({k: v for k, v in values.items() if v})
        return portal.page(
            request,
            "admin_audit.html",
            status=status,
            fields=fields,
            values=values,
            errors=errors,
            problem=problem,
            rows=rows,
            more=more,
            query=query,
            paged=after is not None,
            operations=OPERATIONS,
        )

    return [
        Route("/admin", index, methods=["GET"]),
        Route("/admin/audit", audit, methods=["GET"]),
        export_route(
            portal,
            "/admin/audit",
            "audit-trail",
            "Журнал действий",
            lambda r: audit_columns(person_zone(portal.person(r))),
            audit_rows,
        ),
    ]
