"""Changes to the registry, each on its own page: organizations (register, edit, archive, statuses,
risk profile), resources (offer, withdraw), networks (create, close, members join and leave, the
centre), agreements (sign, terminate), regulating documents, and mobility (the events service).

Each form is offered only to the roles the API lets make that change (a school's representative:
their own school's details and resources); the gateway still decides, and its refusal is shown on
the form. The API's validation errors are shown at their field with what was entered kept (400);
a change taken goes to the changed thing (303) with a message.

The forms are a table (:data:`CHANGES`): each :class:`Change` says where it is, who may use it,
what it is about, its fields, the operation it runs and where a change taken goes; one handler
shows and takes every one of them with the portal's form helper (:mod:`portal.forms`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..exports import Column, day, every, export_route
from ..forms import (
    EDITORS,
    PARTICIPANTS,
    Attempt,
    Field,
    Form,
    Forms,
    choices,
    found,
    needs_choices,
    refused,
    signed_in,
)
from ..gateway import GatewayError, operation
from ..labels import (
    KINDS,
    MEMBER_ROLES,
    NETWORK_LEVELS,
    RESOURCE_KINDS,
    RISK_FACTORS,
    RISK_LEVELS,
    STATUSES,
)
from ..session import Person
from ..web import Portal
from .registry import listing

ORDER = 19
"""Before the registry's pages (20): their ``/organizations/{id}`` would take ``/organizations/new``."""
NAV: list[tuple[str, str, tuple[str, ...]]] = []

STATUS_CHOICES = {
    "low_results": f"{STATUSES['low_results']} — школа с низкими образовательными результатами",
    "adverse_social_conditions": f"{STATUSES['adverse_social_conditions']} — школа в неблагоприятных"
    " социальных условиях",
    "stable_results": "школа со стабильными результатами",
}
REGULATION_KINDS = {
    "provision": "положение",
    "order": "приказ",
    "instruction": "распоряжение",
    "plan": "план",
    "model_agreement": "типовой договор",
}
MOBILITY_KINDS = {"students": "обучающиеся", "teachers": "педагоги"}
AGREEMENT_STATUSES = {"signed": "действует", "terminated": "расторгнут"}
AGREEMENT_COLUMNS = (
    Column("Номер", lambda a: a["number"]),
    Column("Подписан", lambda a: day(a["signedOn"])),
    Column("Предмет", lambda a: a["subject"]),
    Column("Стороны", lambda a: [p["shortName"] for p in a["parties"]]),
    Column("Действует с", lambda a: day(a["validFrom"])),
    Column("Действует до", lambda a: day(a["terminatedOn"] or a["validTo"])),
    Column("Состояние", lambda a: AGREEMENT_STATUSES.get(a["status"], a["status"])),
)

ORGANIZATION_FIELDS = [
    Field("fullName", "Полное название", required=True),
    Field("shortName", "Краткое название", required=True),
    Field("kind", "Вид", "select", required=True, choices=KINDS),
    Field("regionCode", "Регион", "select", required=True, choices="regions"),
    Field("municipalityId", "Муниципалитет", "select", choices="municipalities"),
    Field("inn", "ИНН", hint="10 цифр"),
    Field("ogrn", "ОГРН", hint="13 цифр"),
    Field("schoolCode", "Код школы в ФИС ОКО", hint="sch и шесть цифр, например sch390101"),
    Field("address", "Адрес"),
    Field("website", "Сайт", "url"),
    Field("email", "Электронная почта", "email"),
    Field("phone", "Телефон", "tel"),
]
EDITABLE = [f for f in ORGANIZATION_FIELDS if f.name != "regionCode"]
CHOSEN = ("kind", "municipalityId")
"""Chosen from a list: left blank, they stay as they are (the API cannot clear them)."""
SCHOOL_LOCKED = ("kind", "municipalityId")
"""What a school's representative may not change of their school."""


def today() -> str:
    return date.today().isoformat()


# --- what a form is about ------------------------------------------------------------------------


