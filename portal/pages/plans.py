"""Joint plans (совместный план деятельности): a network's plans by year, a plan's items with
their due dates, who answers for each and how far each is done; drafting a plan, adding items and
moving it along draft → agreed → in progress → closed, for those who may; the plan as XLSX.

Also what the plans, the calendar and the activity pages share: Russian names of the API's values,
times in the person's clock, who may do what (as the gateway decides it, only to choose what to
offer), and their forms (:func:`plan_forms`: the portal's one form helper, :mod:`portal.forms`,
drawing their pages with the clock and the names).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import labels
from ..exports import FORMATS as EXPORT_FORMATS
from ..exports import Column, day, filename, table
from ..forms import (
    EDITORS,
    PARTICIPANTS,
    WHOLE,
    Attempt,
    Field,
    Forms,
    clock,
    found,
    moment,
    no_attempt,
    person_zone,
    refused,
)
from ..forms import zone_for as zone_for  # the pages' clock, read from forms: one place
from ..gateway import GatewayError
from ..session import Person
from ..web import Portal

ORDER = 30
NAV = [("/plans", "Планы", ())]

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

ZONE_NAMES = {"Europe/Kaliningrad": "калининградское", "Europe/Moscow": "московское"}


def zone_label(zone: ZoneInfo) -> str:
    offset = datetime.now(zone).utcoffset() or timedelta()
    hours = int(offset.total_seconds() // 3600)
    return f"{ZONE_NAMES.get(zone.key, 'местное')} время, UTC{hours:+d}"


WEEKDAYS = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")
MONTH_NAMES = (
    "январь", "февраль", "март", "апрель", "май", "июнь",
    "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь",
)  # fmt: skip


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


# --- their pages ---------------------------------------------------------------------------------


def in_zone(zone: ZoneInfo) -> dict[str, Any]:
    """What the plans', the calendar's and the activities' pages say times and names with."""
    return {
        "zone": zone,
        "zone_label": zone_label(zone),
        "clock": lambda v: clock(v, zone),
        "hour": lambda v: hour(v, zone),
        "period": lambda a, b: period(a, b, zone),
        "times": lambda a, b: times(a, b, zone),
        "local_input": lambda v: local_input(v, zone),
        "plan_statuses": PLAN_STATUSES,
        "activity_statuses": ACTIVITY_STATUSES,
        "activity_types": ACTIVITY_TYPES,
        "processes": PROCESSES,
        "formats": FORMATS,
        "member_roles": MEMBER_ROLES,
        "plan_periods": labels.PLAN_PERIODS,
        "item_kinds": labels.PLAN_ITEM_KINDS,
    }


