"""Joint plans (совместный план деятельности): a network's plans by year, a plan's items with
their due dates, who answers for each and how far each is done; drafting a plan, adding items and
moving it along draft → agreed → in progress → closed, for those who may; the plan as XLSX.

Also what the plans, the calendar and the activity pages share (:class:`Forms`): Russian names of
the API's values, the person's time zone, who may do what (as the gateway decides it, only to
choose what to offer), and running a mutation whose ``ValidationError`` is shown at its field.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import labels
from ..gateway import GatewayError
from ..session import Person
from ..web import FormRefused, Portal, russian_date

ORDER = 30
NAV = [("/plans", "Планы", ())]

EDITORS = ("regional_admin", "municipal_coordinator")
"""Who drafts and agrees a network's plans and puts its activities in the calendar."""
PARTICIPANTS = (*EDITORS, "school_representative")
"""Who records what happens at a school: hosted activities, registrations, attendance, feedback."""
PERSONAL_DATA = PARTICIPANTS
"""Who sees educators' names (each in their scope)."""

PLAN_STATUSES = labels.PLAN_STATUSES
PLAN_STEPS = {
    # status → (the next status, its operation, the mutation, the button)
    "draft": ("agreed", "AgreePlan", "agreePlan", "Согласовать план"),
    "agreed": ("in_progress", "StartPlan", "startPlan", "Начать выполнение"),
    "in_progress": ("closed", "ClosePlan", "closePlan", "Закрыть план"),
}
ACTIVITY_STATUSES = labels.ACTIVITY_STATUSES
ACTIVITY_TYPES = {
    "seminar": "семинар",
    "webinar": "вебинар",
    "master_class": "мастер-класс",
    "internship_site": "стажировочная площадка",
    "conference": "конференция",
    "pedagogical_marathon": "педагогический марафон",
    "open_lesson": "открытый урок",
    "consultation": "консультация",
    "mutual_visit": "взаимопосещение",
    "methodological_association_meeting": "заседание методического объединения",
    "course": "курс",
}
PROCESSES = {
    "training": "обучение",
    "peer_learning": "взаимообучение",
    "co_learning": "совместное обучение",
    "joint_discussion": "совместное обсуждение",
    "experience_exchange": "обмен опытом",
    "research": "исследование",
    "design": "проектирование",
    "programming": "программирование",
}
FORMATS = {"in_person": "очно", "remote": "дистанционно", "blended": "смешанный формат"}
MEMBER_ROLES = labels.MEMBER_ROLES

# --- time ----------------------------------------------------------------------------------------

MOSCOW = "Europe/Moscow"
REGION_ZONES = {
    "39": "Europe/Kaliningrad",
    **dict.fromkeys(("18", "30", "63", "64", "73"), "Europe/Samara"),
    **dict.fromkeys(("02", "45", "56", "59", "66", "72", "74", "86", "89"), "Asia/Yekaterinburg"),
    "55": "Asia/Omsk",
    **dict.fromkeys(("04", "22", "54", "70"), "Asia/Novosibirsk"),
    **dict.fromkeys(("17", "19", "24", "42"), "Asia/Krasnoyarsk"),
    **dict.fromkeys(("03", "38"), "Asia/Irkutsk"),
    **dict.fromkeys(("14", "28", "75"), "Asia/Yakutsk"),
    **dict.fromkeys(("25", "27", "79"), "Asia/Vladivostok"),
    **dict.fromkeys(("49", "65"), "Asia/Magadan"),
    **dict.fromkeys(("41", "87"), "Asia/Kamchatka"),
}
"""Where the regions keep their clocks (every other region: Moscow time)."""
ZONE_NAMES = {"Europe/Kaliningrad": "калининградское", "Europe/Moscow": "московское"}


def zone_for(region_code: str | None) -> ZoneInfo:
    return ZoneInfo(REGION_ZONES.get(region_code or "", MOSCOW))


def person_zone(person: Person | None) -> ZoneInfo:
    """Times are shown, and read from forms, in the clock of the person's region (Moscow's for a
    visitor or an admin of every region)."""
    return zone_for(person.region_code if person else None)