@dataclass(frozen=True)
class Thing:
    """What a form changes, loaded by the address's ``id`` (operation ``name``'s ``root``)."""

    name: str
    root: str
    missing: str
    back: Callable[[dict[str, Any]], tuple[str, str]]
    """(href, title) of the thing's page."""


ORGANIZATION = Thing(
    "FormOrganization",
    "organization",
    "Такой организации нет",
    lambda o: (f"/organizations/{o['id']}", o["shortName"]),
)
NETWORK = Thing("FormNetwork", "network", "Такой сети нет", lambda n: (f"/networks/{n['id']}", n["name"]))
RESOURCE = Thing(
    "FormResource",
    "resource",
    "Такого ресурса нет",
    lambda r: (f"/organizations/{owner(r)['id']}/resources", f"Ресурсы: {owner(r)['shortName']}"),
)


def owner(resource: dict[str, Any]) -> dict[str, Any]:
    return resource["owner"] or {"id": resource["ownerId"], "shortName": "владелец"}


@dataclass
class Case:
    """A form in one request: whose, the address's ids, the thing it changes (and the part of it)."""

    person: Person
    params: Mapping[str, Any]
    thing: dict[str, Any] = field(default_factory=dict)
    part: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.params.get("id", ""))

    @property
    def editor(self) -> bool:
        return self.person.has(*EDITORS)


Values = dict[str, Any]
Text = str | Callable[[Case], str] | None


@dataclass(frozen=True)
class Change:
    """One change's form: its address, the operation it runs and who may use it (as the API
    allows), what it is about, how it looks, what it sends and where a change taken goes."""

    path: str
    operation: str
    roles: tuple[str, ...]
    title: Text
    fields: list[Field] | Callable[[Case], list[Field]]
    send: Callable[[Case, Values], Values | None]
    """The operation's variables from the fields' values (None: nothing to change, not sent)."""
    finish: Callable[[Case, Any, Values], tuple[str, str]]
    """Where to go after the change, and what to say (given its result and the values)."""
    about: Thing | None = None
    part: Callable[[Case], dict[str, Any] | None] | None = None
    """The part of the thing the address names, or None when it has no such part (404)."""
    missing_part: str = ""
    may: Callable[[Case], bool] | None = None
    """A further condition on the person, before anything is loaded."""
    submit: str = "Сохранить"
    danger: bool = False
    intro: Text = None
    back: tuple[str, str] | Callable[[Case], tuple[str, str]] | None = None
    """The thing's page when not given."""
    defaults: Callable[[Case], Values] | None = None
    preset: Callable[[Case], dict[str, list[tuple[str, str]]]] | None = None
    """Options offered besides the person's lists (the current value, even outside their scope)."""


def said(text: Text, case: Case) -> str | None:
    return text(case) if callable(text) else text


def compact(values: Values) -> Values:
    """The values given (an optional input left blank is not sent)."""
    return {k: v for k, v in values.items() if v is not None}


def as_input(key: str | None = None) -> Callable[[Case, Values], Values]:
    """The values given as the operation's ``input``, with the thing's id as ``key``."""
    return lambda c, v: {"input": {**({key: c.id} if key else {}), **compact(v)}}


def beside(key: str, param: str = "id") -> Callable[[Case, Values], Values]:
    """The values as the operation's arguments, with the address's ``param`` as ``key``."""
    return lambda c, v: {key: c.params[param], **v}


def home(person: Person) -> Values:
    """The person's region and municipality, as a new thing's defaults."""
    return {
        "regionCode": person.region_code if person.region_code != "*" else "",
        "municipalityId": person.municipality_id or "",
    }


def own_or_editor(case: Case) -> bool:
    """An editor; a school's representative only of their own school."""
    return case.editor or case.person.organization_id == case.id


def editable(case: Case) -> list[Field]:
    return EDITABLE if case.editor else [f for f in EDITABLE if f.name not in SCHOOL_LOCKED]


def edited(case: Case, values: Values) -> Values | None:
    """What differs from the organization as it is (a blank clears an optional detail, a choice
    stays); None when nothing does."""
    changes: Values = {}
    for name, value in values.items():
        before = case.thing.get(name)
        if value is None:
            if before not in (None, "") and name not in CHOSEN:
                changes[name] = ""
        elif str(value) != str(before or ""):
            changes[name] = value
    return {"input": {"id": case.id, **changes}} if changes else None


