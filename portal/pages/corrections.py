"""Corrections and the people of the registry, each on its own page (the table of
:mod:`.registry_forms`): educators (register, update, employ, end a post) by those who may see
and change their school's people; interaction groups formed and changed; a network corrected (its
name, coordinator, governing body); an agreement amended; a new edition or the withdrawal of a
regulating document; a mobility record corrected or deleted as a mistake. And the lists these
start from: a network's groups, the regulating documents, the recorded mobility (each exported).

Each form is offered only to the roles the API lets make that change; the gateway still decides,
and its refusal is shown at the field it names.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..exports import Column, day, every, export_route
from ..forms import EDITORS, PARTICIPANTS, Field, choices, found, signed_in
from ..gateway import GatewayError
from ..labels import QUALIFICATION_CATEGORIES
from ..web import Portal
from .registry_forms import (
    MOBILITY_KINDS,
    NETWORK,
    ORGANIZATION,
    REGULATION_KINDS,
    Case,
    Change,
    Thing,
    Values,
    change_routes,
    compact,
    own_or_editor,
    today,
)

ORDER = 18
"""Before the registry's pages (20) and forms (19)."""
NAV: list[tuple[str, str, tuple[str, ...]]] = []

REGULATION_STATUSES = {
    "in_force": "действует",
    "superseded": "заменён новой редакцией",
    "withdrawn": "утратил силу",
}
OPEN_ENDED = {"no": "срок — как указан выше", "yes": "бессрочно с этого дня"}
REMOVE_COORDINATOR = {"keep": "как выбрано выше", "remove": "у сети больше нет координатора"}

EDUCATOR = Thing(
    "FormEducator",
    "educator",
    "Такого педагога нет или его данные вам не видны",
    lambda e: (
        (f"/organizations/{first_post(e)}", "Организация педагога") if first_post(e) else ("/", "Начало")
    ),
)
GROUPS = Thing(
    "NetworkGroups",
    "network",
    "Такой сети нет",
    lambda n: (f"/networks/{n['id']}/groups", f"Группы взаимодействия: {n['name']}"),
)


def first_post(educator: dict[str, Any]) -> str | None:
    """The organization of the educator's first current post (where their forms go back to)."""
    current = [e for e in educator["employments"] if not e["endedOn"] or e["endedOn"] > today()]
    return (current or educator["employments"] or [{"organizationId": None}])[0]["organizationId"]


def full_name(educator: dict[str, Any]) -> str:
    return " ".join(p for p in (educator["lastName"], educator["firstName"], educator.get("middleName")) if p)


def employment(case: Case) -> dict[str, Any] | None:
    return next((e for e in case.thing["employments"] if e["id"] == case.params["employment"]), None)


def group(case: Case) -> dict[str, Any] | None:
    return next((g for g in case.thing["interactionGroups"] if g["id"] == case.params["group"]), None)


def current_members(network: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (m["organization"]["id"], m["organization"]["shortName"])
        for m in network["members"]
        if m["organization"] and (not m["leftOn"] or m["leftOn"] > today())
    ]


def changed(case: Case, values: Values, *, key: str = "id") -> Values | None:
    """The values that differ from the thing as it is (a blank choice stays as it is); None when
    none does."""
    changes = {
        name: value
        for name, value in values.items()
        if value not in (None, "", []) and str(value) != str(case.thing.get(name) or "")
    }
    return {"input": {key: case.id, **changes}} if changes else None


def network_update(case: Case, values: Values) -> Values | None:
    remove = values.pop("removeCoordinator", None) == "remove"
    current = {
        "name": case.thing["name"],
        "governingBodyId": (case.thing.get("governingBody") or {}).get("id"),
        "coordinatorId": (case.thing.get("coordinator") or {}).get("id"),
    }
    changes = {k: v for k, v in values.items() if v not in (None, "") and v != current.get(k)}
    if remove:
        changes.pop("coordinatorId", None)
        changes["removeCoordinator"] = True
    return {"input": {"id": case.id, **changes}} if changes else None


def registered(case: Case, values: Values) -> Values:
    post = {
        "organizationId": case.id,
        "position": values.pop("position"),
        "startedOn": values.pop("startedOn"),
    }
    values["qualificationCategory"] = values.get("qualificationCategory") or "none"
    return {"input": {**compact(values), "posts": [compact(post)]}}


