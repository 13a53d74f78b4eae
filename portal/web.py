"""What every page shares: the templates, the person and the session, the CSRF check, errors."""

from __future__ import annotations

import email.parser
import email.policy
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from .gateway import Gateway, GatewayError
from .oidc import OpenIdClient
from .session import Person, Session, Sessions
from .settings import PortalSettings

TEMPLATES = Path(__file__).parent / "templates"
MAX_FORM_BYTES = 1_048_576

MONTHS = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip


def russian_date(value: Any) -> str:
    """``5 марта 2026`` for a date, a datetime or an ISO text; ``—`` for nothing."""
    if not value:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return f"{value.day} {MONTHS[value.month - 1]} {value.year}, {value:%H:%M}"
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def number(value: Any, digits: int = 1) -> str:
    """A figure as Russians write it: ``1 234,5``; ``—`` for none."""
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
    return text.replace(",", " ").replace(".", ",")


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["date"] = russian_date
environment.filters["number"] = number


@dataclass
class Portal:
    """What the pages are given: the settings, the gateway, the sessions, the OpenID client (None
    without a provider) and the sections of the menu (each page module's ``NAV``)."""

    settings: PortalSettings
    gateway: Gateway
    sessions: Sessions
    oidc: OpenIdClient | None = None
    nav: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    """(path, title, roles that see it; none: everyone)."""

    def session(self, request: Request) -> Session | None:
        return self.sessions.get(request)

    def person(self, request: Request) -> Person | None:
        session = self.session(request)
        return session.person if session else None

    def token(self, request: Request) -> str | None:
        session = self.session(request)
        return session.access_token if session and session.person else None

    def page(self, request: Request, template: str, status: int = 200, **values: Any) -> Response:
        session = self.sessions.ensure(request)  # forms on every page carry its CSRF token
        flash, session.flash = session.flash, None
        html = environment.get_template(template).render(
            request=request,
            person=session.person,
            csrf=session.csrf,
            flash=flash,
            demo=self.settings.demo,
            path=request.url.path,
            nav=[
                (href, title)
                for href, title, roles in self.nav
                if not roles or (session.person is not None and session.person.has(*roles))
            ],
            **values,
        )
        response = HTMLResponse(html, status)
        response.headers["cache-control"] = "no-store"
        return self.sessions.keep(response, session)

    def failure(self, request: Request, error: GatewayError) -> Response:
        return self.page(request, "error.html", status=error.status, message=error.message, code=error.code)

    async def form(self, request: Request) -> dict[str, str]:
        """A POSTed form (``application/x-www-form-urlencoded``), its CSRF token checked."""
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise FormRefused("Форма слишком большая")
        fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        self.check_csrf(request, fields.pop("csrf", ""))
        return fields

    async def upload(
        self, request: Request, *, max_file_bytes: int
    ) -> tuple[dict[str, str], dict[str, Upload]]:
        """A POSTed form with files (``multipart/form-data``): its fields and its files by name,
        the CSRF token checked; a body larger than ``max_file_bytes`` and the fields is refused
        while it is read."""
        kind = request.headers.get("content-type", "")
        if not kind.lower().startswith("multipart/form-data"):
            raise FormRefused("Отправьте форму с файлом заново со страницы загрузки")
        limit = max_file_bytes + MAX_FORM_BYTES
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FileTooLarge(max_file_bytes)
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise FileTooLarge(max_file_bytes)
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + kind.encode("latin-1", "replace") + b"\r\n\r\n" + bytes(body)
        )
        if not message.is_multipart():
            raise FormRefused("Отправьте форму с файлом заново со страницы загрузки")
        fields: dict[str, str] = {}
        files: dict[str, Upload] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            content = part.get_payload(decode=True)
            data = content if isinstance(content, bytes) else b""
            filename = part.get_filename()
            if filename is not None:
                if len(data) > max_file_bytes:
                    raise FileTooLarge(max_file_bytes)
                files[name] = Upload(filename=filename, content=data)
            else:
                fields[name] = data.decode(part.get_content_charset() or "utf-8", "replace")
        self.check_csrf(request, fields.pop("csrf", ""))
        return fields, files

    def check_csrf(self, request: Request, sent: str) -> None:
        """:class:`FormRefused` unless ``sent`` is the session's CSRF token."""
        session = self.session(request)
        if session is None or not secrets.compare_digest(sent, session.csrf):
            raise FormRefused("Страница устарела: откройте её снова и повторите действие")


@dataclass(frozen=True)
class Upload:
    """A file sent with a form: the name the person's computer gave it, and its bytes."""

    filename: str
    content: bytes


class FormRefused(Exception):
    """A POST that is not taken (an old page, a forged form)."""


class FileTooLarge(FormRefused):
    """A file larger than a form takes."""

    def __init__(self, limit: int) -> None:
        megabytes = f"{limit / 1_000_000:.1f}".rstrip("0").rstrip(".").replace(".", ",")
        super().__init__(f"Файл больше допустимых {megabytes} МБ: разделите его на части")
        self.limit = limit


Handler = Callable[[Portal, Request], Awaitable[Response]]