def held_statuses(case: Case) -> list[Field]:
    held = {s["status"] for s in case.thing["statusHistory"] if not s["leftOn"] or s["leftOn"] > today()}
    return [
        Field(
            "status",
            "Статус",
            "select",
            required=True,
            choices={k: v for k, v in STATUS_CHOICES.items() if k in held} or STATUS_CHOICES,
        ),
        Field("leftOn", "Первый день без статуса", "date", required=True),
        Field("basis", "Основание", hint="Приказ об исключении из списка"),
    ]


def risk_profile(case: Case, values: Values) -> Values:
    factors = [
        {"factor": name.removeprefix("factor."), "level": level}
        for name, level in values.items()
        if name.startswith("factor.") and level
    ]
    return {"input": {"organizationId": case.id, "assessedOn": values["assessedOn"], "factors": factors}}


def membership(case: Case) -> dict[str, Any] | None:
    return next((m for m in case.thing["members"] if m["id"] == case.params["membership"]), None)


def member_name(case: Case) -> str:
    return (case.part["organization"] or {}).get("shortName", "участник")


def network_or(values: Values, key: str) -> str:
    """The page of the network given, else of the organization in ``key``."""
    return f"/networks/{values['networkId']}" if values.get("networkId") else f"/organizations/{values[key]}"


# --- the forms -----------------------------------------------------------------------------------