def zone_label(zone: ZoneInfo) -> str:
    offset = datetime.now(zone).utcoffset() or timedelta()
    hours = int(offset.total_seconds() // 3600)
    return f"{ZONE_NAMES.get(zone.key, 'местное')} время, UTC{hours:+d}"


def moment(value: str | datetime | None) -> datetime | None:
    if not value:
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo else when.replace(tzinfo=UTC)


WEEKDAYS = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")
MONTH_NAMES = (
    "январь", "февраль", "март", "апрель", "май", "июнь",
    "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь",
)  # fmt: skip


def clock(value: str | datetime | None, zone: ZoneInfo) -> str:
    """``5 марта 2026, 09:00`` in the zone; ``—`` for nothing."""
    when = moment(value)
    return russian_date(when.astimezone(zone)) if when else "—"


def hour(value: str | datetime | None, zone: ZoneInfo) -> str:
    when = moment(value)
    return f"{when.astimezone(zone):%H:%M}" if when else ""


def period(starts: str | None, ends: str | None, zone: ZoneInfo) -> str:
    """``5 марта 2026, 09:00–11:00``, or both moments in full when it spans days."""
    start, end = moment(starts), moment(ends)
    if start is None:
        return "—"
    if end is None:
        return clock(start, zone)
    if start.astimezone(zone).date() == end.astimezone(zone).date():
        return f"{clock(start, zone)}–{hour(end, zone)}"
    return f"{clock(start, zone)} — {clock(end, zone)}"


def times(starts: str | None, ends: str | None, zone: ZoneInfo) -> str:
    """``09:00–11:00``, or ``09:00 — 17 декабря 2026, 01:00`` when it ends on another day."""
    start, end = moment(starts), moment(ends)
    if start is None or end is None:
        return hour(start, zone)
    if start.astimezone(zone).date() == end.astimezone(zone).date():
        return f"{hour(start, zone)}–{hour(end, zone)}"
    return f"{hour(start, zone)} — {clock(end, zone)}"


def local_input(value: str | datetime | None, zone: ZoneInfo) -> str:
    """A moment as a ``datetime-local`` input shows it."""
    when = moment(value)
    return f"{when.astimezone(zone):%Y-%m-%dT%H:%M}" if when else ""


def read_moment(text: str, zone: ZoneInfo) -> datetime:
    """A ``datetime-local`` value (the person's clock) or an ISO moment with its offset."""
    when = datetime.fromisoformat(text.strip())
    return when if when.tzinfo else when.replace(tzinfo=zone)


def read_date(text: str) -> date:
    return date.fromisoformat(text.strip())


# --- who may do what -----------------------------------------------------------------------------


def may_act(
    person: Person | None,
    *,
    region: str | None = None,
    municipality: str | None = None,
    organizations: Iterable[str] = (),
    roles: Iterable[str] = PARTICIPANTS,
) -> bool:
    """Whether one of ``roles`` the person holds covers the target, as the services decide: a
    regional admin their region (``*``: every one), a municipal coordinator their municipality, a
    school representative their organization when it is the only one concerned. Used only to
    choose what to offer; the gateway decides what is done."""
    if person is None:
        return False
    allowed = person.roles.intersection(roles)
    if "regional_admin" in allowed and person.region_code:
        if person.region_code == "*" or person.region_code == region:
            return True
    if "municipal_coordinator" in allowed and person.municipality_id:
        if municipality and municipality == person.municipality_id:
            return True
    if "school_representative" in allowed and person.organization_id:
        if set(organizations) == {person.organization_id}:
            return True
    return False


def may_edit_network(person: Person | None, network: Mapping[str, Any]) -> bool:
    """Whether the person drafts and agrees this network's plans and plans its activities."""
    return may_act(
        person, region=network.get("regionCode"), municipality=network.get("municipalityId"), roles=EDITORS
    )


# --- what a person is told when the API refuses an input ----------------------------------------

ACTIONS = {
    "announced": "объявить",
    "held": "отметить проведённым",
    "reported": "отчитать",
    "cancelled": "отменить",
    "postponed": "перенести",
    "updated": "изменить",
}


def _status(value: str) -> str:
    return PLAN_STATUSES.get(value) or ACTIVITY_STATUSES.get(value) or value


MESSAGES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(p), t)
    for p, t in (
        (r"^must not be empty$", "Заполните это поле"),
        (r"^must be at most (\d+) characters$", lambda m: f"Не длиннее {m[1]} знаков"),
        (r"^unknown value .*; one of: .*$", "Выберите значение из списка"),
        (r"^year must be between 2000 and 2100$", "Год — от 2000 до 2100"),
        (r"^the network already has a plan for (\d+)$", lambda m: f"У сети уже есть план на {m[1]} год"),
        (r"^plan \S+ does not exist$", "Такого плана нет"),
        (
            r"^items are added to a draft plan; this one is (\w+)$",
            lambda m: f"Пункты добавляют только в черновик плана, а этот план — {_status(m[1])}",
        ),
        (r"^the item must be due within (\d+)$", lambda m: f"Срок пункта должен быть в {m[1]} году"),
        (
            r"^a plan that is (\w+) cannot become (\w+)$",
            lambda m: f"План в состоянии «{_status(m[1])}» нельзя перевести в «{_status(m[2])}»",
        ),
        (r"^a plan without items cannot be agreed$", "План без пунктов нельзя согласовать"),
        (r"^organization \S+ is not in the registry$", "Такой организации нет в реестре"),
        (r"^organization (.+) has left the registry$", lambda m: f"Организация {m[1]} выбыла из реестра"),
        (r"^network \S+ is not in the registry$", "Такой сети нет в реестре"),
        (r"^educator \S+ is not in the registry$", "Такого педагога нет в реестре"),
        (r"^educator \S+ does not work at organization \S+$", "Педагог не работает в этой организации"),
        (r"^give times with a time zone offset$", "Укажите время с часовым поясом"),
        (r"^an activity must end after it starts$", "Окончание должно быть позже начала"),
        (r"^capacity must be at least 1$", "Мест должно быть не меньше одного"),
        (
            r"^the host is not a member of the network «(.+)» on (\S+)$",
            lambda m: f"Организация не входит в сеть «{m[1]}» на {russian_date(m[2])}",
        ),
        (r"^plan item \S+ does not exist$", "Такого пункта плана нет"),
        (r"^the plan item belongs to another network's plan$", "Пункт относится к плану другой сети"),
        (r"^the plan is closed$", "План закрыт"),
        (
            r"^a remote or blended activity's location is its link",
            "Для дистанционного или смешанного мероприятия укажите ссылку (https://…)",
        ),
        (r"^activity \S+ does not exist$", "Такого мероприятия нет"),
        (
            r"^an activity that is (\w+) cannot be (\w+)$",
            lambda m: f"Мероприятие в статусе «{_status(m[1])}» нельзя {ACTIONS.get(m[2], m[2])}",
        ),
        (
            r"^the activity is already over: mark it held instead$",
            "Мероприятие уже закончилось: отметьте его проведённым",
        ),
        (
            r"^the activity starts at (\S+); it cannot be held before$",
            lambda m, zone: (
                f"Мероприятие начнётся {clock(m[1], zone)}; раньше его нельзя отметить проведённым"
            ),
        ),
        (
            r"^registration is open only for an announced activity; it is (\w+)$",
            lambda m: f"Запись открыта только на объявленное мероприятие, а это — {_status(m[1])}",
        ),
        (r"^the activity is full \((\d+) places\)$", lambda m: f"Мест нет: все {m[1]} заняты"),
        (r"^already registered$", "Уже записан"),
        (r"^hours must be positive$", "Часов должно быть больше нуля"),
        (
            r"^hours exceed the activity's length \((\S+) h\)$",
            lambda m: f"Больше, чем длилось мероприятие ({m[1].replace('.', ',')} ч)",
        ),
        (
            r"^attendance is recorded once the activity is held; it is (\w+)$",
            lambda m: f"Посещаемость отмечают после проведения, а мероприятие — {_status(m[1])}",
        ),
        (
            r"^feedback is given once the activity is held; it is (\w+)$",
            lambda m: f"Отзыв оставляют после проведения, а мероприятие — {_status(m[1])}",
        ),
        (r"^rating is from 1 to 5$", "Оценка — от 1 до 5"),
        (
            r"^feedback is given by a participating organization",
            "Отзыв оставляет участвовавшая организация; проводившая своё мероприятие не оценивает",
        ),
    )
]