def educator_update(case: Case, values: Values) -> Values | None:
    changes: Values = {}
    for name, value in values.items():
        before = case.thing.get(name)
        if name == "subjects":
            if list(value or []) != list(before or []):
                changes[name] = value or []
        elif name == "middleName" and value is None and before:
            changes[name] = ""
        elif value is not None and str(value) != str(before or ""):
            changes[name] = value
    return {"input": {"id": case.id, **changes}} if changes else None


def amendment(case: Case, values: Values) -> Values:
    values["openEnded"] = values.get("openEnded") == "yes"
    return {"input": {"agreementId": case.id, **compact(values)}}


def group_change(case: Case, values: Values) -> Values | None:
    sent = {k: v for k, v in values.items() if v}
    return {"input": {"groupId": case.params["group"], **sent}} if sent else None


# --- the forms -----------------------------------------------------------------------------------

EDUCATOR_FIELDS = [
    Field("lastName", "Фамилия", required=True),
    Field("firstName", "Имя", required=True),
    Field("middleName", "Отчество"),
    Field("qualificationCategory", "Квалификационная категория", "select", choices=QUALIFICATION_CATEGORIES),
    Field("subjects", "Предметы", "words", hint="Через запятую, например: математика, физика"),
]
POST_FIELDS = [
    Field("position", "Должность", required=True, hint="Например: учитель математики"),
    Field("startedOn", "Работает с", "date"),
]