CHANGES = [
    # organizations
    Change(
        "/organizations/new",
        "RegisterOrganization",
        EDITORS,
        "Новая организация",
        ORGANIZATION_FIELDS,
        as_input(),
        lambda c, r, v: (f"/organizations/{r['id']}", f"Организация «{r['shortName']}» зарегистрирована"),
        submit="Зарегистрировать",
        back=("/organizations", "Организации"),
        defaults=lambda c: {"kind": "school", **home(c.person)},
    ),
    Change(
        "/organizations/{id}/edit",
        "UpdateOrganization",
        PARTICIPANTS,
        lambda c: f"Изменить: {c.thing['shortName']}",
        editable,
        edited,
        lambda c, r, v: (f"/organizations/{c.id}", "Изменения сохранены" if r else "Ничего не изменилось"),
        about=ORGANIZATION,
        may=own_or_editor,
        intro=lambda c: None if c.editor else "Вид и муниципалитет школы меняет муниципальный координатор.",
        defaults=lambda c: {f.name: c.thing.get(f.name) or "" for f in editable(c)},
        # the current municipality is offered even outside the editor's scope
        preset=lambda c: (
            {"municipalities": [(c.thing["municipalityId"], c.thing["municipality"] or "текущий")]}
            if c.editor and c.thing["municipalityId"]
            else {}
        ),
    ),
    Change(
        "/organizations/{id}/archive",
        "ArchiveOrganization",
        EDITORS,
        lambda c: f"В архив: {c.thing['shortName']}",
        [
            Field("on", "С какого дня", "date", hint="Пусто — с сегодняшнего дня"),
            Field("reason", "Причина", "textarea"),
        ],
        beside("id"),
        lambda c, r, v: (f"/organizations/{c.id}", f"Организация «{r['shortName']}» перенесена в архив"),
        about=ORGANIZATION,
        submit="Перенести в архив",
        danger=True,
        intro="Организация не удаляется: она выходит из своих сетей, её ресурсы снимаются.",
    ),
    Change(
        "/organizations/{id}/statuses/new",
        "EnterStatus",
        EDITORS,
        lambda c: f"Статус школы: {c.thing['shortName']}",
        [
            Field("status", "Статус", "select", required=True, choices=STATUS_CHOICES),
            Field("enteredOn", "С какого дня", "date", required=True),
            Field("leftOn", "По какой день", "date", hint="Первый день без статуса; пусто — бессрочно"),
            Field("basis", "Основание", hint="Приказ, на котором основан статус"),
        ],
        as_input("organizationId"),
        lambda c, r, v: (f"/organizations/{c.id}", f"Статус назначен: {STATUS_CHOICES[v['status']]}"),
        about=ORGANIZATION,
        submit="Назначить статус",
        defaults=lambda c: {"enteredOn": today()},
    ),
    Change(
        "/organizations/{id}/statuses/leave",
        "LeaveStatus",
        EDITORS,
        lambda c: f"Снять статус: {c.thing['shortName']}",
        held_statuses,
        as_input("organizationId"),
        lambda c, r, v: (f"/organizations/{c.id}", f"Статус снят: {STATUS_CHOICES[v['status']]}"),
        about=ORGANIZATION,
        submit="Снять статус",
        defaults=lambda c: {"leftOn": today()},
    ),
    Change(
        "/organizations/{id}/risks/new",
        "AssessRiskProfile",
        EDITORS,
        lambda c: f"Профиль рисков: {c.thing['shortName']}",
        [
            Field("assessedOn", "Дата оценки", "date", required=True),
            *(
                Field(f"factor.{key}", title, "select", required=True, choices=RISK_LEVELS)
                for key, title in RISK_FACTORS.items()
            ),
        ],
        risk_profile,
        lambda c, r, v: (f"/organizations/{c.id}", "Профиль рисков записан"),
        about=ORGANIZATION,
        submit="Записать профиль",
        intro="Уровень каждого фактора риска: низкий, средний или высокий.",
        defaults=lambda c: {"assessedOn": today()},
    ),
    # resources
    Change(
        "/resources/new",
        "OfferResource",
        PARTICIPANTS,
        "Предложить ресурс сети",
        [
            Field("ownerId", "Чей ресурс", "select", required=True, choices="organizations"),
            Field("kind", "Вид ресурса", "select", required=True, choices=RESOURCE_KINDS),
            Field("title", "Название", required=True),
            Field("description", "Описание", "textarea"),
            Field("subjects", "Предметы", "words", hint="Через запятую, например: математика, физика"),
            Field("capacity", "Сколько человек может принять", "int"),
            Field("availableFrom", "Доступен с", "date"),
            Field("availableTo", "Доступен до", "date", hint="Первый день, когда ресурс уже недоступен"),
        ],
        as_input(),
        lambda c, r, v: (f"/organizations/{r['ownerId']}/resources", f"Ресурс «{r['title']}» предложен сети"),
        submit="Предложить",
        back=("/changes", "Изменения"),
        defaults=lambda c: {"ownerId": c.person.organization_id or ""},
    ),
    Change(
        "/resources/{id}/withdraw",
        "WithdrawResource",
        PARTICIPANTS,
        lambda c: f"Снять ресурс «{c.thing['title']}»",
        [],
        beside("resourceId"),
        lambda c, r, v: (f"/organizations/{r['ownerId']}/resources", f"Ресурс «{r['title']}» снят"),
        about=RESOURCE,
        submit="Снять ресурс",
        danger=True,
        intro="Ресурс перестанет предлагаться сети; запись о нём останется.",
    ),
    # networks
    Change(
        "/networks/new",
        "CreateNetwork",
        EDITORS,
        "Новая сеть",
        [
            Field("name", "Название", required=True),
            Field("level", "Уровень", "select", required=True, choices=NETWORK_LEVELS),
            Field("regionCode", "Регион", "select", required=True, choices="regions"),
            Field("municipalityId", "Муниципалитет", "select", choices="municipalities"),
            Field(
                "governingBodyId",
                "Высший орган управления",
                "select",
                required=True,
                choices="organizations",
                hint="Орган управления образованием",
            ),
            Field("coordinatorId", "Координатор", "select", choices="organizations"),
            Field("startedOn", "Работает с", "date", required=True),
            Field("endedOn", "Работает до", "date"),
        ],
        as_input(),
        lambda c, r, v: (f"/networks/{r['id']}", f"Сеть «{r['name']}» создана"),
        submit="Создать сеть",
        back=("/networks", "Сети"),
        defaults=lambda c: {
            "level": "municipal" if c.person.municipality_id else "regional",
            **home(c.person),
            "startedOn": today(),
        },
    ),
    Change(
        "/networks/{id}/close",
        "CloseNetwork",
        EDITORS,
        lambda c: f"Закрыть сеть «{c.thing['name']}»",
        [Field("endedOn", "Первый день без сети", "date", required=True)],
        beside("networkId"),
        lambda c, r, v: (f"/networks/{c.id}", f"Сеть «{r['name']}» закрыта"),
        about=NETWORK,
        submit="Закрыть сеть",
        danger=True,
        intro="Все действующие участия в сети закончатся в этот день.",
        defaults=lambda c: {"endedOn": today()},
    ),
    Change(
        "/networks/{id}/members/new",
        "JoinNetwork",
        EDITORS,
        lambda c: f"Новый участник сети «{c.thing['name']}»",
        [
            Field("organizationId", "Организация", "select", required=True, choices="organizations"),
            Field("role", "Роль в сети", "select", required=True, choices=MEMBER_ROLES),
            Field("joinedOn", "Участвует с", "date", required=True),
            Field("leftOn", "Участвует до", "date", hint="Первый день без участия; пусто — бессрочно"),
        ],
        as_input("networkId"),
        lambda c, r, v: (f"/networks/{c.id}", f"Участник добавлен в сеть как {MEMBER_ROLES[v['role']]}"),
        about=NETWORK,
        submit="Добавить в сеть",
        defaults=lambda c: {"joinedOn": today(), "role": "partner"},
    ),
    Change(
        "/networks/{id}/members/{membership}/leave",
        "LeaveNetwork",
        EDITORS,
        lambda c: f"Исключить из сети «{c.thing['name']}»: {member_name(c)}",
        [Field("leftOn", "Первый день без участия", "date", required=True)],
        beside("membershipId", "membership"),
        lambda c, r, v: (f"/networks/{c.id}", f"«{member_name(c)}» выходит из сети с {v['leftOn']}"),
        about=NETWORK,
        part=membership,
        missing_part="Такого участия в этой сети нет",
        submit="Исключить",
        danger=True,
        back=lambda c: (f"/networks/{c.id}/members", "Участники сети"),
        defaults=lambda c: {"leftOn": today()},
    ),
    Change(
        "/networks/{id}/centre/new",
        "DesignateCentre",
        EDITORS,
        lambda c: f"Центр сети «{c.thing['name']}»",
        [
            Field(
                "organizationId",
                "Школа",
                "select",
                required=True,
                choices="organizations",
                hint="Только школа со стабильными результатами",
            ),
            Field("on", "Центр с", "date", required=True),
        ],
        beside("networkId"),
        lambda c, r, v: (f"/networks/{c.id}", "Центр сети назначен"),
        about=NETWORK,
        submit="Сделать центром",
        defaults=lambda c: {"on": today()},
    ),
    # agreements, regulations, mobility
    Change(
        "/agreements/new",
        "SignAgreement",
        EDITORS,
        "Договор о сетевом взаимодействии",
        [
            Field("number", "Номер договора", required=True),
            Field("signedOn", "Дата подписания", "date", required=True),
            Field("subject", "Предмет договора", "textarea", required=True),
            Field("partyIds", "Стороны договора", "many", required=True, choices="organizations", slots=4),
            Field("validFrom", "Действует с", "date", required=True),
            Field("validTo", "Действует до", "date", hint="Пусто — бессрочно"),
            Field("networkId", "Сеть", "select", choices="networks"),
        ],
        as_input(),
        lambda c, r, v: (
            "/agreements?"
            + (f"networkId={v['networkId']}" if v.get("networkId") else f"organizationId={v['partyIds'][0]}"),
            f"Договор № {r['number']} записан",
        ),
        submit="Записать договор",
        back=("/agreements", "Договоры"),
        defaults=lambda c: {"signedOn": today(), "validFrom": today()},
    ),
    Change(
        "/agreements/{id}/terminate",
        "TerminateAgreement",
        EDITORS,
        "Досрочное расторжение договора",
        [Field("on", "Первый день, когда договор уже не действует", "date", required=True)],
        beside("agreementId"),
        lambda c, r, v: ("/agreements", f"Договор № {r['number']} расторгнут с {v['on']}"),
        submit="Расторгнуть",
        danger=True,
        back=("/agreements", "Договоры"),
        defaults=lambda c: {"on": today()},
    ),
    Change(
        "/regulations/new",
        "IssueRegulation",
        EDITORS,
        "Положение, приказ или другой документ",
        [
            Field("kind", "Вид документа", "select", required=True, choices=REGULATION_KINDS),
            Field("number", "Номер", required=True),
            Field("issuedOn", "Дата", "date", required=True),
            Field("issuerId", "Кто издал", "select", required=True, choices="organizations"),
            Field("title", "Название", required=True),
            Field("link", "Ссылка на документ", "url"),
            Field("networkId", "Сеть", "select", choices="networks"),
        ],
        as_input(),
        lambda c, r, v: (network_or(v, "issuerId"), f"Документ № {r['number']} записан"),
        submit="Записать документ",
        back=("/changes", "Изменения"),
        defaults=lambda c: {"issuedOn": today()},
    ),
    Change(
        "/mobility/new",
        "RecordMobility",
        EDITORS,
        "Мобильность: обучающиеся или педагоги у партнёра",
        [
            Field("kind", "Кто", "select", required=True, choices=MOBILITY_KINDS),
            Field(
                "homeOrganizationId",
                "Откуда (своя организация)",
                "select",
                required=True,
                choices="organizations",
            ),
            Field(
                "hostOrganizationId",
                "Куда (принимающая организация)",
                "select",
                required=True,
                choices="organizations",
            ),
            Field("programme", "Программа", required=True),
            Field("participants", "Сколько человек", "int", required=True),
            Field("startsOn", "С", "date", required=True),
            Field("endsOn", "По", "date", required=True),
            Field("hours", "Часов", "number", required=True),
            Field("networkId", "В рамках сети", "select", choices="networks"),
        ],
        as_input(),
        lambda c, r, v: (
            network_or(v, "homeOrganizationId"),
            f"Мобильность записана: {MOBILITY_KINDS[v['kind']]}, {v['participants']} чел.",
        ),
        submit="Записать",
        back=("/changes", "Изменения"),
        defaults=lambda c: {"kind": "students", "startsOn": today()},
    ),
]


