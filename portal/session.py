"""Sessions kept on the server: the browser holds only a random id in an HttpOnly, SameSite cookie.

A session holds the person's tokens (never sent to the browser), what the workspace shows of them
(name, roles, scope), the form token every POST must carry back (CSRF), and, while a sign-in is
under way, its state, nonce and PKCE verifier. Sessions live in this process: a restart signs
everyone out, and several replicas need sticky sessions.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "setka_session"
MAX_SESSIONS = 50_000


@dataclass
class Person:
    """Who is signed in, as the workspace shows it and decides what to offer (the gateway decides
    what is allowed)."""

    subject: str
    name: str
    roles: frozenset[str]
    region_code: str | None = None
    municipality_id: str | None = None
    organization_id: str | None = None

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def role_title(self) -> str:
        for role in ROLE_ORDER:
            if role in self.roles:
                return ROLE_TITLES[role]
        return "без роли"


ROLE_ORDER = ("regional_admin", "municipal_coordinator", "school_representative", "expert", "viewer")
ROLE_TITLES = {
    "regional_admin": "региональный администратор",
    "municipal_coordinator": "муниципальный координатор",
    "school_representative": "представитель школы",
    "expert": "методист (эксперт)",
    "viewer": "наблюдатель",
}


@dataclass
class Session:
    id: str
    csrf: str
    expires: float
    person: Person | None = None
    access_token: str | None = None
    id_token: str | None = None
    token_expires: float | None = None
    pending: dict[str, Any] = field(default_factory=dict)
    """A sign-in under way: state, nonce, PKCE verifier, where to return."""
    flash: str | None = None


class Sessions:
    def __init__(self, *, lifetime_seconds: float, secure: bool) -> None:
        self.lifetime = lifetime_seconds
        self.secure = secure
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def get(self, request: Request) -> Session | None:
        sid = request.cookies.get(COOKIE)
        session = self._sessions.get(sid) if sid else None
        now = time.time()
        if session is None or session.expires < now:
            if sid:
                self._sessions.pop(sid, None)
            return None
        if session.token_expires is not None and session.token_expires < now:
            session.person, session.access_token = None, None  # signed out when the token ends
        session.expires = now + self.lifetime
        self._sessions.move_to_end(sid)  # type: ignore[arg-type]
        return session

    def ensure(self, request: Request) -> Session:
        """The request's session, or a new one (its cookie set by :meth:`keep`)."""
        session = self.get(request)
        if session is None:
            session = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), expires=0)
            session.expires = time.time() + self.lifetime
            self._sessions[session.id] = session
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        request.state.session = session
        return session

    def renew(self, session: Session) -> Session:
        """The same session under a new id (after signing in: the old id may have been seen)."""
        self._sessions.pop(session.id, None)
        session.id = secrets.token_urlsafe(32)
        session.csrf = secrets.token_urlsafe(32)
        self._sessions[session.id] = session
        return session

    def drop(self, session: Session) -> None:
        self._sessions.pop(session.id, None)

    def keep(self, response: Response, session: Session | None) -> Response:
        if session is None or session.id not in self._sessions:
            response.delete_cookie(COOKIE, path="/")
        else:
            response.set_cookie(
                COOKIE,
                session.id,
                max_age=int(self.lifetime),
                path="/",
                httponly=True,
                samesite="lax",
                secure=self.secure,
            )
        return response
