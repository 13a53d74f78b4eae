"""The workspace's forms: fields described once, read and checked as typed, sent to the gateway,
and the API's refusals shown where they belong.

A form is a list of :class:`Field`; each page builds a :class:`Form` for one request (its title,
where it posts, the values shown) and renders ``forms_form.html``. What the person typed is read
by :func:`read` into GraphQL variables: a field that cannot be read (no date where a date must be)
is answered at once, without asking the API; everything else is the API's to judge, and its
``ValidationError`` (its ``field`` is the input's camelCase name) is shown next to that input with
the entered values kept (:func:`refusal`). Access refusals and unavailable services are the page's
own message above the form.

Not a page module (those live in ``pages/`` and give routes): the form pages
(:mod:`.pages.registry_forms`, :mod:`.pages.admin`) use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .gateway import MESSAGES
from .session import Person
from .web import Portal

EDITORS = ("regional_admin", "municipal_coordinator")
"""Who changes the registry's structure (the API's EDITORS)."""
PARTICIPANTS = (*EDITORS, "school_representative")
"""Who also records what happens at their own school: its details, its resources."""

REQUIRED = "Заполните это поле"
CHOICE_PAGES = 5
"""The lists of organizations in a form hold at most this many pages of 100 (the person's scope)."""


@dataclass(frozen=True)
class Field:
    """One input: ``name`` is the API's input field (camelCase), so its errors find it."""

    name: str
    label: str
    kind: str = "text"
    """text, textarea, date, int, number, email, url, tel, select, many (several selects), words
    (a list written with commas), hidden"""
    required: bool = False
    choices: str | Mapping[str, str] | None = None
    """The options of a select: fixed (value → title) or the name of a list of the person's scope
    (organizations, municipalities, regions, networks)."""
    hint: str = ""
    slots: int = 0
    """A ``many`` field: how many selects it offers."""

    def slot_names(self) -> list[str]:
        return [f"{self.name}.{i}" for i in range(1, self.slots + 1)]


@dataclass
class Form:
    title: str
    action: str
    fields: list[Field]
    submit: str = "Сохранить"
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    intro: str | None = None
    back: tuple[str, str] | None = None
    """(href, title) of the thing the form changes."""
    choices: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    danger: bool = False
    """A form that ends something (archive, close, withdraw): its button says so."""

    def options(self, item: Field) -> list[tuple[str, str]]:
        if isinstance(item.choices, Mapping):
            return list(item.choices.items())
        return self.choices.get(item.choices or "", [])


def read(
    fields: list[Field], form: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """What was entered (to show again), the GraphQL values (``None`` for a blank) and the fields
    that could not be read, with why."""
    values: dict[str, Any] = {}
    variables: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for item in fields:
        if item.kind == "many":
            picked = [form.get(name, "").strip() for name in item.slot_names()]
            values[item.name] = picked
            chosen = list(dict.fromkeys(p for p in picked if p))
            if item.required and not chosen:
                errors[item.name] = "Выберите хотя бы одну"
            variables[item.name] = chosen
            continue
        raw = form.get(item.name, "")
        raw = raw if item.kind == "textarea" else raw.strip()
        values[item.name] = raw
        if not raw.strip():
            if item.required:
                errors[item.name] = REQUIRED
            variables[item.name] = [] if item.kind == "words" else None
            continue
        try:
            variables[item.name] = _value(item, raw)
        except ValueError as exc:
            errors[item.name] = str(exc)
    return values, variables, errors


def _value(item: Field, raw: str) -> Any:
    if item.kind == "int":
        if not re.fullmatch(r"[+-]?\d{1,9}", raw):
            raise ValueError("Введите целое число")
        return int(raw)
    if item.kind == "number":
        try:
            return float(raw.replace(",", ".").replace(" ", ""))
        except ValueError:
            raise ValueError("Введите число, например 2,5") from None
    if item.kind == "date":
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            raise ValueError("Введите дату в виде ГГГГ-ММ-ДД") from None
    if item.kind == "select" and isinstance(item.choices, Mapping) and raw not in item.choices:
        raise ValueError("Выберите из списка")
    if item.kind == "words":
        return [w.strip() for w in raw.split(",") if w.strip()]
    return raw


def refusal(form: Form, errors: list[dict[str, Any]], result: Any) -> int | None:
    """Put the API's refusal on ``form`` (at its field, else above the form); the status to answer
    with, or None when the API took the change."""
    if errors:
        error = errors[0]
        code = (error.get("extensions") or {}).get("code")
        if code in MESSAGES:
            form.problem, status = MESSAGES[code]
            return status
        text = str(error.get("message") or "")
        # a value GraphQL itself could not take: "... has invalid value at .participants: ..."
        where = re.search(r"at '?\.?(?:input\.)?([A-Za-z]+)", text)
        names = {f.name for f in form.fields if f.kind != "hidden"}
        if where and where.group(1) in names:
            form.errors[where.group(1)] = text
        else:
            form.problem = (
                f"Неверные данные: {text}" if code in (None, "BAD_USER_INPUT") else f"Ошибка: {text}"
            )
        return 400 if code in (None, "BAD_USER_INPUT") else 502
    if not isinstance(result, dict):
        form.problem = "Setka ответила непонятно"
        return 502
    if result.get("__typename") == "ValidationError":
        at = result.get("field")
        visible = {f.name for f in form.fields if f.kind != "hidden"}
        if at in visible:
            form.errors[at] = result["message"]
        else:
            form.problem = result["message"]
        return 400
    return None


def show(portal: Portal, request: Request, form: Form, status: int = 200) -> Response:
    return portal.page(request, "forms_form.html", status=status, form=form)


def done(portal: Portal, request: Request, target: str, message: str) -> Response:
    """After a change: to the changed thing (303), with a message on the next page."""
    session = portal.session(request)
    if session is not None:
        session.flash = message
    return portal.sessions.keep(RedirectResponse(target, 303), session)


def refused(portal: Portal, request: Request, person: Person | None) -> Response:
    """The answer to a person who may not use a form (it is not offered to them)."""
    if person is None:
        return portal.page(
            request,
            "error.html",
            status=401,
            message="Войдите, чтобы вносить изменения",
            code="UNAUTHENTICATED",
        )
    return portal.page(
        request, "error.html", status=403, message="Это вне ваших полномочий", code="FORBIDDEN"
    )


def scope_filters(person: Person) -> dict[str, Any]:
    """The region and municipality a person's lists are of (an admin of every region: all)."""
    region = person.region_code if person.region_code and person.region_code != "*" else None
    municipality = person.municipality_id if person.has("municipal_coordinator") else None
    if person.has("regional_admin"):
        municipality = None
    return {"regionCode": region, "municipalityId": municipality}


async def choices(portal: Portal, person: Person, token: str | None) -> dict[str, list[tuple[str, str]]]:
    """The person's lists to choose from: organizations (at most CHOICE_PAGES pages), regions,
    municipalities, networks; a school's representative chooses only their own school."""
    scope = scope_filters(person)
    organizations: list[tuple[str, str]] = []
    after = None
    data: dict[str, Any] = {}
    for _ in range(CHOICE_PAGES):
        data = await portal.gateway.run("FormChoices", {**scope, "first": 100, "after": after}, token)
        page = data["organizations"]
        for edge in page["edges"]:
            node = edge["node"]
            where = f", {node['municipality']}" if node["municipality"] else ""
            organizations.append((node["id"], f"{node['shortName']}{where}"))
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    if not person.has(*EDITORS):
        organizations = [o for o in organizations if o[0] == person.organization_id]
    municipalities = [(m["id"], m["name"]) for m in data["municipalities"]]
    networks = [(e["node"]["id"], e["node"]["name"]) for e in data["networks"]["edges"]]
    if scope["municipalityId"]:
        municipalities = [m for m in municipalities if m[0] == scope["municipalityId"]]
        networks = [
            (e["node"]["id"], e["node"]["name"])
            for e in data["networks"]["edges"]
            if e["node"]["municipalityId"] in (None, scope["municipalityId"])
        ]
    regions = [(r["code"], f"{r['code']} {r['name']}") for r in data["regions"]]
    if scope["regionCode"]:
        regions = [r for r in regions if r[0] == scope["regionCode"]]
    return {
        "organizations": organizations,
        "municipalities": municipalities,
        "regions": regions,
        "networks": networks,
    }


def needs_choices(fields: list[Field]) -> bool:
    return any(isinstance(f.choices, str) for f in fields)