# --- the pages -----------------------------------------------------------------------------------


def change_routes(portal: Portal, changes: list[Change]) -> list[Route]:
    """The routes of a table of forms: each shows (GET) and takes (POST) its form."""
    forms = Forms(portal)
    for name in {c.operation for c in changes} | {c.about.name for c in changes if c.about}:
        operation(name)  # each exists: a name mistyped in the table fails here, not on first use

    async def load(request: Request, thing: Thing, token: str) -> dict[str, Any] | Response:
        asking = portal.gateway.run(thing.name, {"id": request.path_params["id"]}, token)
        return await found(portal, request, asking, thing.root, thing.missing)

    async def case_of(request: Request, change: Change) -> tuple[Case, str] | Response:
        """Who uses the form and what it is about; or the answer why they may not, or there is none."""
        who = signed_in(portal, request, change.roles)
        if isinstance(who, Response):
            return who
        person, token = who
        case = Case(person, request.path_params)
        if change.may and not change.may(case):
            return refused(portal, request, person)
        if change.about is not None:
            thing = await load(request, change.about, token)
            if isinstance(thing, Response):
                return thing
            case.thing = thing
        if change.part is not None:
            part = change.part(case)
            if part is None:
                return portal.page(request, "error.html", status=404, message=change.missing_part)
            case.part = part
        return case, token

    def handler(change: Change) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            """Show the form (GET: its defaults, then what the address asks for) or take it (POST):
            read it, send it, and either show what was refused or go to what changed."""
            got = await case_of(request, change)
            if isinstance(got, Response):
                return got
            case, token = got
            back = change.back or (change.about.back(case.thing) if change.about else None)
            form = Form(
                said(change.title, case) or "",
                change.path.format(**request.path_params),
                change.fields(case) if callable(change.fields) else change.fields,
                submit=change.submit,
                intro=said(change.intro, case),
                back=back(case) if callable(back) else back,
                danger=change.danger,
            )
            if needs_choices(form.fields):
                try:
                    loaded = await choices(portal, case.person, token)
                except GatewayError as exc:
                    return portal.failure(request, exc)
                for name, preset in (change.preset(case) if change.preset else {}).items():
                    known = {key for key, _ in loaded.get(name, [])}
                    loaded[name] = [*(p for p in preset if p[0] not in known), *loaded.get(name, [])]
                form.choices = loaded
            if request.method == "GET":
                values = change.defaults(case) if change.defaults else {}
                for item in form.fields:
                    for name in item.slot_names() if item.kind == "many" else [item.name]:
                        if request.query_params.get(name):
                            values[name] = request.query_params[name]
                form.attempt = Attempt(values=values, status=200)
                return forms.show(request, form)

            async def again(request: Request, attempt: Attempt) -> Response:
                form.attempt = attempt
                return forms.show(request, form)

            return await forms.take(
                request,
                change.path,
                form.fields,
                change.operation,
                lambda v: change.send(case, v),
                again=again,
                then=lambda r, v: change.finish(case, r, v),
            )

        return handle

    return [Route(change.path, handler(change), methods=["GET", "POST"]) for change in changes]


