"""An activity (мероприятие): its page (description, host, format, dates, status, who registered,
attended and rated it) and what can be done with it, each offered only to those who may: plan it
from an item of a joint plan, announce it, mark it held, report or cancel it; register an
educator or the whole organization; the sign-in sheet of the whole registration list at once;
feedback once it is held."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..exports import Column, export_route
from ..forms import EDITORS, WHOLE, Attempt, Field, found, moment, names, no_attempt, person_zone
from ..session import Person
from ..web import Portal
from .plans import PERSONAL_DATA, PROCESSES, may_act, may_edit_network, members_of, plan_forms, plan_of

ORDER = 36
NAV: list[tuple[str, str, tuple[str, ...]]] = []

TOOK_PLACE = ("held", "reported")
MAX_EDUCATOR_LOOKUPS = 10
"""Organizations whose educators' names a page asks for (registrations come from a few)."""

PLAN_FIELDS = (
    Field("startsAt", "Начало", "moment", required=True, invalid="Укажите дату и время"),
    Field("endsAt", "Окончание", "moment", required=True, invalid="Укажите дату и время"),
    Field("capacity", "Мест", "int", invalid="Укажите число мест целым числом"),
    Field("title", "Название", required=True),
    Field("hostOrganizationId", "Проводит (участник сети)", required=True),
    Field("activityType", "Вид мероприятия", required=True, invalid="Выберите значение из списка"),
    Field("format", "Формат", required=True, invalid="Выберите значение из списка"),
    Field("location", "Место или ссылка"),
    Field("audience", "Для кого"),
)
"""The form of planning an activity (its processes are checkboxes ``process-<key>``), in the order
its mistakes are listed."""
CHANGES = {
    # action → (the operation, its input, what is said when it is taken)
    "announce": ("AnnounceActivity", None, "Мероприятие объявлено: запись открыта"),
    "hold": ("HoldActivity", None, "Мероприятие отмечено проведённым: отметьте посещаемость"),
    "report": (
        "ReportActivity",
        Field("report", kind="textarea", required=True),
        "Отчёт о мероприятии сохранён",
    ),
    "cancel": ("CancelActivity", Field("reason", kind="textarea", required=True), "Мероприятие отменено"),
}
REGISTER_FIELDS = (
    Field("organizationId", required=True, invalid="Выберите организацию"),
    Field("educatorId"),
)
FEEDBACK_FIELDS = (
    Field("rating", kind="int", required=True, invalid="Выберите оценку от 1 до 5"),
    Field("comment", kind="textarea"),
    Field("organizationId"),
)


REGISTRATION_COLUMNS = (
    Column("№", lambda r: r["number"]),
    Column("Организация", lambda r: r["organization"]),
    Column("Участник", lambda r: r["who"]),
    Column("Часов по отметке посещаемости", lambda r: r["hours"]),
)


def full_name(educator: dict[str, Any]) -> str:
    return " ".join(p for p in (educator["lastName"], educator["firstName"], educator.get("middleName")) if p)


def works_there(educator: dict[str, Any], organization_id: str, today: date) -> bool:
    return any(
        e["organizationId"] == organization_id and (not e["endedOn"] or e["endedOn"] > today.isoformat())
        for e in educator["employments"]
    )


def is_school_representative(person: Person | None) -> bool:
    return bool(person and person.organization_id and person.has("school_representative"))


def own_school(person: Person | None) -> str | None:
    """The organization a school's representative (who is not also an editor) acts for, whatever
    the form says."""
    if person is not None and is_school_representative(person) and not person.has(*EDITORS):
        return person.organization_id
    return None


def covers(person: Person | None, organization: dict[str, Any]) -> bool:
    """Whether the person acts for this organization (see :func:`.plans.may_act`)."""
    return may_act(
        person,
        region=organization["regionCode"],
        municipality=organization["municipalityId"],
        organizations=[organization["id"]],
    )


