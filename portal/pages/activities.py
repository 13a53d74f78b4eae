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

from ..gateway import GatewayError
from ..session import Person
from ..web import FormRefused, Portal
from .plans import (
    EDITORS,
    PERSONAL_DATA,
    PROCESSES,
    Attempt,
    Forms,
    may_act,
    may_edit_network,
    moment,
    no_attempt,
    number_of,
    person_zone,
    read_moment,
)

ORDER = 36
NAV: list[tuple[str, str, tuple[str, ...]]] = []

TOOK_PLACE = ("held", "reported")
MAX_EDUCATOR_LOOKUPS = 10
"""Organizations whose educators' names a page asks for (registrations come from a few)."""

PLAN_INPUTS = (
    "title",
    "activityType",
    "format",
    "processes",
    "hostOrganizationId",
    "startsAt",
    "endsAt",
    "location",
    "audience",
    "capacity",
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


def routes(portal: Portal) -> list[Route]:
    forms = Forms(portal)

    # --- planning an activity from a plan item ------------------------------------------------

    async def plan_form(request: Request, attempt: Attempt | None = None) -> Response:
        attempt = attempt or no_attempt()
        try:
            data = await portal.gateway.run(
                "Plan",
                {"id": request.path_params["plan"], "on": date.today().isoformat()},
                portal.token(request),
            )
        except GatewayError as exc:
            return portal.failure(request, exc)
        plan = data["plan"]
        item = next(
            (i for i in (plan or {}).get("items", []) if i["id"] == request.path_params["item"]), None
        )
        if plan is None or item is None:
            return portal.page(request, "error.html", status=404, message="Такого пункта плана нет")
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
        members = sorted(
            {m["organization"]["id"]: m["organization"] for m in plan["network"]["members"]}.values(),
            key=lambda o: o["shortName"],
        )
        return forms.page(
            request,
            "activity_new.html",
            attempt,
            plan=plan,
            item=item,
            members=members,
            default_host=(item["responsibleOrganization"] or {}).get("id", ""),
            default_starts=f"{starts:%Y-%m-%dT%H:%M}",
            default_ends=f"{starts + timedelta(hours=2):%Y-%m-%dT%H:%M}",
        )

    async def plan_activity(request: Request) -> Response:
        try:
            attempt = await forms.read(request, "plan")
        except FormRefused as exc:
            return forms.refused(request, exc)
        values = attempt.values
        zone = person_zone(portal.person(request))
        moments: dict[str, str] = {}
        for name in ("startsAt", "endsAt"):
            try:
                moments[name] = read_moment(values.get(name, ""), zone).isoformat()
            except ValueError:
                attempt.refuse(name, "Укажите дату и время")
        capacity = None
        if values.get("capacity", "").strip():
            try:
                capacity = int(number_of(values["capacity"], whole=True))
            except ValueError:
                attempt.refuse("capacity", "Укажите число мест целым числом")
        for name in ("title", "hostOrganizationId"):
            if not values.get(name, "").strip():
                attempt.refuse(name, "Заполните это поле")
        if attempt.errors:
            return await plan_form(request, attempt)
        try:
            data = await portal.gateway.run(
                "Plan", {"id": request.path_params["plan"], "on": None}, portal.token(request)
            )
        except GatewayError as exc:
            return portal.failure(request, exc)
        if data["plan"] is None:
            return portal.page(request, "error.html", status=404, message="Такого плана нет")
        result = await forms.run(
            request,
            attempt,
            "PlanActivity",
            {
                "input": {
                    "title": values["title"],
                    "activityType": values.get("activityType", ""),
                    "format": values.get("format", ""),
                    "processes": [key for key in PROCESSES if values.get(f"process-{key}")],
                    "hostOrganizationId": values["hostOrganizationId"],
                    "startsAt": moments["startsAt"],
                    "endsAt": moments["endsAt"],
                    "networkId": data["plan"]["networkId"],
                    "planItemId": request.path_params["item"],
                    "location": values.get("location") or None,
                    "audience": values.get("audience") or None,
                    "capacity": capacity,
                }
            },
            inputs=PLAN_INPUTS,
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
        found: dict[str, list[dict[str, Any]]] = {}
        if person is None or not person.has(*PERSONAL_DATA):
            return found
        for organization in list(dict.fromkeys(organizations))[:MAX_EDUCATOR_LOOKUPS]:
            if operation == "ActivityEducators":  # named in the call: the unit test finds it
                data, errors = await portal.gateway.ask(
                    "ActivityEducators", {"organizationId": organization}, portal.token(request)
                )
            else:
                data, errors = await portal.gateway.ask(
                    "EducatorNames", {"organizationId": organization}, portal.token(request)
                )
            if data and not errors:
                found[organization] = [e["node"] for e in data["educators"]["edges"]]
        return found

    async def load(request: Request) -> dict[str, Any] | None:
        data = await portal.gateway.run(
            "Activity",
            {"id": request.path_params["id"], "on": date.today().isoformat()},
            portal.token(request),
        )
        return data["activity"]

    def sheet_rows(person: Person | None, activity: dict[str, Any], hosting: bool) -> list[dict[str, Any]]:
        """The registrations whose attendance the person may record: all of them for the host's
        side, their own organization's for a participant."""
        return [
            r
            for r in activity["registrations"]
            if hosting
            or may_act(
                person,
                region=r["organization"]["regionCode"],
                municipality=r["organization"]["municipalityId"],
                organizations=[r["organizationId"]],
            )
        ]

    async def activity_page(request: Request, attempt: Attempt | None = None) -> Response:
        attempt = attempt or no_attempt()
        person = portal.person(request)
        try:
            activity = await load(request)
        except GatewayError as exc:
            return portal.failure(request, exc)
        if activity is None:
            return portal.page(
                request,
                "error.html",
                status=404,
                message="Такого мероприятия нет или оно ещё не объявлено",
            )
        host = activity["host"]
        status = activity["status"]
        hosting = may_act(
            person, region=host["regionCode"], municipality=host["municipalityId"], organizations=[host["id"]]
        )
        today = date.today()
        now = datetime.now(UTC)
        starts = moment(activity["startsAt"]) or now
        ends = moment(activity["endsAt"]) or now
        school = is_school_representative(person)
        editor = bool(person and person.has(*EDITORS))

        # registering: a school's representative their own organization; an editor any member
        members = sorted(
            {
                m["organization"]["id"]: m["organization"]
                for m in (activity["network"] or {}).get("members", [])
            }.values(),
            key=lambda o: o["shortName"],
        )
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
        feedback_orgs = [
            o
            for oid, o in took_part.items()
            if oid != host["id"]
            and may_act(person, region=o["regionCode"], municipality=o["municipalityId"], organizations=[oid])
        ]
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

    # --- what is done with it -----------------------------------------------------------------

    async def act(request: Request) -> Response:
        action = request.path_params["action"]
        handler = ACTIONS.get(action)
        if handler is None:
            return portal.page(request, "error.html", status=404, message="Такого действия нет")
        try:
            attempt = await forms.read(request, action)
        except FormRefused as exc:
            return forms.refused(request, exc)
        return await handler(request, attempt)

    async def change(request: Request, attempt: Attempt) -> Response:
        """Announce, hold, report or cancel."""
        activity_id = request.path_params["id"]
        action = attempt.form
        operation, variables, inputs, said = {
            "announce": ("AnnounceActivity", {}, (), "Мероприятие объявлено: запись открыта"),
            "hold": ("HoldActivity", {}, (), "Мероприятие отмечено проведённым: отметьте посещаемость"),
            "report": (
                "ReportActivity",
                {"report": attempt.values.get("report", "")},
                ("report",),
                "Отчёт о мероприятии сохранён",
            ),
            "cancel": (
                "CancelActivity",
                {"reason": attempt.values.get("reason", "")},
                ("reason",),
                "Мероприятие отменено",
            ),
        }[action]
        for name in inputs:
            if not attempt.values.get(name, "").strip():
                attempt.refuse(name, "Заполните это поле")
        if not attempt.errors:
            result = await forms.run(
                request, attempt, operation, {"activityId": activity_id, **variables}, inputs=inputs
            )
            if result is not None:
                return forms.done(request, f"/activities/{activity_id}", said)
        return await activity_page(request, attempt)

    async def register(request: Request, attempt: Attempt) -> Response:
        person = portal.person(request)
        values = attempt.values
        organization = values.get("organizationId", "")
        if is_school_representative(person) and person is not None and not (person.has(*EDITORS)):
            organization = person.organization_id or ""
        if not organization:
            attempt.refuse("organizationId", "Выберите организацию")
            return await activity_page(request, attempt)
        educator = values.get("educatorId") or None
        result = await forms.run(
            request,
            attempt,
            "RegisterParticipant",
            {"activityId": request.path_params["id"], "organizationId": organization, "educatorId": educator},
            inputs=("organizationId", "educatorId"),
        )
        if result is None:
            return await activity_page(request, attempt)
        said = "Педагог записан на мероприятие" if educator else "Организация записана на мероприятие"
        return forms.done(request, f"/activities/{request.path_params['id']}#registrations", said)

    async def attendance(request: Request, attempt: Attempt) -> Response:
        """The sign-in sheet: one recordAttendance for each row with hours."""
        person = portal.person(request)
        try:
            activity = await load(request)
        except GatewayError as exc:
            return portal.failure(request, exc)
        if activity is None:
            return portal.page(request, "error.html", status=404, message="Такого мероприятия нет")
        host = activity["host"]
        hosting = may_act(
            person, region=host["regionCode"], municipality=host["municipalityId"], organizations=[host["id"]]
        )
        recorded = asked = 0
        for row in sheet_rows(person, activity, hosting):
            name = f"hours-{row['id']}"
            text = attempt.values.get(name, "").strip()
            if not text:
                continue
            asked += 1
            try:
                hours = float(number_of(text))
            except ValueError:
                attempt.refuse(name, "Укажите часы числом, например 1,5")
                continue
            result = await forms.run(
                request,
                attempt,
                "RecordAttendance",
                {
                    "activityId": activity["id"],
                    "organizationId": row["organizationId"],
                    "educatorId": row["educatorId"],
                    "hours": hours,
                },
                at=name,
            )
            recorded += result is not None
        if not asked:
            attempt.refuse("_", "Укажите часы хотя бы одного участника")
        if attempt.errors:
            if recorded:
                attempt.note = f"Записано строк: {recorded} из {asked}; исправьте отмеченные"
            return await activity_page(request, attempt)
        return forms.done(
            request, f"/activities/{activity['id']}#attendance", f"Посещаемость записана: строк — {recorded}"
        )

    async def feedback(request: Request, attempt: Attempt) -> Response:
        person = portal.person(request)
        values = attempt.values
        try:
            rating = int(number_of(values.get("rating", ""), whole=True))
        except ValueError:
            attempt.refuse("rating", "Выберите оценку от 1 до 5")
        organization = values.get("organizationId") or None
        if is_school_representative(person) and person is not None and not person.has(*EDITORS):
            organization = person.organization_id
        if attempt.errors:
            return await activity_page(request, attempt)
        result = await forms.run(
            request,
            attempt,
            "GiveFeedback",
            {
                "activityId": request.path_params["id"],
                "rating": rating,
                "comment": values.get("comment") or None,
                "organizationId": organization,
            },
            inputs=("rating", "comment", "organizationId"),
        )
        if result is None:
            return await activity_page(request, attempt)
        return forms.done(
            request, f"/activities/{request.path_params['id']}#feedback", "Спасибо: отзыв сохранён"
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
        Route("/activities/{id}/{action}", act, methods=["POST"]),
    ]
