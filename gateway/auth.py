"""Who is asking: JWT bearer tokens with roles; no token means an anonymous viewer."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jwt
from strawberry.permission import BasePermission
from strawberry.types import Info

from .settings import GatewaySettings


class Role(StrEnum):
    regional_admin = "regional_admin"
    municipal_coordinator = "municipal_coordinator"
    school_representative = "school_representative"
    expert = "expert"
    viewer = "viewer"


EDITORS = frozenset({Role.regional_admin, Role.municipal_coordinator})


@dataclass(frozen=True)
class Viewer:
    subject: str | None = None
    roles: frozenset[Role] = field(default_factory=frozenset)
    organization_id: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.subject is not None


ANONYMOUS = Viewer()


class AuthError(Exception):
    pass


def issue_token(
    settings: GatewaySettings,
    *,
    subject: str,
    roles: list[str],
    organization_id: str | None = None,
    ttl_seconds: int = 12 * 3600,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "roles": roles,
        "iss": settings.jwt_issuer,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if organization_id:
        claims["org"] = organization_id
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=settings.jwt_algorithm)


def viewer_from_header(settings: GatewaySettings, authorization: str | None) -> Viewer:
    if not authorization:
        return ANONYMOUS
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("Authorization must be 'Bearer <token>'")
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[settings.jwt_algorithm],
            issuer=settings.jwt_issuer,
            options={"require": ["sub", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {exc}") from exc
    roles = frozenset(Role(r) for r in claims.get("roles", []) if r in Role.__members__)
    return Viewer(subject=str(claims["sub"]), roles=roles, organization_id=claims.get("org"))


class CanEdit(BasePermission):
    message = "This needs the role of a regional admin or a municipal coordinator"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer: Viewer = info.context["viewer"]
        return bool(viewer.roles & EDITORS)


class IsAuthenticated(BasePermission):
    message = "Sign in to see this"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context["viewer"].authenticated