def in_russian(message: str, zone: ZoneInfo | None = None) -> str:
    """The API's message as the person reads it (the API's own words when it is new to us)."""
    for pattern, text in MESSAGES:
        found = pattern.search(message)
        if found:
            if not callable(text):
                return text
            if text.__code__.co_argcount == 2:
                return text(found, zone or zone_for(None))
            return text(found)
    return message


# --- forms ---------------------------------------------------------------------------------------


@dataclass
class Attempt:
    """A form that was sent and refused: which one, what was entered, the errors by input (``_``:
    about the form as a whole), and the page's status."""

    form: str
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    status: int = 400
    note: str | None = None
    """What was done all the same (e.g. the rows of a sheet that were recorded)."""

    def refuse(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)


def no_attempt() -> Attempt:
    return Attempt(form="", status=200)


class Forms:
    """Running the mutation of a form: the result, or the refusal noted on ``attempt``."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    async def read(self, request: Request, form: str) -> Attempt:
        """The POSTed form (its CSRF token checked: :class:`FormRefused` otherwise)."""
        return Attempt(form=form, values=await self.portal.form(request))

    async def run(
        self,
        request: Request,
        attempt: Attempt,
        name: str,
        variables: dict[str, Any],
        *,
        inputs: Iterable[str] = (),
        input_of: Mapping[str, str] | None = None,
        at: str | None = None,
    ) -> dict[str, Any] | None:
        """Operation ``name``'s result, or None with the refusal noted: a ValidationError at the
        input its ``field`` names (``input_of`` renames fields; one the form has no input for is
        the form's), anything else the gateway refuses about the form as a whole; every refusal
        at input ``at`` if one is given (a row of a sheet)."""
        try:
            data = await self.portal.gateway.run(name, variables, self.portal.token(request))
        except GatewayError as exc:
            attempt.refuse(at or "_", exc.message)
            attempt.status = exc.status
            return None
        result = next(iter(data.values()))
        if result.get("__typename") == "ValidationError":
            where = at or (input_of or {}).get(result.get("field") or "", result.get("field") or "")
            inputs = [*inputs, *([at] if at else [])]
            message = in_russian(result["message"], person_zone(self.portal.person(request)))
            attempt.refuse(where if where in set(inputs) else "_", message)
            return None
        return result

    def done(self, request: Request, target: str, message: str) -> Response:
        session = self.portal.sessions.ensure(request)
        session.flash = message
        return self.portal.sessions.keep(RedirectResponse(target, 303), session)

    def page(
        self, request: Request, template: str, attempt: Attempt, status: int | None = None, **values: Any
    ) -> Response:
        """A page of these parts: the person's clock, the Russian names, the refused form."""
        zone = person_zone(self.portal.person(request))
        return self.portal.page(
            request,
            template,
            status=status or attempt.status,
            attempt=attempt,
            zone=zone,
            zone_label=zone_label(zone),
            clock=lambda v: clock(v, zone),
            hour=lambda v: hour(v, zone),
            period=lambda a, b: period(a, b, zone),
            times=lambda a, b: times(a, b, zone),
            local_input=lambda v: local_input(v, zone),
            plan_statuses=PLAN_STATUSES,
            activity_statuses=ACTIVITY_STATUSES,
            activity_types=ACTIVITY_TYPES,
            processes=PROCESSES,
            formats=FORMATS,
            member_roles=MEMBER_ROLES,
            **values,
        )

    def refused(self, request: Request, exc: FormRefused) -> Response:
        return self.portal.page(request, "error.html", status=400, message=str(exc))


def number_of(text: str, *, whole: bool = False) -> float | int:
    """A number as people type it (``1,5`` or ``1.5``); ValueError otherwise."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    if whole:
        if not re.fullmatch(r"[+-]?\d+", cleaned):
            raise ValueError(text)
        return int(cleaned)
    value = float(cleaned)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


# --- the plan as a workbook ----------------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = (
    ("№", 5),
    ("Мероприятие (пункт плана)", 50),
    ("Срок", 12),
    ("Ответственная организация", 36),
    ("Ответственный", 24),
    ("Ожидаемый результат", 36),
    ("Выполнено", 11),
    ("Проведённые и назначенные мероприятия", 50),
)


def _put(sheet: Any, row: int, column: int, value: Any) -> None:
    """A value in a cell; text stays text, even one that looks like a formula (``=…``, ``+…``)."""
    cell = sheet.cell(row=row, column=column)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
    elif isinstance(value, date):
        cell.number_format = "DD.MM.YYYY"


def plan_workbook(plan: dict[str, Any], zone: ZoneInfo) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = f"План {plan['year']}"
    progress = plan["progress"]
    heading = [
        plan["title"],
        f"Сеть: {plan['network']['name']}",
        f"Год: {plan['year']}; состояние: {PLAN_STATUSES.get(plan['status'], plan['status'])}",
        f"Выполнено пунктов: {progress['done']} из {progress['items']}"
        f" ({round(progress['shareDone'] * 100)} %); просрочено: {progress['overdue']}",
    ]
    for row, text in enumerate(heading, start=1):
        _put(sheet, row, 1, text)
    sheet.cell(row=1, column=1).font = Font(bold=True, size=13)
    top = len(heading) + 2
    for column, (title, width) in enumerate(COLUMNS, start=1):
        _put(sheet, top, column, title)
        sheet.cell(row=top, column=column).font = Font(bold=True)
        sheet.column_dimensions[sheet.cell(row=top, column=column).column_letter].width = width
    for number, item in enumerate(plan["items"], start=1):
        row = top + number
        activities = "\n".join(
            f"{a['title']} — {clock(a['startsAt'], zone)} ({ACTIVITY_STATUSES.get(a['status'], a['status'])})"
            for a in item["activities"]
        )
        values = [
            number,
            item["title"],
            date.fromisoformat(item["dueOn"]),
            (item["responsibleOrganization"] or {}).get("shortName", ""),
            item["responsiblePerson"] or "",
            item["expectedResult"] or "",
            "да" if item["done"] else "нет",
            activities,
        ]
        for column, value in enumerate(values, start=1):
            _put(sheet, row, column, value)
            sheet.cell(row=row, column=column).alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = sheet.cell(row=top + 1, column=1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def filename(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "plan"


# --- the pages -----------------------------------------------------------------------------------

PLAN_ITEM_INPUTS = ("title", "dueOn", "responsibleOrganizationId", "responsiblePerson", "expectedResult")
DRAFT_INPUTS = ("year", "title")


def routes(portal: Portal) -> list[Route]:
    forms = Forms(portal)

    async def overview(request: Request) -> Response:
        asked = request.query_params.get("year", "")
        year = int(asked) if asked.isdigit() else None
        try:
            data = await portal.gateway.run("PlansOverview", {"year": year}, portal.token(request))
        except GatewayError as exc:
            return portal.failure(request, exc)
        networks: dict[str, dict[str, Any]] = {}
        for plan in data["plans"]:
            entry = networks.setdefault(plan["network"]["id"], {"network": plan["network"], "plans": []})
            entry["plans"].append(plan)
        return forms.page(
            request,
            "plans.html",
            no_attempt(),
            networks=sorted(networks.values(), key=lambda e: e["network"]["name"]),
            year=year,
            this_year=date.today().year,
        )

    async def network_plans(request: Request, attempt: Attempt | None = None) -> Response:
        attempt = attempt or no_attempt()
        try:
            data = await portal.gateway.run(
                "NetworkPlans", {"id": request.path_params["id"]}, portal.token(request)
            )
        except GatewayError as exc:
            return portal.failure(request, exc)
        network = data["network"]
        if network is None:
            return portal.page(request, "error.html", status=404, message="Такой сети нет")
        years = {p["year"] for p in network["plans"]}
        next_year = date.today().year
        while next_year in years:
            next_year += 1
        return forms.page(
            request,
            "plans_network.html",
            attempt,
            net=network,
            may_edit=may_edit_network(portal.person(request), network),
            next_year=next_year,
        )

    async def draft(request: Request) -> Response:
        try:
            attempt = await forms.read(request, "draft")
        except FormRefused as exc:
            return forms.refused(request, exc)
        values = attempt.values
        try:
            year = int(number_of(values.get("year", ""), whole=True))
        except ValueError:
            attempt.refuse("year", "Укажите год числом, например 2027")
        if not values.get("title", "").strip():
            attempt.refuse("title", "Заполните это поле")
        if attempt.errors:
            return await network_plans(request, attempt)
        result = await forms.run(
            request,
            attempt,
            "DraftPlan",
            {"networkId": request.path_params["id"], "year": year, "title": values["title"]},
            inputs=DRAFT_INPUTS,
        )
        if result is None:
            return await network_plans(request, attempt)
        return forms.done(request, f"/plans/{result['id']}", "Черновик плана создан: добавьте пункты")

    async def plan_page(request: Request, attempt: Attempt | None = None) -> Response:
        attempt = attempt or no_attempt()
        try:
            data = await portal.gateway.run(
                "Plan",
                {"id": request.path_params["id"], "on": date.today().isoformat()},
                portal.token(request),
            )
        except GatewayError as exc:
            return portal.failure(request, exc)
        plan = data["plan"]
        if plan is None:
            return portal.page(
                request, "error.html", status=404, message="Такого плана нет или он вам не виден"
            )
        today = date.today().isoformat()
        members = sorted(
            {m["organization"]["id"]: m["organization"] for m in plan["network"]["members"]}.values(),
            key=lambda o: o["shortName"],
        )
        return forms.page(
            request,
            "plans_plan.html",
            attempt,
            plan=plan,
            members=members,
            may_edit=may_edit_network(portal.person(request), plan["network"]),
            step=PLAN_STEPS.get(plan["status"]),
            today=today,
        )

    async def add_item(request: Request) -> Response:
        try:
            attempt = await forms.read(request, "item")
        except FormRefused as exc:
            return forms.refused(request, exc)
        values = attempt.values
        try:
            due = read_date(values.get("dueOn", ""))
        except ValueError:
            attempt.refuse("dueOn", "Укажите дату срока")
        if not values.get("title", "").strip():
            attempt.refuse("title", "Заполните это поле")
        if attempt.errors:
            return await plan_page(request, attempt)
        result = await forms.run(
            request,
            attempt,
            "AddPlanItem",
            {
                "input": {
                    "planId": request.path_params["id"],
                    "title": values["title"],
                    "dueOn": due.isoformat(),
                    "responsibleOrganizationId": values.get("responsibleOrganizationId") or None,
                    "responsiblePerson": values.get("responsiblePerson") or None,
                    "expectedResult": values.get("expectedResult") or None,
                }
            },
            inputs=PLAN_ITEM_INPUTS,
        )
        if result is None:
            return await plan_page(request, attempt)
        return forms.done(request, f"/plans/{request.path_params['id']}#items", "Пункт добавлен в план")

    async def advance(request: Request) -> Response:
        try:
            attempt = await forms.read(request, "status")
        except FormRefused as exc:
            return forms.refused(request, exc)
        step = next((s for s in PLAN_STEPS.values() if s[0] == attempt.values.get("to")), None)
        if step is None:
            attempt.refuse("_", "Такого перехода нет")
            return await plan_page(request, attempt)
        plan_id = request.path_params["id"]
        result = await forms.run(request, attempt, step[1], {"planId": plan_id})
        if result is None:
            return await plan_page(request, attempt)
        return forms.done(request, f"/plans/{plan_id}", f"План теперь: {PLAN_STATUSES[result['status']]}")

    async def export(request: Request) -> Response:
        try:
            data = await portal.gateway.run(
                "Plan",
                {"id": request.path_params["id"], "on": date.today().isoformat()},
                portal.token(request),
            )
        except GatewayError as exc:
            return portal.failure(request, exc)
        plan = data["plan"]
        if plan is None:
            return portal.page(
                request, "error.html", status=404, message="Такого плана нет или он вам не виден"
            )
        body = plan_workbook(plan, person_zone(portal.person(request)))
        name = filename(f"plan-{plan['year']}-{plan['id'][:8]}") + ".xlsx"
        return Response(
            body,
            media_type=XLSX,
            headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"},
        )

    return [
        Route("/plans", overview, methods=["GET"]),
        Route("/networks/{id}/plans", network_plans, methods=["GET"]),
        Route("/networks/{id}/plans", draft, methods=["POST"]),
        Route("/plans/{id}/export.xlsx", export, methods=["GET"]),
        Route("/plans/{id}", plan_page, methods=["GET"]),
        Route("/plans/{id}/items", add_item, methods=["POST"]),
        Route("/plans/{id}/status", advance, methods=["POST"]),
    ]