def routes(portal: Portal) -> list[Route]:
    async def load(request: Request, thing: Thing, token: str) -> dict[str, Any] | Response:
        asking = portal.gateway.run(thing.name, {"id": request.path_params["id"]}, token)
        return await found(portal, request, asking, thing.root, thing.missing)

    # the lists the forms start from -------------------------------------------------------

    async def resources(request: Request) -> Response:
        who = signed_in(portal, request, PARTICIPANTS)
        if isinstance(who, Response):
            return who
        person, token = who
        org = await load(request, ORGANIZATION, token)
        if isinstance(org, Response):
            return org
        # its own people and the editors change them; another school asks for them
        return portal.page(
            request,
            "forms_resources.html",
            org=org,
            kinds=RESOURCE_KINDS,
            may_change=own_or_editor(Case(person, request.path_params)),
            may_request=person.organization_id != org["id"] or person.has(*EDITORS),
        )

    async def members(request: Request) -> Response:
        who = signed_in(portal, request, EDITORS)
        if isinstance(who, Response):
            return who
        net = await load(request, NETWORK, who[1])
        if isinstance(net, Response):
            return net
        return portal.page(request, "forms_members.html", net=net, roles=MEMBER_ROLES)

    async def every_agreement(request: Request) -> list[dict[str, Any]] | Response:
        who = signed_in(portal, request, EDITORS)
        if isinstance(who, Response):
            return who
        asked = {k: request.query_params.get(k) or None for k in ("organizationId", "networkId")}

        async def page(after: str | None) -> dict[str, Any]:
            data = await portal.gateway.run("FormAgreements", {**asked, "first": 100, "after": after}, who[1])
            return data["agreements"]

        return await every(page)

    async def agreements(request: Request) -> Response:
        who = signed_in(portal, request, EDITORS)
        if isinstance(who, Response):
            return who
        asked = {k: request.query_params.get(k) or None for k in ("organizationId", "networkId")}
        try:
            data = await portal.gateway.run(
                "FormAgreements", {**asked, "first": 50, "after": request.query_params.get("after")}, who[1]
            )
        except GatewayError as exc:
            return portal.failure(request, exc)
        return listing(portal, request, "forms_agreements.html", data["agreements"], asked)

    return [
        *change_routes(portal, CHANGES),
        Route("/organizations/{id}/resources", resources, methods=["GET"]),
        Route("/networks/{id}/members", members, methods=["GET"]),
        Route("/agreements", agreements, methods=["GET"]),
        export_route(portal, "/agreements", "agreements", "Договоры", AGREEMENT_COLUMNS, every_agreement),
    ]