CORRECTIONS = [
    # educators
    Change(
        "/organizations/{id}/educators/new",
        "RegisterEducator",
        PARTICIPANTS,
        lambda c: f"Новый педагог: {c.thing['shortName']}",
        [*EDUCATOR_FIELDS, *POST_FIELDS],
        registered,
        lambda c, r, v: (
            f"/organizations/{c.id}",
            f"Педагог {r['lastName']} {r['firstName']} зарегистрирован",
        ),
        about=ORGANIZATION,
        may=own_or_editor,
        submit="Зарегистрировать",
        intro="Персональные данные педагога видят только те, кому они положены.",
        defaults=lambda c: {"qualificationCategory": "none", "startedOn": today()},
    ),
    Change(
        "/educators/{id}/edit",
        "UpdateEducator",
        PARTICIPANTS,
        lambda c: f"Изменить: {full_name(c.thing)}",
        EDUCATOR_FIELDS,
        educator_update,
        lambda c, r, v: (
            f"/organizations/{first_post(c.thing)}" if first_post(c.thing) else "/",
            "Изменения сохранены" if r else "Ничего не изменилось",
        ),
        about=EDUCATOR,
        defaults=lambda c: {
            **{f.name: c.thing.get(f.name) or "" for f in EDUCATOR_FIELDS if f.name != "subjects"},
            "subjects": ", ".join(c.thing["subjects"]),
        },
    ),
    Change(
        "/educators/{id}/employ",
        "EmployEducator",
        PARTICIPANTS,
        lambda c: f"Новая должность: {full_name(c.thing)}",
        [
            Field("organizationId", "Организация", "select", required=True, choices="organizations"),
            *POST_FIELDS,
        ],
        lambda c, v: {"educatorId": c.id, "post": compact(v)},
        lambda c, r, v: (f"/organizations/{r['organizationId']}", "Педагог назначен на должность"),
        about=EDUCATOR,
        submit="Назначить",
        intro="Педагог может работать и в нескольких организациях.",
        defaults=lambda c: {"organizationId": c.person.organization_id or "", "startedOn": today()},
    ),
    Change(
        "/educators/{id}/employments/{employment}/end",
        "EndEmployment",
        PARTICIPANTS,
        lambda c: f"Окончание работы: {full_name(c.thing)}, {c.part['position']}",
        [Field("endedOn", "Первый день без этой должности", "date", required=True)],
        lambda c, v: {"employmentId": c.params["employment"], **v},
        lambda c, r, v: (f"/organizations/{r['organizationId']}", "Окончание работы записано"),
        about=EDUCATOR,
        part=employment,
        missing_part="Такой должности у педагога нет",
        submit="Записать окончание работы",
        danger=True,
        defaults=lambda c: {"endedOn": today()},
    ),
    # networks and their groups
    Change(
        "/networks/{id}/edit",
        "UpdateNetwork",
        EDITORS,
        lambda c: f"Исправить сведения сети «{c.thing['name']}»",
        [
            Field("name", "Название", required=True),
            Field("governingBodyId", "Высший орган управления", "select", choices="organizations"),
            Field("coordinatorId", "Координатор", "select", choices="organizations"),
            Field("removeCoordinator", "Координатор сети", "select", choices=REMOVE_COORDINATOR),
        ],
        network_update,
        lambda c, r, v: (
            f"/networks/{c.id}",
            f"Сведения сети «{r['name']}» исправлены" if r else "Ничего не изменилось",
        ),
        about=NETWORK,
        intro="Исправление: сеть остаётся той же, её номер версии растёт.",
        defaults=lambda c: {
            "name": c.thing["name"],
            "governingBodyId": (c.thing.get("governingBody") or {}).get("id", ""),
            "coordinatorId": (c.thing.get("coordinator") or {}).get("id", ""),
            "removeCoordinator": "keep",
        },
        # the current ones are offered even outside the editor's lists
        preset=lambda c: {
            "organizations": [
                (o["id"], o["shortName"])
                for o in (c.thing.get("governingBody"), c.thing.get("coordinator"))
                if o
            ]
        },
    ),
    Change(
        "/networks/{id}/groups/new",
        "FormInteractionGroup",
        EDITORS,
        lambda c: f"Новая группа взаимодействия сети «{c.thing['name']}»",
        [
            Field("name", "Название", required=True, hint="Например: РМО учителей математики"),
            Field("purpose", "Цель", "textarea", required=True),
            Field("organizationIds", "Организации группы", "many", choices="members", slots=6),
        ],
        lambda c, v: {"input": {"networkId": c.id, **compact(v)}},
        lambda c, r, v: (f"/networks/{c.id}/groups", f"Группа «{r['name']}» создана"),
        about=GROUPS,
        submit="Создать группу",
        preset=lambda c: {"members": current_members(c.thing)},
    ),
    Change(
        "/networks/{id}/groups/{group}/change",
        "ChangeInteractionGroup",
        EDITORS,
        lambda c: f"Изменить состав группы «{c.part['name']}»",
        [
            Field("addOrganizationIds", "Добавить организации", "many", choices="members", slots=3),
            Field("removeOrganizationIds", "Исключить организации", "many", choices="in_group", slots=3),
            Field("removeEducatorIds", "Исключить педагогов", "many", choices="group_educators", slots=3),
        ],
        group_change,
        lambda c, r, v: (
            f"/networks/{c.id}/groups",
            "Состав группы изменён" if r else "Ничего не изменилось",
        ),
        about=GROUPS,
        part=group,
        missing_part="Такой группы в этой сети нет",
        preset=lambda c: {
            "members": [
                m for m in current_members(c.thing) if m[0] not in {o["id"] for o in c.part["organizations"]}
            ],
            "in_group": [(o["id"], o["shortName"]) for o in c.part["organizations"]],
            "group_educators": [(e["id"], full_name(e)) for e in c.part["educators"]],
        },
    ),
    # agreements, regulating documents, mobility
    Change(
        "/agreements/{id}/amend",
        "AmendAgreement",
        EDITORS,
        "Дополнительное соглашение к договору",
        [
            Field("number", "Номер соглашения", required=True, hint="Например: ДС-1"),
            Field("amendedOn", "Дата подписания (с неё действует)", "date", required=True),
            Field("basis", "Основание"),
            Field("addPartyIds", "Новые стороны", "many", choices="organizations", slots=2),
            Field("removePartyIds", "Выходят из договора", "many", choices="organizations", slots=2),
            Field("validTo", "Новый срок: первый день, когда договор уже не действует", "date"),
            Field("openEnded", "Срок", "select", choices=OPEN_ENDED),
            Field("subject", "Новый предмет договора", "textarea", hint="Пусто — предмет прежний"),
        ],
        amendment,
        lambda c, r, v: ("/agreements", f"Договор № {r['number']} изменён дополнительным соглашением"),
        submit="Записать соглашение",
        back=("/agreements", "Договоры"),
        defaults=lambda c: {"amendedOn": today(), "openEnded": "no"},
    ),
    Change(
        "/regulations/{id}/revise",
        "ReviseRegulation",
        EDITORS,
        "Новая редакция документа",
        [
            Field("number", "Номер приказа о новой редакции", required=True),
            Field("issuedOn", "Дата", "date", required=True),
            Field("title", "Новое название", hint="Пусто — прежнее"),
            Field("link", "Ссылка на новую редакцию", "url"),
        ],
        lambda c, v: {"input": {"regulationId": c.id, **compact(v)}},
        lambda c, r, v: (regulations_of(r), f"Записана редакция {r['edition']} документа № {r['number']}"),
        submit="Записать редакцию",
        intro="Прежняя редакция остаётся доступной для чтения.",
        back=("/regulations", "Документы"),
        defaults=lambda c: {"issuedOn": today()},
    ),
    Change(
        "/regulations/{id}/withdraw",
        "WithdrawRegulation",
        EDITORS,
        "Документ утратил силу",
        [
            Field("on", "Первый день, когда документ не действует", "date", required=True),
            Field("reason", "Основание", "textarea", required=True),
        ],
        lambda c, v: {"regulationId": c.id, **v},
        lambda c, r, v: (regulations_of(r), f"Документ № {r['number']} утратил силу с {v['on']}"),
        submit="Записать",
        danger=True,
        back=("/regulations", "Документы"),
        defaults=lambda c: {"on": today()},
    ),
    Change(
        "/mobility/{id}/correct",
        "CorrectMobility",
        EDITORS,
        "Исправить запись о мобильности",
        [
            Field("kind", "Кто", "select", choices=MOBILITY_KINDS),
            Field("programme", "Программа"),
            Field("participants", "Сколько человек", "int"),
            Field("startsOn", "С", "date"),
            Field("endsOn", "По", "date"),
            Field("hours", "Часов", "number"),
            Field("reason", "Почему исправлено", "textarea", required=True),
        ],
        lambda c, v: {"input": {"mobilityId": c.id, **compact(v)}},
        lambda c, r, v: (mobility_of(r), "Запись о мобильности исправлена"),
        submit="Исправить",
        intro="Заполните только то, что меняется; пустое поле остаётся как было.",
        back=("/mobility", "Мобильность"),
    ),
    Change(
        "/mobility/{id}/delete",
        "DeleteMobility",
        EDITORS,
        "Удалить запись о мобильности, сделанную по ошибке",
        [Field("reason", "Почему удаляется", "textarea", required=True)],
        lambda c, v: {"mobilityId": c.id, **v},
        lambda c, r, v: (mobility_of(r), "Запись о мобильности удалена: она больше не учитывается"),
        submit="Удалить",
        danger=True,
        intro="Запись перестаёт учитываться в показателях; в журнале она остаётся с причиной.",
        back=("/mobility", "Мобильность"),
    ),
]