def routes(portal: Portal) -> list[Route]:
    forms = plan_forms(portal)

    # --- planning an activity from a plan item ------------------------------------------------

    async def plan_form(request: Request, attempt: Attempt | None = None) -> Response:
        missing = "Такого пункта плана нет"
        plan = await plan_of(
            portal, request, request.path_params["plan"], missing, on=date.today().isoformat()
        )
        if isinstance(plan, Response):
            return plan
        item = next((i for i in plan["items"] if i["id"] == request.path_params["item"]), None)
        if item is None:
            return portal.page(request, "error.html", status=404, message=missing)
        if not may_edit_network(portal.person(request), plan["network"]):
            return portal.page(
                request,
                "error.html",
                status=403,
                message="Мероприятия сети планируют её координатор и региональный администратор",
            )
        zone = person_zone(portal.person(request))
        due = date.fromisoformat(item["dueOn"])
        starts = datetime(due.year, due.month, due.day, 10, 0, tzinfo=zone)
        return forms.page(
            request,
            "activity_new.html",
            attempt or no_attempt(),
            plan=plan,
            item=item,
            members=members_of(plan["network"]),
            default_host=(item["responsibleOrganization"] or {}).get("id", ""),
            default_starts=f"{starts:%Y-%m-%dT%H:%M}",
            default_ends=f"{starts + timedelta(hours=2):%Y-%m-%dT%H:%M}",
        )

    async def plan_activity(request: Request) -> Response:
        attempt = await forms.read(request, "plan")
        if isinstance(attempt, Response):
            return attempt
        v = attempt.read(PLAN_FIELDS, person_zone(portal.person(request)))
        if attempt.errors:
            return await plan_form(request, attempt)
        plan = await plan_of(portal, request, request.path_params["plan"], "Такого плана нет")
        if isinstance(plan, Response):
            return plan
        processes = [key for key in PROCESSES if attempt.values.get(f"process-{key}")]
        result = await forms.run(
            request,
            attempt,
            "PlanActivity",
            {
                "input": {
                    **v,
                    "processes": processes,
                    "networkId": plan["networkId"],
                    "planItemId": request.path_params["item"],
                }
            },
            inputs=(*names(PLAN_FIELDS), "processes"),
        )
        if result is None:
            return await plan_form(request, attempt)
        return forms.done(
            request,
            f"/activities/{result['id']}",
            "Мероприятие запланировано; объявите его, чтобы открыть запись",
        )

    # --- the activity's page ------------------------------------------------------------------

    async def educators_of(
        request: Request, organizations: list[str], *, operation: str = "EducatorNames"
    ) -> dict[str, list[dict[str, Any]]]:
        """The educators of these organizations the person may see (none for other roles): their
        names, or with their posts (``ActivityEducators``)."""
        person = portal.person(request)
        known: dict[str, list[dict[str, Any]]] = {}
        if person is None or not person.has(*PERSONAL_DATA):
            return known
        for organization in list(dict.fromkeys(organizations))[:MAX_EDUCATOR_LOOKUPS]:
            variables = {"organizationId": organization}
            data, errors = await portal.gateway.ask(operation, variables, portal.token(request))
            if data and not errors:
                known[organization] = [e["node"] for e in data["educators"]["edges"]]
        return known

    async def load(request: Request, missing: str) -> dict[str, Any] | Response:
        """The activity of the address, or the page that says why not."""
        asking = portal.gateway.run(
            "Activity",
            {"id": request.path_params["id"], "on": date.today().isoformat()},
            portal.token(request),
        )
        return await found(portal, request, asking, "activity", missing)

    def sheet_rows(person: Person | None, activity: dict[str, Any], hosting: bool) -> list[dict[str, Any]]:
        """The registrations whose attendance the person may record: all of them for the host's
        side, their own organization's for a participant."""
        return [r for r in activity["registrations"] if hosting or covers(person, r["organization"])]

    async def activity_page(request: Request, attempt: Attempt | None = None) -> Response:
        attempt = attempt or no_attempt()
        person = portal.person(request)
        activity = await load(request, "Такого мероприятия нет или оно ещё не объявлено")
        if isinstance(activity, Response):
            return activity
        host = activity["host"]
        status = activity["status"]
        hosting = covers(person, host)
        today = date.today()
        now = datetime.now(UTC)
        starts = moment(activity["startsAt"]) or now
        ends = moment(activity["endsAt"]) or now
        school = is_school_representative(person)
        editor = bool(person and person.has(*EDITORS))

        # registering: a school's representative their own organization; an editor any member
        members = members_of(activity["network"])
        register_org: str | None = None
        if school and person is not None:
            register_org = person.organization_id
        elif editor:
            asked = attempt.values.get("organizationId") if attempt.form == "register" else None
            asked = asked or request.query_params.get("org")
            register_org = asked if asked in {m["id"] for m in members} else None
        may_register = status == "announced" and (school or (editor and bool(members)))

        rows = sheet_rows(person, activity, hosting) if status in TOOK_PLACE and person else []
        # names of the registered educators; the register form's organization's, with their posts
        staff = (
            await educators_of(request, [register_org], operation="ActivityEducators")
            if may_register and register_org
            else {}
        )
        educators = await educators_of(
            request,
            [
                r["organizationId"]
                for r in activity["registrations"]
                if r["educatorId"] and r["organizationId"] not in staff
            ],
        )
        names = {e["id"]: full_name(e) for people in (*educators.values(), *staff.values()) for e in people}
        taken = {(r["organizationId"], r["educatorId"]) for r in activity["registrations"]}
        choices = [
            (e["id"], full_name(e))
            for e in staff.get(register_org or "", [])
            if works_there(e, register_org or "", today) and (register_org, e["id"]) not in taken
        ]
        hours = {(a["organizationId"], a["educatorId"]): a["hours"] for a in activity["attendance"]}

        # feedback: by an organization that took part, never the host
        took_part = {r["organizationId"]: r["organization"] for r in activity["registrations"]}
        feedback_orgs = [o for oid, o in took_part.items() if oid != host["id"] and covers(person, o)]
        if school and person is not None and person.organization_id != host["id"]:
            if all(o["id"] != person.organization_id for o in feedback_orgs):
                feedback_orgs.append({"id": person.organization_id, "shortName": "моя организация"})
        offers = {
            "announce": hosting and status in ("planned", "postponed") and ends > now,
            "hold": hosting and status in ("planned", "announced") and starts <= now,
            "report": hosting and status == "held",
            "cancel": hosting and status in ("planned", "announced", "postponed"),
            "register": may_register and bool(register_org),
            "attendance": bool(rows),
            "feedback": status in TOOK_PLACE and bool(feedback_orgs),
        }
        return forms.page(
            request,
            "activity.html",
            attempt,
            a=activity,
            host=host,
            hosting=hosting,
            shown={name for name, offered in offers.items() if offered},
            may_announce=offers["announce"],
            may_hold=offers["hold"],
            may_report=offers["report"],
            may_cancel=offers["cancel"],
            may_register=may_register,
            school=school,
            editor=editor,
            members=members,
            register_org=register_org,
            register_org_name=next(
                (m["shortName"] for m in members if m["id"] == register_org),
                "моя организация" if school else "",
            ),
            whole_taken=(register_org, None) in taken,
            educator_choices=choices,
            names=names,
            rows=rows,
            hours=hours,
            may_sheet=offers["attendance"],
            feedback_orgs=feedback_orgs,
            may_feedback=offers["feedback"],
            total_hours=sum(a["hours"] for a in activity["attendance"]),
            places_left=None
            if activity["capacity"] is None
            else max(activity["capacity"] - len(activity["registrations"]), 0),
        )

    async def registrations(request: Request) -> list[dict[str, Any]] | Response:
        """Who registered, as the page lists them: an educator's name only for those who may see
        it (the API answers it to them alone), and the hours recorded for each."""
        activity = await load(request, "Такого мероприятия нет или оно ещё не объявлено")
        if isinstance(activity, Response):
            return activity
        educators = await educators_of(
            request, [r["organizationId"] for r in activity["registrations"] if r["educatorId"]]
        )
        names = {e["id"]: full_name(e) for people in educators.values() for e in people}
        hours = {(a["organizationId"], a["educatorId"]): a["hours"] for a in activity["attendance"]}
        return [
            {
                "number": number,
                "organization": (r["organization"] or {}).get("shortName"),
                "who": (
                    names.get(r["educatorId"], "педагог (данные скрыты)")
                    if r["educatorId"]
                    else "вся организация"
                ),
                "hours": hours.get((r["organizationId"], r["educatorId"])),
            }
            for number, r in enumerate(activity["registrations"], start=1)
        ]

    # --- what is done with it -----------------------------------------------------------------

    async def act(request: Request) -> Response:
        action = request.path_params["action"]
        handler = ACTIONS.get(action)
        if handler is None:
            return portal.page(request, "error.html", status=404, message="Такого действия нет")
        attempt = await forms.read(request, action)
        if isinstance(attempt, Response):
            return attempt
        return await handler(request, attempt)

    async def change(request: Request, attempt: Attempt) -> Response:
        """Announce, hold, report or cancel."""
        activity_id = request.path_params["id"]
        operation, given, said = CHANGES[attempt.form]
        return await forms.take(
            request,
            attempt,
            (given,) if given else (),
            operation,
            lambda v: {"activityId": activity_id, **v},
            again=activity_page,
            then=lambda r, v: (f"/activities/{activity_id}", said),
        )

    async def register(request: Request, attempt: Attempt) -> Response:
        activity_id = request.path_params["id"]
        school = own_school(portal.person(request))
        if school is not None:
            attempt.values["organizationId"] = school
        return await forms.take(
            request,
            attempt,
            REGISTER_FIELDS,
            "RegisterParticipant",
            lambda v: {"activityId": activity_id, **v},
            again=activity_page,
            then=lambda r, v: (
                f"/activities/{activity_id}#registrations",
                "Педагог записан на мероприятие"
                if v["educatorId"]
                else "Организация записана на мероприятие",
            ),
        )

    async def attendance(request: Request, attempt: Attempt) -> Response:
        """The sign-in sheet: one recordAttendance for each row with hours."""
        person = portal.person(request)
        activity = await load(request, "Такого мероприятия нет")
        if isinstance(activity, Response):
            return activity
        recorded = asked = 0
        for row in sheet_rows(person, activity, covers(person, activity["host"])):
            name = f"hours-{row['id']}"
            if not attempt.values.get(name, "").strip():
                continue
            asked += 1
            hours = attempt.read([Field(name, kind="number", invalid="Укажите часы числом, например 1,5")])
            if hours[name] is None:  # refused at its row
                continue
            result = await forms.run(
                request,
                attempt,
                "RecordAttendance",
                {
                    "activityId": activity["id"],
                    "organizationId": row["organizationId"],
                    "educatorId": row["educatorId"],
                    "hours": hours[name],
                },
                at=name,
            )
            recorded += result is not None
        if not asked:
            attempt.refuse(WHOLE, "Укажите часы хотя бы одного участника")
        if attempt.errors:
            if recorded:
                attempt.note = f"Записано строк: {recorded} из {asked}; исправьте отмеченные"
            return await activity_page(request, attempt)
        return forms.done(
            request, f"/activities/{activity['id']}#attendance", f"Посещаемость записана: строк — {recorded}"
        )

    async def feedback(request: Request, attempt: Attempt) -> Response:
        activity_id = request.path_params["id"]
        school = own_school(portal.person(request))
        return await forms.take(
            request,
            attempt,
            FEEDBACK_FIELDS,
            "GiveFeedback",
            lambda v: {"activityId": activity_id, **v, "organizationId": school or v["organizationId"]},
            again=activity_page,
            then=lambda r, v: (f"/activities/{activity_id}#feedback", "Спасибо: отзыв сохранён"),
        )

    ACTIONS = {
        "announce": change,
        "hold": change,
        "report": change,
        "cancel": change,
        "register": register,
        "attendance": attendance,
        "feedback": feedback,
    }

    return [
        Route("/plans/{plan}/items/{item}/activity", plan_form, methods=["GET"]),
        Route("/plans/{plan}/items/{item}/activity", plan_activity, methods=["POST"]),
        Route("/activities/{id}", activity_page, methods=["GET"]),
        export_route(
            portal,
            "/activities/{id}/registrations",
            lambda r: f"activity-{r.path_params['id']}-registrations",
            "Записались",
            REGISTRATION_COLUMNS,
            registrations,
        ),
        Route("/activities/{id}/{action}", act, methods=["POST"]),
    ]
