"""Signing in and out: with the OpenID provider, or (development on loopback) as a demo person."""

from __future__ import annotations

import time
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..gateway import GatewayError
from ..oidc import SignInError, person_of
from ..web import FormRefused, Portal

DEMO_HOURS = 8


def _local_path(value: str | None) -> str:
    """Where to return after signing in: a path of this site only."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def routes(portal: Portal) -> list[Route]:
    oidc = portal.oidc

    async def sign_in(request: Request) -> Response:
        back_to = _local_path(request.query_params.get("next"))
        if oidc is not None and request.query_params.get("demo") is None:
            session = portal.sessions.ensure(request)
            try:
                target = await oidc.start(session.pending, back_to)
            except SignInError as exc:
                return portal.page(request, "error.html", status=503, message=str(exc))
            return portal.sessions.keep(RedirectResponse(target, 303), session)
        if not portal.settings.demo:
            return portal.page(
                request,
                "error.html",
                status=503,
                message="Вход не настроен: укажите сервер OpenID (PORTAL_OIDC_*)",
            )
        try:
            people = await demo_people(portal)
        except GatewayError as exc:
            return portal.failure(request, exc)
        return portal.page(request, "sign_in.html", people=people, back_to=back_to, oidc=oidc is not None)

    async def callback(request: Request) -> Response:
        if oidc is None:
            return RedirectResponse("/", 303)
        session = portal.sessions.ensure(request)
        try:
            tokens, person = await oidc.finish(session.pending, dict(request.query_params))
        except SignInError as exc:
            session.pending.clear()
            return portal.page(request, "error.html", status=400, message=str(exc))
        back_to = session.pending.get("back_to", "/")
        session.pending.clear()
        portal.sessions.renew(session)
        session.person, session.access_token = person, tokens["access_token"]
        session.id_token = tokens.get("id_token")
        session.token_expires = time.time() + float(tokens.get("expires_in") or 300)
        session.flash = f"Вы вошли как {person.name} ({person.role_title})"
        return portal.sessions.keep(RedirectResponse(back_to, 303), session)

    async def sign_in_demo(request: Request) -> Response:
        if not portal.settings.demo:
            return portal.page(request, "error.html", status=403, message="Демо-вход выключен")
        try:
            form = await portal.form(request)
        except FormRefused as exc:
            return portal.page(request, "error.html", status=400, message=str(exc))
        people = {p["key"]: p for p in await demo_people(portal)}
        chosen = people.get(form.get("person", ""))
        if chosen is None:
            return portal.page(request, "error.html", status=400, message="Нет такого демо-пользователя")
        token = demo_token(portal, chosen)
        session = portal.sessions.renew(portal.sessions.ensure(request))
        session.person = person_of(
            jwt.decode(token, options={"verify_signature": False}), {"name": chosen["name"]}
        )
        session.access_token, session.token_expires = token, time.time() + DEMO_HOURS * 3600
        session.flash = f"Вы вошли как {chosen['name']}"
        return portal.sessions.keep(RedirectResponse(_local_path(form.get("next")), 303), session)

    async def sign_out(request: Request) -> Response:
        try:
            await portal.form(request)
        except FormRefused as exc:
            return portal.page(request, "error.html", status=400, message=str(exc))
        session = portal.session(request)
        target = "/"
        if session is not None:
            if oidc is not None and session.id_token:
                target = await oidc.end_session_url(session.id_token) or "/"
            portal.sessions.drop(session)
        response = RedirectResponse(target, 303)
        return portal.sessions.keep(response, None)

    return [
        Route("/sign-in", sign_in, methods=["GET"]),
        Route("/sign-in/demo", sign_in_demo, methods=["POST"]),
        Route("/auth/callback", callback, methods=["GET"]),
        Route("/sign-out", sign_out, methods=["POST"]),
    ]


async def demo_people(portal: Portal) -> list[dict[str, Any]]:
    """One demo person of each role and scope, from the demo data (region 39)."""
    data = await portal.gateway.run("DemoPeople")
    networks = [e["node"] for e in data["networks"]["edges"]]
    municipal = next((n for n in networks if n["municipalityId"] and n["members"]), None)
    school = municipal["members"][0]["organization"] if municipal else None
    people: list[dict[str, Any]] = [
        {"key": "admin", "name": "Администратор региона 39", "roles": ["regional_admin"], "region": "39"},
        {"key": "expert", "name": "Методист КРИПКРО (регион 39)", "roles": ["expert"], "region": "39"},
        {"key": "viewer", "name": "Наблюдатель (регион 39)", "roles": ["viewer"], "region": "39"},
    ]
    if municipal:
        people.insert(
            1,
            {
                "key": "coordinator",
                "name": "Координатор муниципальной сети",
                "roles": ["municipal_coordinator"],
                "region": "39",
                "municipality": municipal["municipalityId"],
            },
        )
    if school:
        people.insert(
            2,
            {
                "key": "school",
                "name": f"Представитель школы «{school['shortName']}»",
                "roles": ["school_representative"],
                "region": "39",
                "org": school["id"],
            },
        )
    return people


def demo_token(portal: Portal, chosen: dict[str, Any]) -> str:
    """A token as the gateway's development setup accepts it (HS256, its development secret)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": f"demo-{chosen['key']}",
        "iss": "setka",
        "iat": now,
        "exp": now + DEMO_HOURS * 3600,
        "roles": chosen["roles"],
        "scope": " ".join(chosen["roles"]),
        "name": chosen["name"],
    }
    for claim in ("region", "municipality", "org"):
        if chosen.get(claim):
            claims[claim] = chosen[claim]
    return jwt.encode(claims, portal.settings.demo_jwt_secret.get_secret_value(), algorithm="HS256")