def regulations_of(regulation: dict[str, Any]) -> str:
    return "/regulations" + (f"?networkId={regulation['networkId']}" if regulation.get("networkId") else "")


def mobility_of(record: dict[str, Any]) -> str:
    return "/mobility" + (f"?networkId={record['networkId']}" if record.get("networkId") else "")


# --- the lists the corrections start from --------------------------------------------------------

GROUP_COLUMNS = (
    Column("Группа", lambda g: g["name"]),
    Column("Цель", lambda g: g["purpose"]),
    Column("Организации", lambda g: [o["shortName"] for o in g["organizations"]]),
    Column("Педагоги", lambda g: [full_name(e) for e in g["educators"]]),
)
REGULATION_COLUMNS = (
    Column("Вид", lambda r: REGULATION_KINDS.get(r["kind"], r["kind"])),
    Column("Номер", lambda r: r["number"]),
    Column("Дата", lambda r: day(r["issuedOn"])),
    Column("Название", lambda r: r["title"]),
    Column("Редакция", lambda r: r["edition"]),
    Column("Кто издал", lambda r: (r["issuer"] or {}).get("shortName")),
    Column("Состояние", lambda r: REGULATION_STATUSES.get(r["status"], r["status"])),
    Column("Не действует с", lambda r: day(r["withdrawnOn"])),
    Column("Ссылка", lambda r: r["link"]),
)
MOBILITY_COLUMNS = (
    Column("Кто", lambda m: MOBILITY_KINDS.get(m["kind"], m["kind"])),
    Column("Откуда", lambda m: m["home"]),
    Column("Куда", lambda m: m["host"]),
    Column("Программа", lambda m: m["programme"]),
    Column("Человек", lambda m: m["participants"]),
    Column("С", lambda m: day(m["startsOn"])),
    Column("По", lambda m: day(m["endsOn"])),
    Column("Часов", lambda m: m["hours"]),
    Column("Исправлено", lambda m: m["changeReason"]),
)


