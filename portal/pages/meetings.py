"""Meetings (заседания) of a network's council (совет сети) or of a methodological association
(методическое объединение): a network's meetings, latest first; a meeting's page with its agenda,
participants, minutes (протокол) and decisions; the decisions due soon across the person's
networks. For the network's coordinator and admins: scheduling a meeting, recording it held with
its minutes or cancelling it, recording its decisions and carrying a decision into the network's
plan (an item of a draft plan, a proposal the coordinator decides for an agreed one).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import labels
from ..forms import EDITORS, PARTICIPANTS, Attempt, Field, Forms, found, no_attempt, person_zone
from ..gateway import GatewayError
from ..web import Portal
from .plans import in_zone, local_input, may_edit_network, members_of

ORDER = 35
NAV = [("/meetings", "Заседания", (*PARTICIPANTS, "expert", "viewer"))]

MEETING_KINDS = {
    "council": "совет сети",
    "methodological_association": "методическое объединение",
    "other": "другое",
}
MEETING_STATUSES = {"scheduled": "назначено", "held": "проведено", "cancelled": "отменено"}
DUE_DAYS = 30
"""The decisions the overview lists: those due within this many days (and those overdue)."""

SCHEDULE_FIELDS = (
    Field("kind", "Орган", "select", required=True, choices=MEETING_KINDS),
    Field("title", "Название заседания", required=True),
    Field("startsAt", "Дата и время начала", "moment", required=True, invalid="Укажите дату и время"),
    Field("endsAt", "Окончание", "moment"),
    Field("place", "Место проведения"),
    Field("onlineLink", "Ссылка на онлайн-заседание", "url"),
    Field("interactionGroupId", "Группа взаимодействия (РМО)"),
    Field("agenda", "Повестка", "textarea", required=True, invalid="Впишите хотя бы один вопрос повестки"),
)
HOLD_FIELDS = (
    Field("minutes", "Протокол заседания", "textarea", required=True, invalid="Внесите текст протокола"),
)
CANCEL_FIELDS = (Field("reason", "Причина отмены", "textarea", required=True, invalid="Укажите причину"),)
DECISION_FIELDS = (
    Field("text", "Решение", "textarea", required=True),
    Field(
        "responsibleOrganizationId",
        "Ответственная организация",
        required=True,
        invalid="Выберите организацию",
    ),
    Field("dueOn", "Срок", "date", required=True, invalid="Укажите дату срока"),
)
PLAN_FIELDS = (
    Field("kind", "Вид пункта плана", "select", required=True, choices=labels.PLAN_ITEM_KINDS),
    Field("title", "Пункт плана (если не совпадает с текстом решения)"),
)
NOT_VISIBLE = "Такого заседания нет или оно вам не видно"


def agenda_of(text: str) -> list[str]:
    """The agenda as typed: one question a line, numbering and blank lines dropped."""
    items = []
    for line in text.splitlines():
        cleaned = line.strip().lstrip("0123456789.) ").strip()
        if cleaned:
            items.append(cleaned)
    return items


def meetings_context(request: Request, portal: Portal) -> dict[str, Any]:
    return {
        **in_zone(person_zone(portal.person(request))),
        "meeting_kinds": MEETING_KINDS,
        "meeting_statuses": MEETING_STATUSES,
        "proposal_statuses": labels.PROPOSAL_STATUSES,
    }


def routes(portal: Portal) -> list[Route]:
    forms = Forms(portal, lambda request: meetings_context(request, portal))

    async def overview(request: Request) -> Response:
        person = portal.person(request)
        due_by = date.today() + timedelta(days=DUE_DAYS)
        representative = (
            person is not None and person.has("school_representative") and not person.has(*EDITORS)
        )
        own = person.organization_id if person and representative else None
        region = person.region_code if person and person.region_code not in (None, "*") else None
        try:
            data = await portal.gateway.run(
                "MeetingsOverview",
                {"dueBy": due_by.isoformat(), "regionCode": region, "organizationId": own},
                portal.token(request),
            )
        except GatewayError as exc:
            return portal.failure(request, exc)
        return forms.page(
            request,
            "meetings.html",
            no_attempt(),
            decisions=data["decisionsDue"],
            networks=[e["node"] for e in data["networks"]["edges"]],
            due_by=due_by.isoformat(),
            today=date.today().isoformat(),
        )

    async def network_meetings(request: Request, attempt: Attempt | None = None) -> Response:
        asking = portal.gateway.run(
            "NetworkMeetings",
            {"id": request.path_params["id"], "on": date.today().isoformat()},
            portal.token(request),
        )
        network = await found(portal, request, asking, "network", "Такой сети нет")
        if isinstance(network, Response):
            return network
        zone = person_zone(portal.person(request))
        starts = datetime.combine(date.today() + timedelta(days=7), datetime.min.time(), zone).replace(
            hour=15
        )
        chosen = {
            key.split(".", 1)[1]
            for key in (attempt.values if attempt else {})
            if key.startswith("participant.")
        }
        return forms.page(
            request,
            "meetings_network.html",
            attempt or no_attempt(),
            net=network,
            members=members_of(network),
            groups=[(g["id"], g["name"]) for g in network.get("interactionGroups", [])],
            chosen=chosen,
            may_edit=may_edit_network(portal.person(request), network),
            default_starts=local_input(starts, zone),
        )

    async def schedule(request: Request) -> Response:
        attempt = await forms.read(request, "schedule")
        if isinstance(attempt, Response):
            return attempt
        participants = [
            {"organizationId": key.split(".", 1)[1]}
            for key, value in attempt.values.items()
            if key.startswith("participant.") and value
        ]

        def meeting(values: dict[str, Any]) -> dict[str, Any]:
            return {
                "input": {
                    **values,
                    "networkId": request.path_params["id"],
                    "agenda": agenda_of(values["agenda"] or ""),
                    "participants": participants,
                }
            }

        return await forms.take(
            request,
            attempt,
            SCHEDULE_FIELDS,
            "ScheduleMeeting",
            meeting,
            again=network_meetings,
            then=lambda r, v: (f"/meetings/{r['id']}", f"Заседание «{r['title']}» назначено"),
            zone=person_zone(portal.person(request)),
        )

    async def meeting_page(request: Request, attempt: Attempt | None = None) -> Response:
        asking = portal.gateway.run(
            "Meeting",
            {"id": request.path_params["id"], "on": date.today().isoformat()},
            portal.token(request),
        )
        meeting = await found(portal, request, asking, "meeting", NOT_VISIBLE)
        if isinstance(meeting, Response):
            return meeting
        return forms.page(
            request,
            "meeting.html",
            attempt or no_attempt(),
            meeting=meeting,
            members=members_of(meeting["network"]),
            may_edit=may_edit_network(portal.person(request), meeting["network"]),
        )

    def on_meeting(form: str, fields: tuple[Field, ...], operation: str, said: str) -> Any:
        async def take(request: Request) -> Response:
            meeting_id = request.path_params["id"]
            return await forms.take(
                request,
                form,
                fields,
                operation,
                lambda v: {"meetingId": meeting_id, **v},
                again=meeting_page,
                then=lambda r, v: (f"/meetings/{meeting_id}", said),
            )

        return take

    async def decide(request: Request) -> Response:
        meeting_id = request.path_params["id"]
        return await forms.take(
            request,
            "decision",
            DECISION_FIELDS,
            "RecordMeetingDecision",
            lambda v: {"input": {"meetingId": meeting_id, **v}},
            again=meeting_page,
            then=lambda r, v: (
                f"/meetings/{meeting_id}#decision-{r['id']}",
                f"Решение № {r['number']} записано",
            ),
        )

    async def plan_decision(request: Request) -> Response:
        meeting_id, decision = request.path_params["id"], request.path_params["decision"]

        def said(result: dict[str, Any]) -> tuple[str, str]:
            if result["planItem"]:
                plan = result["planItem"]["plan"]["id"]
                return (
                    f"/plans/{plan}#item-{result['planItem']['id']}",
                    f"Решение № {result['number']} внесено в план",
                )
            return (
                f"/meetings/{meeting_id}#decision-{decision}",
                f"План уже согласован: решение № {result['number']} отправлено в план предложением, его"
                " примет или отклонит координатор",
            )

        return await forms.take(
            request,
            f"plan-{decision}",
            PLAN_FIELDS,
            "PlanMeetingDecision",
            lambda v: {"decisionId": decision, **v},
            again=meeting_page,
            then=lambda r, v: said(r),
        )

    return [
        Route("/meetings", overview, methods=["GET"]),
        Route("/networks/{id}/meetings", network_meetings, methods=["GET"]),
        Route("/networks/{id}/meetings", schedule, methods=["POST"]),
        Route("/meetings/{id}", meeting_page, methods=["GET"]),
        Route(
            "/meetings/{id}/hold",
            on_meeting("hold", HOLD_FIELDS, "HoldMeeting", "Заседание проведено: протокол записан"),
            methods=["POST"],
        ),
        Route(
            "/meetings/{id}/cancel",
            on_meeting("cancel", CANCEL_FIELDS, "CancelMeeting", "Заседание отменено"),
            methods=["POST"],
        ),
        Route("/meetings/{id}/decisions", decide, methods=["POST"]),
        Route("/meetings/{id}/decisions/{decision}/plan", plan_decision, methods=["POST"]),
    ]