def members_of(network: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The network's member organizations, each once, by name."""
    members = {m["organization"]["id"]: m["organization"] for m in (network or {}).get("members", [])}
    return sorted(members.values(), key=lambda o: o["shortName"])


def plan_forms(portal: Portal) -> Forms:
    """The portal's forms, drawing these pages in the person's clock with the Russian names."""
    return Forms(portal, lambda request: in_zone(person_zone(portal.person(request))))


async def plan_of(
    portal: Portal, request: Request, ident: str, missing: str, *, on: str | None = None
) -> dict[str, Any] | Response:
    """Plan ``ident`` (its items' activities as of ``on``), or the page that says why not."""
    asking = portal.gateway.run("Plan", {"id": ident, "on": on}, portal.token(request))
    return await found(portal, request, asking, "plan", missing)


def joint_planning(person: Person | None, plan: Mapping[str, Any]) -> dict[str, Any]:
    """What the plan's page offers the person (the gateway still decides): editors draft, decide
    proposals and amend; a proposing member of the network proposes items for itself; a task's
    responsible organization (and the editors) mark it done."""
    editor = may_edit_network(person, plan["network"])
    proposers = {
        m["organization"]["id"]: m["organization"]
        for m in plan["network"]["members"]
        if m["role"] in PROPOSING_ROLES
    }
    own = person.organization_id if person and person.has("school_representative") else None
    if editor:
        offered = sorted(proposers.values(), key=lambda o: o["shortName"])
    else:
        offered = [proposers[own]] if own in proposers else []
    open_plan, agreed = plan["status"] in OPEN, plan["status"] in AGREED
    return {
        "may_edit": editor,
        "may_propose": open_plan and bool(offered),
        "proposers": [(o["id"], o["shortName"]) for o in offered],
        "may_decide": open_plan and editor,
        "may_amend": agreed and editor,
        "may_mark": {
            i["id"]
            for i in plan["items"]
            if agreed
            and i["kind"] == "task"
            and not i["done"]
            and (editor or (own is not None and i["responsibleOrganizationId"] == own))
        },
        "groups": [(g["id"], g["name"]) for g in plan["network"].get("interactionGroups", [])],
        "proposal_statuses": PROPOSAL_STATUSES,
    }


# --- the plan as a workbook ----------------------------------------------------------------------


def plan_columns(zone: ZoneInfo) -> tuple[Column, ...]:
    """A plan's items as a table (``number``: the item's place in the plan)."""
    return (
        Column("№", lambda i: i["number"]),
        Column("Мероприятие (пункт плана)", lambda i: i["title"]),
        Column("Срок", lambda i: day(i["dueOn"])),
        Column("Ответственная организация", lambda i: (i["responsibleOrganization"] or {}).get("shortName")),
        Column("Ответственный", lambda i: i["responsiblePerson"]),
        Column("Ожидаемый результат", lambda i: i["expectedResult"]),
        Column("Выполнено", lambda i: "да" if i["done"] else "нет"),
        Column(
            "Проведённые и назначенные мероприятия",
            lambda i: "\n".join(
                f"{a['title']} — {clock(a['startsAt'], zone)}"
                f" ({ACTIVITY_STATUSES.get(a['status'], a['status'])})"
                for a in i["activities"]
            ),
        ),
        Column("Вид пункта", lambda i: labels.PLAN_ITEM_KINDS.get(i["kind"], i["kind"])),
        Column("Группа взаимодействия", lambda i: (i["interactionGroup"] or {}).get("name")),
    )


def plan_heading(plan: dict[str, Any]) -> list[str]:
    """What a plan's workbook says above its items."""
    progress = plan["progress"]
    return [
        plan["title"],
        f"Сеть: {plan['network']['name']}",
        f"Год: {plan['year']}; состояние: {PLAN_STATUSES.get(plan['status'], plan['status'])}",
        f"Выполнено пунктов: {progress['done']} из {progress['items']}"
        f" ({round(progress['shareDone'] * 100)} %); просрочено: {progress['overdue']}",
    ]


# --- the pages -----------------------------------------------------------------------------------

PLAN_PERIODS = labels.PLAN_PERIODS
ITEM_KINDS = labels.PLAN_ITEM_KINDS
PROPOSAL_STATUSES = labels.PROPOSAL_STATUSES
OPEN = ("draft", "agreed", "in_progress")
"""Statuses in which members propose items and proposals are decided."""
AGREED = ("agreed", "in_progress")
"""Statuses in which a plan is amended (not edited) and its tasks are marked done."""
PROPOSING_ROLES = ("centre", "partner", "supported")
"""Members who propose items for themselves."""

DRAFT_FIELDS = (
    Field("year", "Год", "int", required=True, invalid="Укажите год числом, например 2027"),
    Field("title", "Название плана", required=True),
    Field("period", "Период плана", "select", choices=PLAN_PERIODS),
)
ITEM_STATE = (
    Field("dueOn", "Срок", "date", required=True, invalid="Укажите дату срока"),
    Field("title", "Что сделать (мероприятие или задача)", required=True),
    Field("kind", "Вид пункта", "select", choices=ITEM_KINDS),
    Field("responsibleOrganizationId", "Ответственная организация"),
    Field("responsiblePerson", "Ответственный (должность, ФИО)"),
    Field("expectedResult", "Ожидаемый результат", "textarea"),
    Field("interactionGroupId", "Группа взаимодействия"),
)
ITEM_FIELDS = ITEM_STATE
PROPOSAL_FIELDS = (
    Field("organizationId", "Кто предлагает (отвечает за пункт)", required=True),
    *(f for f in ITEM_STATE if f.name != "responsibleOrganizationId"),
)
DECISION_FIELDS = (Field("reason", "Причина решения", "textarea"),)
DECISIONS = {
    # the button → (operation, what is said after)
    "accept": ("AcceptPlanProposal", "Предложение принято: пункт добавлен в план"),
    "decline": ("DeclinePlanProposal", "Предложение отклонено"),
}
DONE_FIELDS = (
    Field("note", "Что сделано", "textarea"),
    Field("documentUrl", "Ссылка на документ", "url", hint="Адрес, начинающийся с https://"),
)
AMEND_ACTIONS = {"change": "изменить пункт", "withdraw": "исключить пункт из плана"}
AMEND_FIELDS = (
    Field("reason", "Причина изменения плана", "textarea", required=True, invalid="Укажите причину"),
    Field("action", "Что сделать с пунктом", "select", required=True, choices=AMEND_ACTIONS),
    *ITEM_STATE,
)
NOT_VISIBLE = "Такого плана нет или он вам не виден"


def routes(portal: Portal) -> list[Route]:
    forms = plan_forms(portal)

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
        asking = portal.gateway.run("NetworkPlans", {"id": request.path_params["id"]}, portal.token(request))
        network = await found(portal, request, asking, "network", "Такой сети нет")
        if isinstance(network, Response):
            return network
        years = {p["year"] for p in network["plans"]}
        next_year = date.today().year
        while next_year in years:
            next_year += 1
        return forms.page(
            request,
            "plans_network.html",
            attempt or no_attempt(),
            net=network,
            may_edit=may_edit_network(portal.person(request), network),
            next_year=next_year,
        )

    async def draft(request: Request) -> Response:
        return await forms.take(
            request,
            "draft",
            DRAFT_FIELDS,
            "DraftPlan",
            lambda v: {"networkId": request.path_params["id"], **v, "period": v["period"] or "calendar_year"},
            again=network_plans,
            then=lambda r, v: (f"/plans/{r['id']}", "Черновик плана создан: добавьте пункты"),
        )

    async def plan_page(request: Request, attempt: Attempt | None = None) -> Response:
        today = date.today().isoformat()
        plan = await plan_of(portal, request, request.path_params["id"], NOT_VISIBLE, on=today)
        if isinstance(plan, Response):
            return plan
        person = portal.person(request)
        asked = request.query_params.get("version", "")
        shown = next((v for v in plan["versions"] if str(v["number"]) == asked), None)
        return forms.page(
            request,
            "plans_plan.html",
            attempt or no_attempt(),
            **joint_planning(person, plan),
            plan=plan,
            members=members_of(plan["network"]),
            step=PLAN_STEPS.get(plan["status"]),
            today=today,
            shown_version=shown if shown and shown["number"] != plan["version"] else None,
        )

    async def add_item(request: Request) -> Response:
        plan_id = request.path_params["id"]
        return await forms.take(
            request,
            "item",
            ITEM_FIELDS,
            "AddPlanItem",
            lambda v: {"input": {"planId": plan_id, **v, "kind": v["kind"] or "activity"}},
            again=plan_page,
            then=lambda r, v: (f"/plans/{plan_id}#items", "Пункт добавлен в план"),
        )

    async def propose(request: Request) -> Response:
        plan_id = request.path_params["id"]
        return await forms.take(
            request,
            "propose",
            PROPOSAL_FIELDS,
            "ProposePlanItem",
            lambda v: {"input": {"planId": plan_id, **v, "kind": v["kind"] or "activity"}},
            again=plan_page,
            then=lambda r, v: (
                f"/plans/{plan_id}#proposals",
                f"Предложение «{r['title']}» отправлено координатору",
            ),
        )

    async def decide(request: Request) -> Response:
        plan_id, proposal = request.path_params["id"], request.path_params["proposal"]
        attempt = await forms.read(request, f"decide-{proposal}")
        if isinstance(attempt, Response):
            return attempt
        decision = DECISIONS.get(attempt.values.get("decision", ""))
        if decision is None:
            attempt.refuse(WHOLE, "Выберите: принять или отклонить")
            return await plan_page(request, attempt)
        if attempt.values["decision"] == "decline" and not attempt.values.get("reason", "").strip():
            attempt.refuse("reason", "Укажите причину отказа")
        return await forms.take(
            request,
            attempt,
            DECISION_FIELDS,
            decision[0],
            lambda v: {"proposalId": proposal, **v},
            again=plan_page,
            then=lambda r, v: (f"/plans/{plan_id}#proposals", decision[1]),
        )

    async def mark_done(request: Request) -> Response:
        plan_id, item = request.path_params["id"], request.path_params["item"]
        return await forms.take(
            request,
            f"done-{item}",
            DONE_FIELDS,
            "MarkPlanItemDone",
            lambda v: {"itemId": item, **v},
            again=plan_page,
            then=lambda r, v: (f"/plans/{plan_id}#item-{item}", f"Задача «{r['title']}» выполнена"),
        )

    async def amend(request: Request) -> Response:
        plan_id, item_id = request.path_params["id"], request.path_params["item"]
        plan = await plan_of(portal, request, plan_id, NOT_VISIBLE, on=date.today().isoformat())
        if isinstance(plan, Response):
            return plan
        item = next((i for i in plan["items"] if i["id"] == item_id), None)
        if item is None:
            return portal.page(request, "error.html", status=404, message="Такого пункта в плане нет")
        if not may_edit_network(portal.person(request), plan["network"]):
            return refused(portal, request, portal.person(request))

        async def again(request: Request, attempt: Attempt) -> Response:
            return forms.page(
                request,
                "plans_amend.html",
                attempt,
                plan=plan,
                item=item,
                members=members_of(plan["network"]),
                actions=AMEND_ACTIONS,
            )

        if request.method == "GET":
            values = {f.name: item.get(f.name) or "" for f in ITEM_STATE}
            values["action"] = "change"
            return await again(request, Attempt(form="amend", values=values, status=200))

        def amendment(values: dict[str, Any]) -> dict[str, Any]:
            sent = {"planId": plan_id, "reason": values.pop("reason")}
            if values.pop("action") == "withdraw":
                return {"input": {**sent, "withdrawnItemIds": [item_id]}}
            change = {"itemId": item_id, **values, "kind": values["kind"] or item["kind"]}
            return {"input": {**sent, "changes": [change]}}

        return await forms.take(
            request,
            "amend",
            AMEND_FIELDS,
            "AmendPlan",
            amendment,
            again=again,
            then=lambda r, v: (f"/plans/{plan_id}#versions", f"План изменён: версия {r['version']}"),
        )

    async def advance(request: Request) -> Response:
        attempt = await forms.read(request, "status")
        if isinstance(attempt, Response):
            return attempt
        step = next((s for s in PLAN_STEPS.values() if s[0] == attempt.values.get("to")), None)
        if step is None:
            attempt.refuse(WHOLE, "Такого перехода нет")
            return await plan_page(request, attempt)
        plan_id = request.path_params["id"]
        return await forms.take(
            request,
            attempt,
            (),
            step[1],
            lambda v: {"planId": plan_id},
            again=plan_page,
            then=lambda r, v: (f"/plans/{plan_id}", f"План теперь: {PLAN_STATUSES[r['status']]}"),
        )

    async def export(request: Request) -> Response:
        """The plan's items as XLSX (headed with the plan) or CSV."""
        kind = request.path_params["format"]
        if kind not in EXPORT_FORMATS:
            return portal.page(request, "error.html", status=404, message="Выгрузка бывает в .xlsx и .csv")
        plan = await plan_of(
            portal, request, request.path_params["id"], NOT_VISIBLE, on=date.today().isoformat()
        )
        if isinstance(plan, Response):
            return plan
        columns = plan_columns(person_zone(portal.person(request)))
        items = [{**item, "number": n} for n, item in enumerate(plan["items"], start=1)]
        name = filename(f"plan-{plan['year']}-{plan['id'][:8]}")
        return table(kind, name, f"План {plan['year']}", columns, items, plan_heading(plan))

    return [
        Route("/plans", overview, methods=["GET"]),
        Route("/networks/{id}/plans", network_plans, methods=["GET"]),
        Route("/networks/{id}/plans", draft, methods=["POST"]),
        Route("/plans/{id}/export.{format:str}", export, methods=["GET"]),
        Route("/plans/{id}", plan_page, methods=["GET"]),
        Route("/plans/{id}/items", add_item, methods=["POST"]),
        Route("/plans/{id}/status", advance, methods=["POST"]),
        Route("/plans/{id}/proposals", propose, methods=["POST"]),
        Route("/plans/{id}/proposals/{proposal}", decide, methods=["POST"]),
        Route("/plans/{id}/items/{item}/done", mark_done, methods=["POST"]),
        Route("/plans/{id}/items/{item}/amend", amend, methods=["GET", "POST"]),
    ]