def routes(portal: Portal) -> list[Route]:
    async def groups_of(request: Request) -> dict[str, Any] | Response:
        who = signed_in(portal, request, EDITORS)
        if isinstance(who, Response):
            return who
        asking = portal.gateway.run("NetworkGroups", {"id": request.path_params["id"]}, who[1])
        return await found(portal, request, asking, "network", "Такой сети нет")

    async def groups(request: Request) -> Response:
        net = await groups_of(request)
        if isinstance(net, Response):
            return net
        return portal.page(request, "corrections_groups.html", net=net, full_name=full_name)

    async def group_rows(request: Request) -> list[dict[str, Any]] | Response:
        net = await groups_of(request)
        return net if isinstance(net, Response) else net["interactionGroups"]

    def asked(request: Request) -> dict[str, Any]:
        return {k: request.query_params.get(k) or None for k in ("networkId", "status")}

    async def regulation_rows(request: Request) -> list[dict[str, Any]] | Response:
        who = signed_in(portal, request, EDITORS)
        if isinstance(who, Response):
            return who
        filters = asked(request)

        async def page(after: str | None) -> dict[str, Any]:
            data = await portal.gateway.run(
                "Regulations", {**filters, "issuerId": None, "after": after}, who[1]
            )
            return data["regulations"]

        return await every(page)

    async def regulations(request: Request) -> Response:
        rows = await regulation_rows(request)
        if isinstance(rows, Response):
            return rows
        return await listed(request, "corrections_regulations.html", rows, statuses=REGULATION_STATUSES)

    async def mobility_rows(request: Request) -> list[dict[str, Any]] | Response:
        who = signed_in(portal, request, EDITORS)
        if isinstance(who, Response):
            return who
        person, token = who
        data = await portal.gateway.run("Mobility", {"networkId": asked(request)["networkId"]}, token)
        names = dict((await choices(portal, person, token))["organizations"])
        return [
            {
                **m,
                "home": names.get(m["homeOrganizationId"], "организация вне ваших списков"),
                "host": names.get(m["hostOrganizationId"], "организация вне ваших списков"),
            }
            for m in sorted(data["mobility"], key=lambda m: m["startsOn"], reverse=True)
        ]

    async def mobility(request: Request) -> Response:
        try:
            rows = await mobility_rows(request)
        except GatewayError as exc:
            return portal.failure(request, exc)
        if isinstance(rows, Response):
            return rows
        return await listed(request, "corrections_mobility.html", rows, kinds=MOBILITY_KINDS)

    async def listed(request: Request, template: str, rows: list[dict[str, Any]], **values: Any) -> Response:
        """A list page with its network filter (the networks of the person's scope)."""
        person, token = portal.person(request), portal.token(request)
        assert person is not None
        try:
            networks = (await choices(portal, person, token))["networks"]
        except GatewayError as exc:
            return portal.failure(request, exc)
        return portal.page(request, template, rows=rows, networks=networks, asked=asked(request), **values)

    return [
        *change_routes(portal, CORRECTIONS),
        Route("/networks/{id}/groups", groups, methods=["GET"]),
        export_route(
            portal,
            "/networks/{id}/groups",
            lambda r: f"network-groups-{r.path_params['id']}",
            "Группы взаимодействия",
            GROUP_COLUMNS,
            group_rows,
        ),
        Route("/regulations", regulations, methods=["GET"]),
        export_route(portal, "/regulations", "regulations", "Документы", REGULATION_COLUMNS, regulation_rows),
        Route("/mobility", mobility, methods=["GET"]),
        export_route(portal, "/mobility", "mobility", "Мобильность", MOBILITY_COLUMNS, mobility_rows),
    ]
