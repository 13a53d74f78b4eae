"""The workspace's forms, every page's: fields described once, read and checked as typed, sent to
the gateway, and the API's refusals shown where they belong.

A form's inputs are a list of :class:`Field`. A POSTed form is an :class:`Attempt` (which form of
the page, what was entered, what was wrong and the status to answer with): :meth:`Forms.read`
takes it (its CSRF token checked), :meth:`Attempt.read` reads the fields into GraphQL variables —
a field that cannot be read (no date where a date must be) is refused at once, without asking the
API — and :meth:`Forms.run` sends them: the API's refusal (in Russian, with its code and the
input's camelCase name) is put at that input by :func:`settle` (at the input a :attr:`Field.codes`
names, when the API names none; above the form otherwise), a value GraphQL itself could not take
likewise, access refusals and unavailable services above the form; a change
taken goes on with :meth:`Forms.done` (303 and a message on the next page). The values entered are
kept on the attempt, so a refused form shows them again.

A page of one form (the registry's changes) describes it as a :class:`Form` and renders
``forms_form.html``; a page of several forms (a plan, an activity and its attendance sheet, whose
rows are refused one by one) keeps the one :class:`Attempt` and its templates ask it which form was
sent. Not a page module (those live in ``pages/`` and give routes).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .gateway import MESSAGES, GatewayError
from .session import Person
from .web import FormRefused, Portal, russian_date

EDITORS = ("regional_admin", "municipal_coordinator")
"""Who changes the registry's structure, drafts and agrees a network's plans and puts its
activities in the calendar (the API's EDITORS)."""
PARTICIPANTS = (*EDITORS, "school_representative")
"""Who also records what happens at their own school: its details, its resources, hosted
activities, registrations, attendance, feedback."""

REQUIRED = "Заполните это поле"
WHOLE = "_"
"""Where an attempt keeps what is wrong with the form as a whole (shown above it)."""
CHOICE_PAGES = 5
"""The lists of organizations in a form hold at most this many pages of 100 (the person's scope)."""

# --- the person's clock: moments are read from forms, and said, in it ----------------------------

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


def zone_for(region_code: str | None) -> ZoneInfo:
    return ZoneInfo(REGION_ZONES.get(region_code or "", MOSCOW))


def person_zone(person: Person | None) -> ZoneInfo:
    """Times are shown, and read from forms, in the clock of the person's region (Moscow's for a
    visitor or an admin of every region)."""
    return zone_for(person.region_code if person else None)


def moment(value: str | datetime | None) -> datetime | None:
    if not value:
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def clock(value: str | datetime | None, zone: ZoneInfo) -> str:
    """``5 марта 2026, 09:00`` in the zone; ``—`` for nothing."""
    when = moment(value)
    return russian_date(when.astimezone(zone)) if when else "—"


def read_moment(text: str, zone: ZoneInfo) -> datetime:
    """A ``datetime-local`` value (the person's clock) or an ISO moment with its offset."""
    when = datetime.fromisoformat(text.strip())
    return when if when.tzinfo else when.replace(tzinfo=zone)


def number_of(text: str, *, whole: bool = False) -> float | int:
    """A number as people type it (``1 234,5`` or ``1.5``; a whole one fits the API's Int);
    ValueError otherwise."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    if whole:
        if not re.fullmatch(r"[+-]?\d{1,9}", cleaned):
            raise ValueError(text)
        return int(cleaned)
    value = float(cleaned)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


# --- inputs and what was entered -----------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One input: ``name`` is the API's input field (camelCase), so its errors find it."""

    name: str
    label: str = ""
    kind: str = "text"
    """text, textarea, date, moment (``datetime-local`` in the person's clock), int, number, email,
    url, tel, select, many (several selects), words (a list written with commas), hidden"""
    required: bool = False
    choices: str | Mapping[str, str] | None = None
    """The options of a select: fixed (value → title) or the name of a list of the person's scope
    (organizations, municipalities, regions, networks)."""
    hint: str = ""
    slots: int = 0
    """A ``many`` field: how many selects it offers."""
    invalid: str = ""
    """What the person is told when the value is missing (a required one) or cannot be read, in
    place of the general words."""
    codes: tuple[str, ...] = ()
    """The API's validation codes (``ValidationError.code``) that concern this input when the API
    names no input (e.g. a rule about a date that is not the date's own)."""

    def slot_names(self) -> list[str]:
        return [f"{self.name}.{i}" for i in range(1, self.slots + 1)]


def codes_of(fields: Iterable[Field]) -> dict[str, str]:
    """The inputs the API's codes concern when it names no input (see :attr:`Field.codes`)."""
    return {code: f.name for f in fields if f.kind != "hidden" for code in f.codes}


def names(fields: Iterable[Field]) -> tuple[str, ...]:
    """The inputs the person sees (an error the API reports about another goes above the form)."""
    return tuple(f.name for f in fields if f.kind != "hidden")


def read(
    fields: Iterable[Field], form: Mapping[str, str], zone: ZoneInfo | None = None
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
                errors[item.name] = item.invalid or "Выберите хотя бы одну"
            variables[item.name] = chosen
            continue
        raw = form.get(item.name, "")
        raw = raw if item.kind == "textarea" else raw.strip()
        values[item.name] = raw
        if not raw.strip():
            if item.required:
                errors[item.name] = item.invalid or REQUIRED
            variables[item.name] = [] if item.kind == "words" else None
            continue
        try:
            variables[item.name] = _value(item, raw, zone or zone_for(None))
        except ValueError as exc:
            errors[item.name] = item.invalid or str(exc)
    return values, variables, errors


def _value(item: Field, raw: str, zone: ZoneInfo) -> Any:
    if item.kind == "int":
        try:
            return number_of(raw, whole=True)
        except ValueError:
            raise ValueError("Введите целое число") from None
    if item.kind == "number":
        try:
            return float(number_of(raw))
        except ValueError:
            raise ValueError("Введите число, например 2,5") from None
    if item.kind == "date":
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            raise ValueError("Введите дату в виде ГГГГ-ММ-ДД") from None
    if item.kind == "moment":
        try:
            return read_moment(raw, zone).isoformat()
        except ValueError:
            raise ValueError("Введите дату и время") from None
    if item.kind == "select" and isinstance(item.choices, Mapping) and raw not in item.choices:
        raise ValueError("Выберите из списка")
    if item.kind == "words":
        return [w.strip() for w in raw.split(",") if w.strip()]
    return raw


@dataclass
class Attempt:
    """A form that was sent (or, with status 200, none yet): which form of the page, what was
    entered (as sent; on a page of one form, what it shows), the errors by input (``WHOLE``: about
    the form as a whole), and the page's status."""

    form: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    status: int = 400
    note: str | None = None
    """What was done all the same (e.g. the rows of a sheet that were recorded)."""

    def refuse(self, name: str, message: str, status: int | None = None) -> None:
        """Note what is wrong at input ``name`` (the first word on an input stays)."""
        self.errors.setdefault(name, message)
        if status is not None:
            self.status = status

    def read(self, fields: Iterable[Field], zone: ZoneInfo | None = None) -> dict[str, Any]:
        """The fields' GraphQL values; those that cannot be read are refused at their input."""
        _, variables, errors = read(fields, self.values, zone)
        for name, message in errors.items():
            self.refuse(name, message)
        return variables


def no_attempt() -> Attempt:
    return Attempt(status=200)


@dataclass
class Form:
    """A page of one form, drawn from its fields by ``forms_form.html``."""

    title: str
    action: str
    fields: list[Field]
    submit: str = "Сохранить"
    intro: str | None = None
    back: tuple[str, str] | None = None
    """(href, title) of the thing the form changes."""
    choices: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    danger: bool = False
    """A form that ends something (archive, close, withdraw): its button says so."""
    attempt: Attempt = field(default_factory=no_attempt)

    @property
    def values(self) -> dict[str, Any]:
        shown = dict(self.attempt.values)
        for item in self.fields:
            if item.kind == "many" and not isinstance(shown.get(item.name), list):
                shown[item.name] = [shown.get(name, "") for name in item.slot_names()]
        return shown

    @property
    def errors(self) -> dict[str, str]:
        return {name: message for name, message in self.attempt.errors.items() if name != WHOLE}

    @property
    def problem(self) -> str | None:
        return self.attempt.errors.get(WHOLE)

    def options(self, item: Field) -> list[tuple[str, str]]:
        if isinstance(item.choices, Mapping):
            return list(item.choices.items())
        return self.choices.get(item.choices or "", [])


# --- where the API's refusal belongs -------------------------------------------------------------

COERCION = re.compile(r"(?:invalid value|got invalid value .*?) at '?\.?([A-Za-z0-9_.\[\]]+)'?")
"""A value GraphQL itself could not take: ``Variable '$i' has invalid value at .startsOn: …``."""
MISSING = re.compile(r"Field '([A-Za-z0-9_]+)' of required type '[^']+' was not provided")
TYPE_WORDS = (
    ("DateTime", "Введите дату и время"),
    ("Date", "Введите дату в виде ГГГГ-ММ-ДД"),
    ("Int", "Введите целое число"),
    ("Float", "Введите число, например 2,5"),
    ("Boolean", "Выберите да или нет"),
    ("ID", "Выберите из списка"),
)
"""What a person is told of a value GraphQL could not take (its words are for programmers)."""


def input_of(path: str | None, visible: Iterable[str]) -> str | None:
    """The form's input an API's field path names (``name``, ``input.name``, ``posts.0.position``
    or ``.startsOn``): the whole path if the form has it, else its last name, else its first;
    None when the form has none of them."""
    if not path:
        return None
    shown = set(visible)
    parts = [p for p in re.split(r"[.\[\]]+", path) if p and not p.isdigit()]
    if parts and parts[0] == "input":
        parts = parts[1:]
    for name in (".".join(parts), *parts[-1:], *parts[:1]):
        if name in shown:
            return name
    return None


def coercion_message(text: str) -> str:
    """A GraphQL coercion error in Russian, by the type it names."""
    for word, said in TYPE_WORDS:
        if re.search(rf"\b{word}\b", text):
            return said
    return "Значение не подходит: проверьте его"


def settle(
    attempt: Attempt,
    data: Any,
    errors: list[dict[str, Any]],
    *,
    inputs: Iterable[str] = (),
    at: str | None = None,
    codes: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """The mutation's result, or None with the API's refusal put on ``attempt``.

    The services answer in Russian with a stable code and, where one is at fault, the input's
    name: a ``ValidationError`` in the result (``field``, ``code``) or a query's error
    (``extensions.field``, ``extensions.validationCode``). The message goes to the input the field
    names if the form has it (``inputs``), or to the input ``codes`` gives for the code when no
    field is named; else above the form. A value GraphQL itself could not take goes to its input
    in plain words; access refusals and failures above the form; every refusal goes to input
    ``at`` if one is given (a row of a sheet)."""
    visible = {*inputs, *([at] if at else [])}
    by_code = codes or {}

    def place(field: str | None, code: str | None, message: str, status: int | None = None) -> None:
        where = at or input_of(field, visible) or (by_code.get(code or "") if not field else None)
        attempt.refuse(where or WHOLE, message, status)

    if errors:
        error = errors[0]
        extensions = error.get("extensions") or {}
        code = extensions.get("code")
        text = str(error.get("message") or "")
        if code in MESSAGES:
            attempt.refuse(at or WHOLE, *MESSAGES[code])
        elif extensions.get("validationCode"):
            place(extensions.get("field"), extensions["validationCode"], text, 400)
        elif code is None and (found := COERCION.search(text) or MISSING.search(text)):
            missing = found.re is MISSING
            place(found[1], None, REQUIRED if missing else coercion_message(text), 400)
        elif code in (None, "BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"):
            attempt.refuse(at or WHOLE, "Setka не приняла эти данные; проверьте форму", 400)
        else:
            attempt.refuse(at or WHOLE, f"Ошибка: {text}", 502)
        return None
    result = next(iter(data.values()), None) if isinstance(data, dict) else None
    if not isinstance(result, dict):
        attempt.refuse(at or WHOLE, "Setka ответила непонятно", 502)
        return None
    if result.get("__typename") == "ValidationError":
        place(result.get("field"), result.get("code"), result["message"])
        return None
    return result


# --- the pages' side -----------------------------------------------------------------------------


class Forms:
    """A portal's forms taken: read (CSRF checked), run against the gateway with the refusal put on
    the attempt, and the page after. ``context`` adds to every page this draws (the pages of one
    family: their clock and names)."""

    def __init__(self, portal: Portal, context: Callable[[Request], Mapping[str, Any]] | None = None) -> None:
        self.portal = portal
        self.context = context

    async def read(self, request: Request, form: str = "") -> Attempt | Response:
        """The POSTed form; a form that is not taken (an old page, a forged form) is answered."""
        try:
            return Attempt(form=form, values=await self.portal.form(request))
        except FormRefused as exc:
            return self.portal.page(request, "error.html", status=400, message=str(exc))

    async def run(
        self,
        request: Request,
        attempt: Attempt,
        name: str,
        variables: dict[str, Any],
        *,
        inputs: Iterable[str] = (),
        at: str | None = None,
        codes: Mapping[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Operation ``name``'s result, or None with the refusal noted (see :func:`settle`)."""
        try:
            data, errors = await self.portal.gateway.ask(name, variables, self.portal.token(request))
        except GatewayError as exc:
            attempt.refuse(at or WHOLE, exc.message, exc.status)
            return None
        return settle(attempt, data, errors, inputs=inputs, at=at, codes=codes)

    async def take(
        self,
        request: Request,
        form: str | Attempt,
        fields: Iterable[Field],
        name: str,
        variables: Callable[[dict[str, Any]], dict[str, Any] | None],
        *,
        again: Callable[[Request, Attempt], Awaitable[Response]],
        then: Callable[[Any, dict[str, Any]], tuple[str, str]],
        zone: ZoneInfo | None = None,
    ) -> Response:
        """Take a form (by its name: read from the POST): read its ``fields``, run operation
        ``name`` with ``variables`` of their values (None: nothing to change, nothing sent) and go
        where ``then`` (given the result and the values) says, with its message; a form refused
        (here or by the API) is shown ``again`` with what was entered."""
        attempt = await self.read(request, form) if isinstance(form, str) else form
        if isinstance(attempt, Response):
            return attempt
        fields = list(fields)
        values = attempt.read(fields, zone)
        result = None
        if not attempt.errors and (sent := variables(values)) is not None:
            result = await self.run(
                request, attempt, name, sent, inputs=names(fields), codes=codes_of(fields)
            )
        if attempt.errors:
            return await again(request, attempt)
        target, message = then(result, values)
        return self.done(request, target, message)

    def done(self, request: Request, target: str, message: str) -> Response:
        """After a change: to the changed thing (303), with a message on the next page."""
        session = self.portal.sessions.ensure(request)
        session.flash = message
        return self.portal.sessions.keep(RedirectResponse(target, 303), session)

    def page(
        self, request: Request, template: str, attempt: Attempt, status: int | None = None, **values: Any
    ) -> Response:
        """A page with its forms, the one that was sent shown as refused."""
        extra = self.context(request) if self.context else {}
        return self.portal.page(
            request, template, status=status or attempt.status, attempt=attempt, **extra, **values
        )

    def show(self, request: Request, form: Form) -> Response:
        """A page of one form."""
        return self.page(request, "forms_form.html", form.attempt, form=form)


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


def signed_in(portal: Portal, request: Request, roles: Iterable[str]) -> tuple[Person, str] | Response:
    """The person and their token, when they hold one of ``roles``; else the refusal."""
    person, token = portal.person(request), portal.token(request)
    if person is None or token is None or not person.has(*roles):
        return refused(portal, request, person)
    return person, token


async def found(
    portal: Portal, request: Request, asking: Awaitable[Any], root: str, missing: str
) -> dict[str, Any] | Response:
    """The thing a page (or its form) is about, ``asking``'s ``root``; or the page that says why
    not (the gateway's refusal, or 404 with ``missing``)."""
    try:
        data = await asking
    except GatewayError as exc:
        return portal.failure(request, exc)
    if data[root] is None:
        return portal.page(request, "error.html", status=404, message=missing)
    return data[root]


# --- the lists to choose from --------------------------------------------------------------------


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


def needs_choices(fields: Iterable[Field]) -> bool:
    return any(isinstance(f.choices, str) for f in fields)
