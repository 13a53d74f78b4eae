"""Changes to the registry, each on its own page: organizations (register, edit, archive, statuses,
risk profile), resources (offer, withdraw), networks (create, close, members join and leave, the
centre), agreements (sign, terminate), regulating documents, and mobility (the events service).

Each form is offered only to the roles the API lets make that change (a school's representative:
their own school's details and resources); the gateway still decides, and its refusal is shown on
the form. The API's validation errors are shown at their field with what was entered kept (400);
a change taken goes to the changed thing (303) with a message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..forms import (
    EDITORS,
    PARTICIPANTS,
    Field,
    Form,
    choices,
    done,
    needs_choices,
    read,
    refusal,
    refused,
    show,
)
from ..gateway import GatewayError
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
from ..web import FormRefused, Portal

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

Send = Callable[[dict[str, Any]], Awaitable[tuple[Any, list[dict[str, Any]]]]]
Finish = Callable[[dict[str, Any], dict[str, Any]], tuple[str, str]]


def today() -> str:
    return date.today().isoformat()


def routes(portal: Portal) -> list[Route]:
    def signed_in(request: Request, roles: tuple[str, ...]) -> tuple[Person, str] | Response:
        person, token = portal.person(request), portal.token(request)
        if person is None or token is None or not person.has(*roles):
            return refused(portal, request, person)
        return person, token

    async def run(
        request: Request,
        form: Form,
        person: Person,
        token: str,
        send: Send,
        finish: Finish,
        defaults: dict[str, Any] | None = None,
    ) -> Response:
        """Show ``form`` (GET: its defaults, then what the address asks for) or take it (POST):
        read it, send it, and either show what was refused or go to what changed."""
        if needs_choices(form.fields):
            try:
                loaded = await choices(portal, person, token)
            except GatewayError as exc:
                return portal.failure(request, exc)
            for name, preset in form.choices.items():
                known = {key for key, _ in loaded.get(name, [])}
                loaded[name] = [*(p for p in preset if p[0] not in known), *loaded.get(name, [])]
            form.choices = loaded
        if request.method == "GET":
            form.values = dict(defaults or {})
            for item in form.fields:
                if item.kind == "many":
                    asked = [request.query_params.get(name, "") for name in item.slot_names()]
                    if any(asked):
                        form.values[item.name] = asked
                elif request.query_params.get(item.name):
                    form.values[item.name] = request.query_params[item.name]
            return show(portal, request, form)
        try:
            entered = await portal.form(request)
        except FormRefused as exc:
            return portal.page(request, "error.html", status=400, message=str(exc))
        form.values, variables, form.errors = read(form.fields, entered)
        if form.errors:
            return show(portal, request, form, 400)
        try:
            data, errors = await send(variables)
        except GatewayError as exc:
            form.problem = exc.message
            return show(portal, request, form, exc.status)
        result = next(iter(data.values()), None) if isinstance(data, dict) else None
        status = refusal(form, errors, result)
        if status is not None:
            return show(portal, request, form, status)
        target, message = finish(result, variables)
        return done(portal, request, target, message)

    async def organization_of(request: Request, token: str) -> dict[str, Any] | Response:
        try:
            data = await portal.gateway.run("FormOrganization", {"id": request.path_params["id"]}, token)
        except GatewayError as exc:
            return portal.failure(request, exc)
        if data["organization"] is None:
            return portal.page(request, "error.html", status=404, message="Такой организации нет")
        return data["organization"]

    async def network_of(request: Request, token: str) -> dict[str, Any] | Response:
        try:
            data = await portal.gateway.run("FormNetwork", {"id": request.path_params["id"]}, token)
        except GatewayError as exc:
            return portal.failure(request, exc)
        if data["network"] is None:
            return portal.page(request, "error.html", status=404, message="Такой сети нет")
        return data["network"]

    def compact(variables: dict[str, Any]) -> dict[str, Any]:
        """The values given (an optional input left blank is not sent)."""
        return {k: v for k, v in variables.items() if v is not None}

    # organizations ------------------------------------------------------------------------

    async def register_organization(request: Request) -> Response:
        who = signed_in(request, EDITORS)
        if isinstance(who, Response):
            return who
        person, token = who
        form = Form(
            "Новая организация",
            "/organizations/new",
            ORGANIZATION_FIELDS,
            submit="Зарегистрировать",
            back=("/organizations", "Организации"),
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            return await portal.gateway.ask("RegisterOrganization", {"input": compact(v)}, token)

        return await run(
            request,
            form,
            person,
            token,
            send,
            lambda r, v: (f"/organizations/{r['id']}", f"Организация «{r['shortName']}» зарегистрирована"),
            defaults={
                "kind": "school",
                "regionCode": person.region_code if person.region_code != "*" else "",
                "municipalityId": person.municipality_id or "",
            },
        )

    async def edit_organization(request: Request) -> Response:
        who = signed_in(request, PARTICIPANTS)
        if isinstance(who, Response):
            return who
        person, token = who
        ident = request.path_params["id"]
        editor = person.has(*EDITORS)
        if not editor and person.organization_id != ident:
            return refused(portal, request, person)
        org = await organization_of(request, token)
        if isinstance(org, Response):
            return org
        fields = EDITABLE if editor else [f for f in EDITABLE if f.name not in SCHOOL_LOCKED]
        form = Form(
            f"Изменить: {org['shortName']}",
            f"/organizations/{ident}/edit",
            fields,
            back=(f"/organizations/{ident}", org["shortName"]),
            intro=None if editor else "Вид и муниципалитет школы меняет муниципальный координатор.",
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            changes: dict[str, Any] = {}
            for name, value in v.items():
                before = org.get(name)
                if value is None:
                    if before not in (None, "") and name not in CHOSEN:
                        changes[name] = ""  # blank clears an optional detail (a choice stays)
                elif str(value) != str(before or ""):
                    changes[name] = value
            if not changes:
                return {"updateOrganization": {"__typename": "Organization", **org, "unchanged": True}}, []
            return await portal.gateway.ask("UpdateOrganization", {"input": {"id": ident, **changes}}, token)

        if editor and org["municipalityId"]:  # the current one is offered even outside the scope
            form.choices = {"municipalities": [(org["municipalityId"], org["municipality"] or "текущий")]}
        return await run(
            request,
            form,
            person,
            token,
            send,
            lambda r, v: (
                f"/organizations/{ident}",
                "Ничего не изменилось" if r.get("unchanged") else "Изменения сохранены",
            ),
            defaults={f.name: org.get(f.name) or "" for f in fields},
        )

    async def archive_organization(request: Request) -> Response:
        who = signed_in(request, EDITORS)
        if isinstance(who, Response):
            return who
        person, token = who
        org = await organization_of(request, token)
        if isinstance(org, Response):
            return org
        ident = org["id"]
        form = Form(
            f"В архив: {org['shortName']}",
            f"/organizations/{ident}/archive",
            [
                Field("on", "С какого дня", "date", hint="Пусто — с сегодняшнего дня"),
                Field("reason", "Причина", "textarea"),
            ],
            submit="Перенести в архив",
            danger=True,
            back=(f"/organizations/{ident}", org["shortName"]),
            intro="Организация не удаляется: она выходит из своих сетей, её ресурсы снимаются.",
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            return await portal.gateway.ask("ArchiveOrganization", {"id": ident, **v}, token)

        return await run(
            request,
            form,
            person,
            token,
            send,
            lambda r, v: (f"/organizations/{ident}", f"Организация «{r['shortName']}» перенесена в архив"),
        )

    async def enter_status(request: Request) -> Response:
        who = signed_in(request, EDITORS)
        if isinstance(who, Response):
            return who
        person, token = who
        org = await organization_of(request, token)
        if isinstance(org, Response):
            return org
        ident = org["id"]
        form = Form(
            f"Статус школы: {org['shortName']}",
            f"/organizations/{ident}/statuses/new",
            [
                Field("status", "Статус", "select", required=True, choices=STATUS_CHOICES),
                Field("enteredOn", "С какого дня", "date", required=True),
                Field("leftOn", "По какой день", "date", hint="Первый день без статуса; пусто — бессрочно"),
                Field("basis", "Основание", hint="Приказ, на котором основан статус"),
            ],
            submit="Назначить статус",
            back=(f"/organizations/{ident}", org["shortName"]),
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            return await portal.gateway.ask(
                "EnterStatus", {"input": {"organizationId": ident, **compact(v)}}, token
            )

        return await run(
            request,
            form,
            person,
            token,
            send,
            lambda r, v: (f"/organizations/{ident}", f"Статус назначен: {STATUS_CHOICES[v['status']]}"),
            defaults={"enteredOn": today()},
        )

    async def leave_status(request: Request) -> Response:
        who = signed_in(request, EDITORS)
        if isinstance(who, Response):
            return who
        person, token = who
        org = await organization_of(request, token)
        if isinstance(org, Response):
            return org
        ident = org["id"]
        held = {s["status"] for s in org["statusHistory"] if not s["leftOn"] or s["leftOn"] > today()}
        form = Form(
            f"Снять статус: {org['shortName']}",
            f"/organizations/{ident}/statuses/leave",
            [
                Field(
                    "status",
                    "Статус",
                    "select",
                    required=True,
                    choices={k: v for k, v in STATUS_CHOICES.items() if k in held} or STATUS_CHOICES,
                ),
                Field("leftOn", "Первый день без статуса", "date", required=True),
                Field("basis", "Основание", hint="Приказ об исключении из списка"),
            ],
            submit="Снять статус",
            back=(f"/organizations/{ident}", org["shortName"]),
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            return await portal.gateway.ask(
                "LeaveStatus", {"input": {"organizationId": ident, **compact(v)}}, token
            )

        return await run(
            request,
            form,
            person,
            token,
            send,
            lambda r, v: (f"/organizations/{ident}", f"Статус снят: {STATUS_CHOICES[v['status']]}"),
            defaults={"leftOn": today()},
        )

    async def assess_risks(request: Request) -> Response:
        who = signed_in(request, EDITORS)
        if isinstance(who, Response):
            return who
        person, token = who
        org = await organization_of(request, token)
        if isinstance(org, Response):
            return org
        ident = org["id"]
        form = Form(
            f"Профиль рисков: {org['shortName']}",
            f"/organizations/{ident}/risks/new",
            [
                Field("assessedOn", "Дата оценки", "date", required=True),
                *(
                    Field(f"factor.{key}", title, "select", required=True, choices=RISK_LEVELS)
                    for key, title in RISK_FACTORS.items()
                ),
            ],
            submit="Записать профиль",
            back=(f"/organizations/{ident}", org["shortName"]),
            intro="Уровень каждого фактора риска: низкий, средний или высокий.",
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            factors = [
                {"factor": name.removeprefix("factor."), "level": level}
                for name, level in v.items()
                if name.startswith("factor.") and level
            ]
            variables = {
                "input": {"organizationId": ident, "assessedOn": v["assessedOn"], "factors": factors}
            }
            return await portal.gateway.ask("AssessRiskProfile", variables, token)

        return await run(
            request,
            form,
            person,
            token,
            send,
            lambda r, v: (f"/organizations/{ident}", "Профиль рисков записан"),
            defaults={"assessedOn": today()},
        )

    # resources ----------------------------------------------------------------------------

    async def offer_resource(request: Request) -> Response:
        who = signed_in(request, PARTICIPANTS)
        if isinstance(who, Response):
            return who
        person, token = who
        form = Form(
            "Предложить ресурс сети",
            "/resources/new",
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
            submit="Предложить",
            back=("/changes", "Изменения"),
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            return await portal.gateway.ask("OfferResource", {"input": compact(v)}, token)

        return await run(
            request,
            form,
            person,
            token,
            send,
            lambda r, v: (
                f"/organizations/{r['ownerId']}/resources",
                f"Ресурс «{r['title']}» предложен сети",
            ),
            defaults={"ownerId": person.organization_id or ""},
        )

    async def resources(request: Request) -> Response:
        who = signed_in(request, PARTICIPANTS)
        if isinstance(who, Response):
            return who
        person, token = who
        if not person.has(*EDITORS) and person.organization_id != request.path_params["id"]:
            return refused(portal, request, person)
        org = await organization_of(request, token)
        if isinstance(org, Response):
            return org
        return portal.page(request, "forms_resources.html", org=org, kinds=RESOURCE_KINDS)

    async def withdraw_resource(request: Request) -> Response:
        who = signed_in(request, PARTICIPANTS)
        if isinstance(who, Response):
            return who
        person, token = who
        ident = request.path_params["id"]
        try:
            found = (await portal.gateway.run("FormResource", {"id": ident}, token))["resource"]
        except GatewayError as exc:
            return portal.failure(request, exc)
        if found is None:
            return portal.page(request, "error.html", status=404, message="Такого ресурса нет")
        owner = found["owner"] or {"id": found["ownerId"], "shortName": "владелец"}
        form = Form(
            f"Снять ресурс «{found['title']}»",
            f"/resources/{ident}/withdraw",
            [],
            submit="Снять ресурс",
            danger=True,
            back=(f"/organizations/{owner['id']}/resources", f"Ресурсы: {owner['shortName']}"),
            intro="Ресурс перестанет предлагаться сети; запись о нём останется.",
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            return await portal.gateway.ask("WithdrawResource", {"resourceId": ident}, token)

        return await run(
            request,
            form,
            person,
            token,
            send,
            lambda r, v: (f"/organizations/{r['ownerId']}/resources", f"Ресурс «{r['title']}» снят"),
        )

    # networks -----------------------------------------------------------------------------

    async def create_network(request: Request) -> Response:
        who = signed_in(request, EDITORS)
        if isinstance(who, Response):
            return who
        person, token = who
        form = Form(
            "Новая сеть",
            "/networks/new",
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
            submit="Создать сеть",
            back=("/networks", "Сети"),
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            return await portal.gateway.ask("CreateNetwork", {"input": compact(v)}, token)

        return await run(
            request,
            form,
            person,
            token,
            send,
            lambda r, v: (f"/networks/{r['id']}", f"Сеть «{r['name']}» создана"),
            defaults={
                "level": "municipal" if person.municipality_id else "regional",
                "regionCode": person.region_code if person.region_code != "*" else "",
                "municipalityId": person.municipality_id or "",
                "startedOn": today(),
            },
        )

    async def close_network(request: Request) -> Response:
        who = signed_in(request, EDITORS)
        if isinstance(who, Response):
            return who
        person, token = who
        net = await network_of(request, token)
        if isinstance(net, Response):
            return net
        ident = net["id"]
        form = Form(
            f"Закрыть сеть «{net['name']}»",
            f"/networks/{ident}/close",
            [Field("endedOn", "Первый день без сети", "date", required=True)],
            submit="Закрыть сеть",
            danger=True,
            back=(f"/networks/{ident}", net["name"]),
            intro="Все действующие участия в сети закончатся в этот день.",
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            return await portal.gateway.ask("CloseNetwork", {"networkId": ident, **v}, token)

        return await run(
            request,
            form,
            person,
            token,
            send,
            lambda r, v: (f"/networks/{ident}", f"Сеть «{r['name']}» закрыта"),
            defaults={"endedOn": today()},
        )

    async def members(request: Request) -> Response:
        who = signed_in(request, EDITORS)
        if isinstance(who, Response):
            return who
        _, token = who
        net = await network_of(request, token)
        if isinstance(net, Response):
            return net
        return portal.page(request, "forms_members.html", net=net, roles=MEMBER_ROLES)

    async def join_network(request: Request) -> Response:
        who = signed_in(request, EDITORS)
        if isinstance(who, Response):
            return who
        person, token = who
        net = await network_of(request, token)
        if isinstance(net, Response):
            return net
        ident = net["id"]
        form = Form(
            f"Новый участник сети «{net['name']}»",
            f"/networks/{ident}/members/new",
            [
                Field("organizationId", "Организация", "select", required=True, choices="organizations"),
                Field("role", "Роль в сети", "select", required=True, choices=MEMBER_ROLES),
                Field("joinedOn", "Участвует с", "date", required=True),
                Field("leftOn", "Участвует до", "date", hint="Первый день без участия; пусто — бессрочно"),
            ],
            submit="Добавить в сеть",
            back=(f"/networks/{ident}", net["name"]),
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            return await portal.gateway.ask(
                "JoinNetwork", {"input": {"networkId": ident, **compact(v)}}, token
            )

        return await run(
            request,
            form,
            person,
            token,
            send,
            lambda r, v: (f"/networks/{ident}", f"Участник добавлен в сеть как {MEMBER_ROLES[v['role']]}"),
            defaults={"joinedOn": today(), "role": "partner"},
        )

    async def leave_network(request: Request) -> Response:
        who = signed_in(request, EDITORS)
        if isinstance(who, Response):
            return who
        person, token = who
        net = await network_of(request, token)
        if isinstance(net, Response):
            return net
        ident, membership = net["id"], request.path_params["membership"]
        member = next((m for m in net["members"] if m["id"] == membership), None)
        if member is None:
            return portal.page(request, "error.html", status=404, message="Такого участия в этой сети нет")
        name = (member["organization"] or {}).get("shortName", "участник")
        form = Form(
            f"Исключить из сети «{net['name']}»: {name}",
            f"/networks/{ident}/members/{membership}/leave",
            [Field("leftOn", "Первый день без участия", "date", required=True)],
            submit="Исключить",
            danger=True,
            back=(f"/networks/{ident}/members", "Участники сети"),
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            return await portal.gateway.ask("LeaveNetwork", {"membershipId": membership, **v}, token)

        return await run(
            request,
            form,
            person,
            token,
            send,
            lambda r, v: (f"/networks/{ident}", f"«{name}» выходит из сети с {v['leftOn']}"),
            defaults={"leftOn": today()},
        )

    async def designate_centre(request: Request) -> Response:
        who = signed_in(request, EDITORS)
        if isinstance(who, Response):
            return who
        person, token = who
        net = await network_of(request, token)
        if isinstance(net, Response):
            return net
        ident = net["id"]
        form = Form(
            f"Центр сети «{net['name']}»",
            f"/networks/{ident}/centre/new",
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
            submit="Сделать центром",
            back=(f"/networks/{ident}", net["name"]),
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            return await portal.gateway.ask("DesignateCentre", {"networkId": ident, **v}, token)

        return await run(
            request,
            form,
            person,
            token,
            send,
            lambda r, v: (f"/networks/{ident}", "Центр сети назначен"),
            defaults={"on": today()},
        )

    # agreements, regulations, mobility ------------------------------------------------------

    async def agreements(request: Request) -> Response:
        who = signed_in(request, EDITORS)
        if isinstance(who, Response):
            return who
        _, token = who
        asked = {k: request.query_params.get(k) or None for k in ("organizationId", "networkId")}
        try:
            data = await portal.gateway.run(
                "FormAgreements", {**asked, "first": 50, "after": request.query_params.get("after")}, token
            )
        except GatewayError as exc:
            return portal.failure(request, exc)
        page = data["agreements"]
        query = "&".join(f"{k}={v}" for k, v in asked.items() if v)
        return portal.page(
            request,
            "forms_agreements.html",
            rows=[e["node"] for e in page["edges"]],
            more=page["pageInfo"],
            query=query,
        )

    async def sign_agreement(request: Request) -> Response:
        who = signed_in(request, EDITORS)
        if isinstance(who, Response):
            return who
        person, token = who
        form = Form(
            "Договор о сетевом взаимодействии",
            "/agreements/new",
            [
                Field("number", "Номер договора", required=True),
                Field("signedOn", "Дата подписания", "date", required=True),
                Field("subject", "Предмет договора", "textarea", required=True),
                Field(
                    "partyIds", "Стороны договора", "many", required=True, choices="organizations", slots=4
                ),
                Field("validFrom", "Действует с", "date", required=True),
                Field("validTo", "Действует до", "date", hint="Пусто — бессрочно"),
                Field("networkId", "Сеть", "select", choices="networks"),
            ],
            submit="Записать договор",
            back=("/agreements", "Договоры"),
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            return await portal.gateway.ask("SignAgreement", {"input": compact(v)}, token)

        def finish(r: dict[str, Any], v: dict[str, Any]) -> tuple[str, str]:
            where = (
                f"networkId={v['networkId']}" if v.get("networkId") else f"organizationId={v['partyIds'][0]}"
            )
            return f"/agreements?{where}", f"Договор № {r['number']} записан"

        return await run(
            request, form, person, token, send, finish, defaults={"signedOn": today(), "validFrom": today()}
        )

    async def terminate_agreement(request: Request) -> Response:
        who = signed_in(request, EDITORS)
        if isinstance(who, Response):
            return who
        person, token = who
        ident = request.path_params["id"]
        form = Form(
            "Досрочное расторжение договора",
            f"/agreements/{ident}/terminate",
            [Field("on", "Первый день, когда договор уже не действует", "date", required=True)],
            submit="Расторгнуть",
            danger=True,
            back=("/agreements", "Договоры"),
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            return await portal.gateway.ask("TerminateAgreement", {"agreementId": ident, **v}, token)

        return await run(
            request,
            form,
            person,
            token,
            send,
            lambda r, v: ("/agreements", f"Договор № {r['number']} расторгнут с {v['on']}"),
            defaults={"on": today()},
        )

    async def issue_regulation(request: Request) -> Response:
        who = signed_in(request, EDITORS)
        if isinstance(who, Response):
            return who
        person, token = who
        form = Form(
            "Положение, приказ или другой документ",
            "/regulations/new",
            [
                Field("kind", "Вид документа", "select", required=True, choices=REGULATION_KINDS),
                Field("number", "Номер", required=True),
                Field("issuedOn", "Дата", "date", required=True),
                Field("issuerId", "Кто издал", "select", required=True, choices="organizations"),
                Field("title", "Название", required=True),
                Field("link", "Ссылка на документ", "url"),
                Field("networkId", "Сеть", "select", choices="networks"),
            ],
            submit="Записать документ",
            back=("/changes", "Изменения"),
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            return await portal.gateway.ask("IssueRegulation", {"input": compact(v)}, token)

        def finish(r: dict[str, Any], v: dict[str, Any]) -> tuple[str, str]:
            target = (
                f"/networks/{v['networkId']}" if v.get("networkId") else f"/organizations/{v['issuerId']}"
            )
            return target, f"Документ № {r['number']} записан"

        return await run(request, form, person, token, send, finish, defaults={"issuedOn": today()})

    async def record_mobility(request: Request) -> Response:
        who = signed_in(request, EDITORS)
        if isinstance(who, Response):
            return who
        person, token = who
        form = Form(
            "Мобильность: обучающиеся или педагоги у партнёра",
            "/mobility/new",
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
            submit="Записать",
            back=("/changes", "Изменения"),
        )

        async def send(v: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
            return await portal.gateway.ask("RecordMobility", {"input": compact(v)}, token)

        def finish(r: dict[str, Any], v: dict[str, Any]) -> tuple[str, str]:
            target = (
                f"/networks/{v['networkId']}"
                if v.get("networkId")
                else f"/organizations/{v['homeOrganizationId']}"
            )
            return target, f"Мобильность записана: {MOBILITY_KINDS[v['kind']]}, {v['participants']} чел."

        return await run(
            request, form, person, token, send, finish, defaults={"kind": "students", "startsOn": today()}
        )

    both = ["GET", "POST"]
    return [
        Route("/organizations/new", register_organization, methods=both),
        Route("/organizations/{id}/edit", edit_organization, methods=both),
        Route("/organizations/{id}/archive", archive_organization, methods=both),
        Route("/organizations/{id}/statuses/new", enter_status, methods=both),
        Route("/organizations/{id}/statuses/leave", leave_status, methods=both),
        Route("/organizations/{id}/risks/new", assess_risks, methods=both),
        Route("/organizations/{id}/resources", resources, methods=["GET"]),
        Route("/resources/new", offer_resource, methods=both),
        Route("/resources/{id}/withdraw", withdraw_resource, methods=both),
        Route("/networks/new", create_network, methods=both),
        Route("/networks/{id}/close", close_network, methods=both),
        Route("/networks/{id}/members", members, methods=["GET"]),
        Route("/networks/{id}/members/new", join_network, methods=both),
        Route("/networks/{id}/members/{membership}/leave", leave_network, methods=both),
        Route("/networks/{id}/centre/new", designate_centre, methods=both),
        Route("/agreements", agreements, methods=["GET"]),
        Route("/agreements/new", sign_agreement, methods=both),
        Route("/agreements/{id}/terminate", terminate_agreement, methods=both),
        Route("/regulations/new", issue_regulation, methods=both),
        Route("/mobility/new", record_mobility, methods=both),
    ]
